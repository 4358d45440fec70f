"""reward=crps trains the sampled distribution: a few RL steps lower the exact CRPS of a tiny
model's distribution over the numbers it can write, in both families."""

import itertools

import numpy as np
import pytest
import torch

from decoreg.rl import RL_OBJECTIVES
from tests.causal_lm.test_policy import batch_of, sequence_logprob, tiny
from tests.tabular.test_policy import teacher_forced, tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def exact_crps(values, probs, y):
    """CRPS of the discrete distribution (values [K], probs [K]) at y, from its definition."""
    spread = np.abs(values[:, None] - values[None, :])
    return float(probs @ np.abs(values - y) - 0.5 * probs @ spread @ probs)


def train(model, batch, steps, lr, **options):
    objective = RL_OBJECTIVES["rloo"](reward="crps", seed=5, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    logs = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss, metrics = objective(model, batch)
        loss.backward()
        optimizer.step()
        logs.append(metrics)
    return logs


def tabular_crps(model, batch):
    """Mean over rows of the exact CRPS of the model's distribution over its 100 numbers."""
    ids = torch.tensor(list(itertools.product(range(10), repeat=2)))  # every 2-digit number
    values = model.tokenizer.decode(ids.numpy())
    scores = []
    for row in range(len(batch)):
        one = type(batch)({k: v[row : row + 1] for k, v in batch.inputs.items()}, None)
        with torch.no_grad():
            probs = teacher_forced(model, one, ids, len(ids)).sum(-1).double().exp().numpy()
        scores.append(exact_crps(values, probs, float(batch.targets[row])))
    return float(np.mean(scores))


def test_crps_steps_lower_the_tabular_models_exact_crps():
    model, batch = tiny_model("normalized", {"digits": 2}, seed=1)
    before = tabular_crps(model, batch)
    logs = train(model, batch, steps=12, lr=3e-3, num_samples=8)
    after = tabular_crps(model, batch)
    assert after < 0.8 * before, (before, after)
    assert all(np.isfinite(m["reward_mean"]) and 0 <= m["tied_group_share"] <= 1 for m in logs)
    assert abs(logs[0]["reward_mean"]) < 1e-12  # credits sum to zero in every group


def test_crps_steps_lower_the_causal_lms_exact_crps(tokenizer):
    """Decimals 0 on the grid 0-9: the model writes one of ten numbers."""
    model = tiny(tokenizer, seed=7, decimals=0)
    batch = batch_of(model, ["first", "second"], [2.0, 7.0])
    policy = model.rl_policy()
    texts = [str(k) for k in range(10)]

    def lm_crps():
        scores = []
        for prompt, y in zip(batch.inputs, batch.targets.tolist(), strict=True):
            logps = [sequence_logprob(model, policy, prompt, text) for text in texts]
            probs = np.exp(np.array(logps))
            assert probs.sum() == pytest.approx(1.0, abs=1e-5)
            scores.append(exact_crps(np.arange(10.0), probs, y))
        return float(np.mean(scores))

    before = lm_crps()
    train(model, batch, steps=8, lr=1e-2, num_samples=8)
    assert lm_crps() < 0.8 * before
