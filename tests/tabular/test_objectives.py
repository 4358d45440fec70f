"""Tabular objectives: hand-worked NTL, DIST and Riemann numbers, and short training runs."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from decoreg.core import Batch
from decoreg.errors import ConfigError
from decoreg.metrics import r2
from decoreg.tabular import (
    TABULAR_DECODERS,
    TABULAR_OBJECTIVES,
    NumberTokenLoss,
    TabularModelConfig,
    build_tabular_model,
)
from decoreg.tabular.objectives import (
    distance_soft_labels,
    number_token_loss,
    riemann_bin_index,
)
from decoreg.tokenizers import NormalizedTokenizer

DIGITS = torch.arange(10, dtype=torch.float32)  # base-10 digit tokens <0>..<9> have ids 0..9


pytestmark = pytest.mark.usefixtures("one_thread")


def log_probs_from(probs: dict[int, float]) -> torch.Tensor:
    """[1, 10] log-probabilities with the given mass on digits, -inf (masked) elsewhere."""
    out = torch.full((1, 10), float("-inf"))
    for digit, p in probs.items():
        out[0, digit] = math.log(p)
    return out


def test_ntl_mse_and_was_hand_worked():
    """p = 0.25 on 3, 0.5 on 4, 0.25 on 7; true digit 4.
    Expected digit 0.75 + 2 + 1.75 = 4.5, so NTL-MSE = (4.5 - 4)^2 = 0.25.
    NTL-WAS = 0.25 * |3 - 4| + 0.5 * 0 + 0.25 * |7 - 4| = 1.0."""
    log_probs = log_probs_from({3: 0.25, 4: 0.5, 7: 0.25})
    target = torch.tensor([4.0])
    assert float(number_token_loss(log_probs, target, DIGITS, "mse")) == pytest.approx(0.25)
    assert float(number_token_loss(log_probs, target, DIGITS, "was")) == pytest.approx(1.0)


def test_ntl_tells_near_misses_from_far_ones_where_ce_does_not():
    """Both put 0.5 on the true digit 4 (same CE); the rest on 3 (near) or 9 (far).
    MSE: (3.5 - 4)^2 = 0.25 vs (6.5 - 4)^2 = 6.25; WAS: 0.5 * 1 = 0.5 vs 0.5 * 5 = 2.5."""
    near, far = log_probs_from({4: 0.5, 3: 0.5}), log_probs_from({4: 0.5, 9: 0.5})
    target = torch.tensor([4.0])
    assert float(number_token_loss(near, target, DIGITS, "mse")) == pytest.approx(0.25)
    assert float(number_token_loss(far, target, DIGITS, "mse")) == pytest.approx(6.25)
    assert float(number_token_loss(near, target, DIGITS, "was")) == pytest.approx(0.5)
    assert float(number_token_loss(far, target, DIGITS, "was")) == pytest.approx(2.5)


def test_ntl_ignores_non_digit_tokens():
    """Token 2 is not a digit (NaN value): its mass is dropped and the rest renormalized, so
    p = 0.5 on digits 0 and 1 (values 0 and 5), expected 2.5, MSE against 5 is 6.25."""
    values = torch.tensor([0.0, 5.0, float("nan")])
    log_probs = torch.log(torch.tensor([[0.25, 0.25, 0.5]]))
    loss = number_token_loss(log_probs, torch.tensor([5.0]), values, "mse")
    assert float(loss) == pytest.approx(6.25)
    with pytest.raises(ConfigError):
        number_token_loss(log_probs, torch.tensor([5.0]), values, "l1")


def test_distance_soft_labels_hand_worked():
    """Base 3, true digit 0, temperature 1: labels proportional to (1, e^-1, e^-2), i.e.
    (0.6652, 0.2447, 0.0900). A masked-out token gets 0; a non-digit target stays one-hot."""
    values = torch.tensor([0.0, 1.0, 2.0, float("nan")])  # token 3 is e.g. a sign
    mask = torch.tensor([[True, True, True, False], [True, True, False, False], [True] * 4])
    labels = distance_soft_labels(mask, torch.tensor([0, 0, 3]), values, temperature=1.0)
    z = 1 + math.exp(-1) + math.exp(-2)
    expected = torch.tensor([1.0, math.exp(-1), math.exp(-2), 0.0]) / z
    torch.testing.assert_close(labels[0], expected)
    z2 = 1 + math.exp(-1)
    torch.testing.assert_close(labels[1], torch.tensor([1 / z2, math.exp(-1) / z2, 0, 0]))
    torch.testing.assert_close(labels[2], torch.tensor([0.0, 0, 0, 1]))


class FixedLogits(torch.nn.Module):
    """A stand-in model with one digit in base 10 and the same logits for every row."""

    def __init__(self, probs: dict[int, float]) -> None:
        super().__init__()
        self.tokenizer = NormalizedTokenizer(base=10, digits=1)
        self.log_probs = log_probs_from(probs)
        self.digit_values = DIGITS

    def target_ids(self, targets: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.tokenizer.encode(targets.double().numpy()))

    def masked_log_probs(self, batch: Batch, ids: torch.Tensor):
        log_probs = self.log_probs.expand(len(ids), 1, 10)
        return log_probs, torch.isfinite(log_probs)


def test_objectives_on_fixed_logits():
    """One digit; p = 0.25 on 3, 0.5 on 4, 0.25 on 7; target 0.4 writes as <4>.
    CE = -log 0.5 = 0.6931. NTL-MSE (weight 0.3): 0.6931 + 0.3 * 0.25 = 0.7681.
    NTL-WAS: 0.6931 + 0.3 * 1.0 = 0.9931.
    DIST (temperature 1, allowed digits 3, 4, 7): q proportional to (e^-1, 1, e^-3), and the
    loss is -sum q log p = (e^-1 log 4 + log 2 + e^-3 log 4) / (e^-1 + 1 + e^-3) = 0.8857."""
    model = FixedLogits({3: 0.25, 4: 0.5, 7: 0.25})
    batch = Batch({"numeric": torch.zeros(2, 1)}, torch.tensor([0.4, 0.4]))
    expected = {"ce": math.log(2), "ntl-mse": math.log(2) + 0.075, "ntl-was": math.log(2) + 0.3}
    e1, e3 = math.exp(-1), math.exp(-3)
    expected["dist"] = (e1 * math.log(4) + math.log(2) + e3 * math.log(4)) / (e1 + 1 + e3)
    for name, value in expected.items():
        loss, metrics = TABULAR_OBJECTIVES[name](model, batch)
        assert float(loss) == pytest.approx(value, rel=1e-6), name
        assert metrics["ce"] == pytest.approx(math.log(2), rel=1e-6)
        assert metrics["token_accuracy"] == 1.0
        assert all(isinstance(v, float) for v in metrics.values())


def test_riemann_bins_hand_worked():
    """4 bins over [0, 1]: [0, .25), [.25, .5), [.5, .75), [.75, 1]; out of range clamps."""
    targets = torch.tensor([0.0, 0.24, 0.25, 0.99, 1.0, 1.3, -0.2])
    assert riemann_bin_index(targets, 4).tolist() == [0, 0, 1, 3, 3, 3, 0]


def test_objective_options_are_validated():
    with pytest.raises(ConfigError):
        NumberTokenLoss(kind="l1")
    with pytest.raises(ConfigError):
        dataclasses.replace(TABULAR_OBJECTIVES["dist"], temperature=0.0)


def synthetic(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.uniform(-1, 1, n), "b": rng.uniform(-1, 1, n)})
    return frame, (np.sin(2 * frame["a"]) + frame["b"] ** 2).to_numpy()


TINY = TabularModelConfig(d_model=32, heads=2, layers=1, ff_size=64, memory_tokens=2, dropout=0.1)


def train(objective: str, steps: int, lr: float = 3e-3):
    torch.manual_seed(0)
    frame, y = synthetic()
    model = build_tabular_model(frame.iloc[:300], y[:300], TINY)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        rows = rng.integers(0, 300, size=64)
        loss, _ = TABULAR_OBJECTIVES[objective](model, model.make_batch(frame.iloc[rows], y[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, initial[k])}
    return model.eval(), frame.iloc[300:], y[300:], losses, changed


@pytest.mark.parametrize(
    ("objective", "decoder"), [("pointwise-mse", "head-pointwise"), ("riemann", "head-riemann")]
)
def test_heads_train_on_a_small_synthetic_set(objective: str, decoder: str):
    """y = sin(2a) + b^2 on 300 rows, 250 steps: the loss falls by 40% and the held-out R^2
    of the head beats 0.8; only the encoder and that head move."""
    model, frame, y, losses, changed = train(objective, steps=250)
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    head = "pointwise_head" if objective == "pointwise-mse" else "riemann_head"
    assert {f"{head}.weight", f"{head}.bias", "encoder.0.weight"} <= changed
    assert not any(k.startswith("decoder_layers") or k.startswith("lm_head") for k in changed)
    batch = model.make_batch(frame, None)
    predictions = TABULAR_DECODERS[decoder](model, batch, generator=torch.Generator())
    assert r2(y, model.from_target_space(predictions.values)) > 0.8


@pytest.mark.parametrize("objective", ["ce", "ntl-mse", "ntl-was", "dist"])
def test_token_objectives_update_every_decoder_parameter(objective: str):
    """A few steps move every encoder and decoder parameter but neither head."""
    _, _, _, losses, changed = train(objective, steps=3)
    model = build_tabular_model(*synthetic(), TINY)
    token_params = {
        k for k in model.state_dict() if not k.startswith(("pointwise_head", "riemann_head"))
    }
    token_params.discard("category_embedding.weight")  # no categorical columns here
    assert changed == token_params
    assert all(math.isfinite(v) for v in losses)
