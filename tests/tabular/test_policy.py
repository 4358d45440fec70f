"""RL on the tabular encoder-decoder: shared-memory rollouts and training passes against
teacher-forced computations, the expert rule, reward spaces, and the estimator/CLI round trip."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from decoreg.cli import main
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from decoreg.rl import RL_OBJECTIVES
from decoreg.rl.expert import expert_digits_fixed_length
from decoreg.tabular import TabularModelConfig, build_tabular_model
from decoreg.tabular.policy import TabularPolicy
from tests.conftest import first_step_rollout


def rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "kind": rng.choice(["x", "y"], size=n)})
    return frame, (2.0 * frame["a"] + (frame["kind"] == "x")).to_numpy()


def tiny_model(tokenizer="normalized", options=None, seed=0):
    frame, y = rows()
    config = TabularModelConfig(
        tokenizer=tokenizer,
        tokenizer_options=options or {"digits": 3},
        d_model=16,
        heads=2,
        layers=2,
        ff_size=32,
        memory_tokens=2,
        dropout=0.0,
        seed=seed,
    )
    model = build_tabular_model(frame, y, config)
    return model, model.make_batch(frame.iloc[:3], y[:3])


def teacher_forced(model, batch, ids, num_samples):
    """Grammar-masked log-probs of complete numbers, each row encoded again (no sharing)."""
    repeated = type(batch)(
        {k: v.repeat_interleave(num_samples, 0) for k, v in batch.inputs.items()}, None
    )
    log_probs, _ = model.masked_log_probs(repeated, ids)
    return log_probs.gather(-1, ids[..., None]).squeeze(-1)


@pytest.mark.parametrize(
    ("tokenizer", "options"), [("normalized", {"digits": 3}), ("p10", {"digits": 2})]
)
def test_rollout_logprobs_equal_teacher_forcing(tokenizer, options):
    """fp32: samples drawn with the row's memory computed once and repeated, and a KV cache,
    have the log-probs a full teacher-forced pass gives each of them, to 1e-5."""
    model, batch = tiny_model(tokenizer, options)
    model.eval()
    _, rollout = first_step_rollout(model, batch)
    ids = rollout.flat("actions")
    with torch.no_grad():
        expected = teacher_forced(model, batch, ids, 4)
    torch.testing.assert_close(rollout.flat("logprobs"), expected, rtol=0, atol=1e-5)
    decoded = model.tokenizer.decode(ids.numpy())
    np.testing.assert_array_equal(rollout.flat("values").numpy(), decoded)


def test_training_pass_matches_teacher_forcing_in_value_and_gradient():
    model, batch = tiny_model()
    policy, rollout = first_step_rollout(model, batch, with_greedy=False)
    ids = rollout.flat("actions")
    shared = policy.action_log_probs(model, batch, rollout).gather(-1, ids[..., None]).squeeze(-1)
    weights = torch.linspace(-1.0, 2.0, shared.shape[0])[:, None]
    (shared * weights).sum().backward()
    shared_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    scratch = teacher_forced(model, batch, ids, 4)
    torch.testing.assert_close(shared, scratch, rtol=0, atol=1e-5)
    (scratch * weights).sum().backward()
    assert shared_grads and any(float(g.abs().sum()) > 0 for g in shared_grads.values())
    for name, param in model.named_parameters():
        if param.grad is not None:
            torch.testing.assert_close(shared_grads[name], param.grad, rtol=1e-4, atol=1e-5)


def test_expert_actions_follow_genre2s_rule():
    model, batch = tiny_model()
    policy, rollout = first_step_rollout(model, batch, num_samples=6)
    experts = policy.expert_actions(model, rollout, batch.targets)
    truth = torch.from_numpy(model.tokenizer.encode(batch.targets.double().numpy()))
    for row, sampled in enumerate(rollout.flat("actions").tolist()):
        digits = truth[row // 6].tolist()
        for t in range(len(sampled)):
            prefix, true_prefix = sampled[:t], digits[:t]
            # lists compare digit by digit, like the numbers they spell
            want = digits[t] if prefix == true_prefix else (0 if prefix > true_prefix else 9)
            assert int(experts[row, t]) == want
    assert torch.equal(
        experts,
        expert_digits_fixed_length(rollout.flat("actions"), truth.repeat_interleave(6, 0), 0, 9),
    )


def test_expert_refuses_formats_that_are_not_fixed_length_digits():
    model, batch = tiny_model("p10", {"digits": 2})
    policy, rollout = first_step_rollout(model, batch)
    with pytest.raises(ConfigError, match="'normalized' tokenizer, not 'p10'"):
        policy.expert_actions(model, rollout, batch.targets)


def test_reward_spaces_invert_the_target_transform():
    model, _ = tiny_model()
    policy = TabularPolicy.for_model(model)
    u = torch.tensor([0.0, 0.25, 1.2], dtype=torch.float64)
    raw = policy.to_reward_space(model, u, "raw")
    np.testing.assert_allclose(raw.numpy(), model.target.inverse(u.numpy(), clip=False))
    z = policy.to_reward_space(model, u, "z")
    np.testing.assert_allclose(z.numpy(), (raw.numpy() - model.target.mean) / model.target.std)


@pytest.mark.parametrize("method", ["remax", "genre2", "rloo"])
def test_one_rl_step_moves_probability_toward_the_better_samples(method):
    """A small SGD step raises the surrogate sum_n A_n log p(sample_n) for every method; with
    RLOO (advantages centred on the group) the best sample gains and the worst loses."""
    model, batch = tiny_model(seed=2)
    batch = type(batch)({k: v[:1] for k, v in batch.inputs.items()}, batch.targets[:1])
    objective = RL_OBJECTIVES[method](num_samples=8, seed=3, reward_space="z")
    loss, metrics = objective(model, batch)
    rollout, advantages = objective.last_scored.rollout, objective.last_scored.advantages
    ids = rollout.flat("actions")

    def seq_logprobs():
        with torch.no_grad():
            return teacher_forced(model, batch, ids, 8).sum(-1).double()

    before = seq_logprobs()
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=1e-3).step()
    after = seq_logprobs()
    assert float((advantages * after).sum()) > float((advantages * before).sum())
    errors = np.abs(rollout.values[0].numpy() - float(batch.targets[0]))
    best, worst = int(np.argmin(errors)), int(np.argmax(errors))
    if method == "rloo":
        assert after[best] > before[best] and after[worst] < before[worst]
    assert metrics["unparseable_share"] == 0.0


def small(**params):
    defaults = dict(
        family="tabular",
        max_steps=6,
        batch_size=8,
        learning_rate=1e-3,
        warmup_steps=0,
        eval_every=3,
        verbose=False,
        num_samples=8,
        tabular_options={"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32},
    )
    return DecodingRegressor(**{**defaults, **params})


@pytest.mark.parametrize("objective", ["remax", "grpo", "rloo", "genre2"])
def test_estimator_rl_from_a_ce_model_round_trips(tmp_path, objective):
    frame, y = rows(60)
    small(objective="ce").fit(frame, y).save(tmp_path / "ce")
    rl = small(
        objective=objective,
        init_from=str(tmp_path / "ce"),
        objective_options={"num_samples": 4, "reward_space": "z"},
    ).fit(frame, y)
    log = rl.train_result_.log
    assert len(log) == 6 and all(np.isfinite(row["reward_mean"]) for row in log)
    assert ("expert_ce" in log[0]) == (objective == "genre2")
    rl.save(tmp_path / "rl")
    again = DecodingRegressor.load(tmp_path / "rl")
    np.testing.assert_array_equal(again.predict(frame), rl.predict(frame))


def test_cli_rl_on_the_tabular_family(tmp_path):
    frame, y = rows(60)
    data = tmp_path / "rows.csv"
    frame.assign(y=y).to_csv(data, index=False)
    common = ["--family", "tabular", "--target-column", "y", "--max-steps", "4"]
    common += ["--batch-size", "8", "--eval-every", "2", "--tabular-option", "d_model=16"]
    common += ["--tabular-option", "heads=2", "--tabular-option", "layers=1"]
    assert main(["train", str(data), *common, "--output", str(tmp_path / "ce")]) == 0
    rl_args = ["train", str(data), *common, "--output", str(tmp_path / "rl")]
    rl_args += ["--objective", "genre2", "--init-from", str(tmp_path / "ce")]
    rl_args += ["--objective-option", "num_samples=4"]
    assert main(rl_args) == 0
    metrics = json.loads((tmp_path / "rl" / "metrics.json").read_text())
    assert metrics["steps_run"] == 4 and "expert_ce" in metrics["log"][0]
    out = tmp_path / "preds.csv"
    assert main(["predict", str(tmp_path / "rl"), str(data), "--output", str(out)]) == 0
    assert len(pd.read_csv(out)) == 60


def test_init_from_a_model_of_the_other_family(tmp_path):
    frame, y = rows(30)
    small(objective="ce", max_steps=1).fit(frame, y).save(tmp_path / "ce")
    with pytest.raises(ConfigError, match="holds a 'tabular' model, but family='causal-lm'"):
        DecodingRegressor(objective="remax", init_from=str(tmp_path / "ce")).fit(["a", "b"], [1, 2])
