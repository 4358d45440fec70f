import math

import numpy as np
import pytest
import torch

from decoreg.causal_lm.grid_values import grid_range
from decoreg.causal_lm.heads import HeadSpec
from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.objectives import HeadRegression, LearnableRaft, MinimumBayesRisk, Raft
from decoreg.causal_lm.objectives.mbr import expected_squared_error
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.conftest import tiny_llama
from tests.conftest import tiny_lm_estimator as tiny_estimator
from tests.fakes import fixed_regressor

TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(16)]
TARGETS = np.array([4.0 if i % 2 else 2.0 for i in range(16)])


def tiny_with_head(tokenizer, kind, grid=(1.0, 2.0, 3.0, 4.0, 5.0), decimals=0, **head):
    spec = CausalLMSpec(
        base_model="tiny",
        template="Q: {text}\nA: ",
        decimals=decimals,
        grid=grid,
        head=HeadSpec(kind=kind, **head),
    )
    return CausalLMRegressor(tiny_llama(len(tokenizer), seed=1), tokenizer, spec)


@pytest.mark.parametrize("kind", ["token", "mean", "mlp", "learnable-grid", "learnable-vocab"])
def test_each_head_gives_a_finite_loss_whose_gradient_reaches_the_base_model(tokenizer, kind):
    model = tiny_with_head(tokenizer, kind)
    batch = model.make_batch(model.prepare_inputs(TEXTS[:4]), TARGETS[:4])
    loss, metrics = HeadRegression()(model, batch)
    assert math.isfinite(loss.item()) and metrics["loss"] == pytest.approx(loss.item())
    loss.backward()
    for name, parameter in model.named_parameters():
        if name.startswith("lm.model.layers.0.") or name.startswith("head."):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_token_head_reads_the_special_tokens_logit_plus_a_bias(tokenizer):
    model = tiny_with_head(tokenizer, "token", special_token="#")
    with torch.no_grad():
        model.head.bias.fill_(0.5)
        prompts = model.prepare_inputs(TEXTS[:3])
        logits = model.forward_logits(prompts, keep_last=1)[:, -1]
        expected = 0.5 + logits[:, tokenizer.convert_tokens_to_ids("#")]
        torch.testing.assert_close(model.predict_head(prompts), expected)


def test_special_token_the_tokenizer_lacks_is_named(tokenizer):
    with pytest.raises(ConfigError, match=r"special_token '<reg>' is not a token"):
        tiny_with_head(tokenizer, "token", special_token="<reg>")


def test_learnable_raft_at_initialization_equals_raft(tokenizer):
    """Grid head: sum_g p(g) w_g with w = g is RAFT's unnormalized mean. Vocab head: w_v = 0
    off the grid's tokens, so the off-grid mass adds nothing: the same number again."""
    raft_model = tiny_with_head(tokenizer, "learnable-grid")
    batch = raft_model.make_batch(raft_model.prepare_inputs(TEXTS[:4]), TARGETS[:4])
    raft_loss, _ = Raft()(raft_model, batch)
    for kind in ("learnable-grid", "learnable-vocab"):
        model = tiny_with_head(tokenizer, kind)
        loss, _ = LearnableRaft()(model, batch)
        torch.testing.assert_close(loss, raft_loss, rtol=1e-6, atol=1e-6)


def test_learnable_grid_head_works_on_a_multi_token_grid(tokenizer):
    model = tiny_with_head(tokenizer, "learnable-grid", grid=grid_range(0, 1, 0.25), decimals=2)
    prompts = model.prepare_inputs(TEXTS[:2])
    with torch.no_grad():
        expected = model.grid_logprobs(prompts).exp() @ torch.tensor(model.spec.grid)
        torch.testing.assert_close(model.predict_head(prompts), expected)


def test_learnable_vocab_head_needs_single_token_grid(tokenizer):
    with pytest.raises(ConfigError, match="learnable-vocab' needs a single-token grid"):
        tiny_with_head(tokenizer, "learnable-vocab", grid=(10.0, 20.0))


def test_mbr_loss_on_a_hand_worked_distribution(tokenizer):
    """p(1) = 0.5, p(3) = 0.25, 0.25 off the grid (1..5); targets 2 and 1.

    Normalized (p = 2/3, 1/3): y=2: 2/3*1 + 1/3*1 = 1; y=1: 2/3*0 + 1/3*4 = 4/3; mean 7/6.
    Unnormalized: y=2: 0.5*1 + 0.25*1 + 0.25*4 = 1.75; y=1: 0 + 0.25*4 + 0.25*1 = 1.25;
    mean 1.5.
    """
    model = fixed_regressor(tokenizer, [{"1": 0.5, "3": 0.25, "x": 0.25}])
    batch = model.make_batch(model.prepare_inputs(["a", "b"]), np.array([2.0, 1.0]))
    loss, metrics = MinimumBayesRisk()(model, batch)
    assert loss.item() == pytest.approx(7 / 6, rel=1e-5)
    assert metrics["grid_mass"] == pytest.approx(0.75, rel=1e-5)
    assert MinimumBayesRisk(normalize=False)(model, batch)[0].item() == pytest.approx(1.5, rel=1e-5)


def test_mbr_is_zero_only_for_a_point_mass_at_the_target():
    point = torch.log(torch.tensor([[1e-12, 1.0, 1e-12]]))
    values = torch.tensor([1.0, 2.0, 3.0])
    assert expected_squared_error(point, values, torch.tensor([2.0]), True).item() < 1e-9
    spread = torch.log(torch.tensor([[0.5, 0.0 + 1e-12, 0.5]]))  # mean 2 but spread out
    assert expected_squared_error(spread, values, torch.tensor([2.0]), True).item() == (
        pytest.approx(1.0)
    )


@pytest.mark.parametrize(
    ("objective", "head"),
    [
        ("head", "token"),
        ("head", "mean"),
        ("head", "mlp"),
        ("learnable-raft", "learnable-grid"),
        ("learnable-raft", "learnable-vocab"),
    ],
)
def test_heads_fit_predict_and_round_trip_through_save_load(
    tiny_model_dir, tmp_path, objective, head
):
    est = tiny_estimator(tiny_model_dir, objective=objective, head=head).fit(TEXTS, TARGETS)
    assert est.decoder_name() == "head"
    before = est.predict(TEXTS)
    assert np.isfinite(before).all()
    est.save(tmp_path / "m")
    assert (tmp_path / "m" / "head.safetensors").exists()
    loaded = DecodingRegressor.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(TEXTS), before)


def test_head_bias_starts_at_the_mean_target(tiny_model_dir):
    """Targets 2 and 4 alternate: the mean is 3, and that is where every head's bias starts."""
    for head in ("token", "mean", "mlp"):
        est = tiny_estimator(tiny_model_dir, objective="head", head=head, max_steps=0)
        bias = dict(est.fit(TEXTS, TARGETS).model_.head.named_parameters())
        name = {"token": "bias", "mean": "linear.bias", "mlp": "mlp.2.bias"}[head]
        assert bias[name].detach().flatten().tolist() == [3.0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"objective": "head", "decoder": "greedy"}, "heads do not decode"),
        ({"objective": "raft", "decoder": "head"}, "trains none"),
        ({"objective": "raft", "head": "mlp"}, "needs a head objective"),
        ({"objective": "learnable-raft", "head": "mlp"}, "cannot be trained by objective"),
        ({"objective": "head", "head": "linear"}, "unknown head 'linear'"),
        ({"grid": "0:5:0"}, "grid step must be > 0"),
        ({"grid": [1, 2, 2]}, r"duplicate values \[2.0\]"),
        ({"grid": "0:1:0.25", "decimals": 1}, "grid value 0.25 is written '0.2'"),
        ({"init": "zeros"}, "init must be one of"),
    ],
)
def test_bad_method_options_fail_before_any_model_is_loaded(params, message):
    est = DecodingRegressor(model="/does/not/exist", **params)
    with pytest.raises(ConfigError, match=message):
        est.fit(["a", "b"], [1.0, 2.0])


def test_random_init_reinitializes_every_parameter(tmp_path):
    """The 'pretrained' tiny model has every tensor shifted by +0.37 (norm weights included),
    so no tensor of a fresh initialization can coincide with it."""
    from tests.conftest import char_tokenizer

    tok = char_tokenizer()
    lm = tiny_llama(len(tok))
    with torch.no_grad():
        for parameter in lm.parameters():
            parameter.add_(0.37)
    folder = tmp_path / "shifted"
    lm.save_pretrained(folder)
    tok.save_pretrained(folder)
    pretrained = tiny_estimator(folder, max_steps=0).fit(TEXTS, TARGETS).model_
    fresh = tiny_estimator(folder, max_steps=0, init="random").fit(TEXTS, TARGETS).model_
    before = dict(pretrained.named_parameters())
    same = [n for n, p in fresh.named_parameters() if torch.equal(p, before[n])]
    assert same == [] and len(before) > 0
    again = tiny_estimator(folder, max_steps=0, init="random").fit(TEXTS, TARGETS).model_
    assert all(
        torch.equal(p, q) for p, q in zip(fresh.parameters(), again.parameters(), strict=True)
    )


def test_mbr_trains_and_decodes_with_the_grid(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, objective="mbr").fit(TEXTS, TARGETS)
    assert est.decoder_name() == "grid-mean"
    assert np.isfinite(est.predict(TEXTS)).all()


def test_predict_quantiles_gives_an_ordered_interval(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, max_steps=0).fit(TEXTS, TARGETS)
    bounds = est.predict_quantiles(TEXTS[:4], quantiles=(0.1, 0.5, 0.9))
    assert bounds.shape == (4, 3)
    assert np.all(bounds[:, 0] <= bounds[:, 1]) and np.all(bounds[:, 1] <= bounds[:, 2])
    sampled = tiny_estimator(tiny_model_dir, max_steps=0, decoder="sample-mean", num_samples=5)
    sampled.fit(TEXTS, TARGETS)
    interval = sampled.predict_quantiles(TEXTS[:4], quantiles=(0.1, 0.9))
    assert np.all(interval[:, 0] <= interval[:, 1])
