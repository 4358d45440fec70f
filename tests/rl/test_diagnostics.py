"""The per-step RL diagnostics: tied groups and the sampling distribution's entropy, on
constructed rollouts and against a recomputation on a tiny model."""

import math

import pytest
import torch

from decoreg.rl import RL_OBJECTIVES
from decoreg.rl.advantages import advantages_rloo
from decoreg.rl.loss import masked_entropy
from decoreg.rl.objective import rollout_metrics
from decoreg.rl.rollout import Rollout
from tests.tabular.test_policy import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def constructed_rollout():
    """B = 3 inputs, G = 3 samples, L = 2 steps; the second sample of input 1 stops after one
    step and its third does not parse."""
    mask = torch.ones(3, 3, 2, dtype=torch.bool)
    mask[1, 1, 1] = False
    entropies = torch.full((3, 3, 2), math.log(2.0))
    entropies[2] = 0.0  # input 2 was sampled from one-hot distributions
    return Rollout(
        actions=torch.zeros(3, 3, 2, dtype=torch.long),
        mask=mask,
        allowed=None,
        logprobs=torch.zeros(3, 3, 2),
        values=torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, math.nan], [0.0, 0.0, 0.0]]),
        greedy_values=None,
        texts=[["1"] * 3, ["1", "2", "?"], ["0"] * 3],
        entropies=entropies * mask,
    )


def test_diagnostics_on_a_constructed_rollout():
    """Groups 0 and 2 tie (all rewards equal), group 1 does not: a tied share of 2/3, and RLOO
    gives the tied groups zero advantage. Entropy: 11 of the 17 sampled steps have log 2, the
    6 of input 2 have 0: (11/17) log 2 per step. Per number the same 11 log 2 is shared by 9
    numbers (the unparseable one counts too): (11/9) log 2."""
    rollout = constructed_rollout()
    targets = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    rewards = torch.tensor([[-1.0, -1.0, -1.0], [0.0, -1.0, -100.0], [0.0, 0.0, 0.0]])
    advantages = advantages_rloo(rewards)
    metrics = rollout_metrics(rollout, rewards, None, advantages, targets)
    assert metrics["tied_group_share"] == pytest.approx(2 / 3)
    assert torch.equal(advantages[[0, 2]], torch.zeros(2, 3))
    assert metrics["entropy"] == pytest.approx(11 / 17 * math.log(2), rel=1e-6)
    assert metrics["number_entropy"] == pytest.approx(11 / 9 * math.log(2), rel=1e-6)
    assert metrics["unparseable_share"] == pytest.approx(1 / 9)
    # parsed errors: 0, 0, 0, 0, 1, 0, 0, 0 -> RMSE sqrt(1/8)
    assert metrics["sample_rmse"] == pytest.approx(math.sqrt(1 / 8))


def test_logged_entropy_is_that_of_the_distributions_the_update_sees():
    """The entropy logged by the rollout equals the mean entropy of the teacher-forced
    distributions the training pass recomputes at the sampled steps."""
    model, batch = tiny_model(seed=2)
    objective = RL_OBJECTIVES["grpo"](num_samples=4, seed=1)
    _, metrics = objective(model, batch)
    scored = objective.last_scored
    with torch.no_grad():
        log_dist = model.rl_policy().action_log_probs(model, batch, scored.rollout)
    mask = scored.rollout.flat("mask")[:, : log_dist.shape[1]]
    entropies = masked_entropy(log_dist)
    assert metrics["entropy"] == pytest.approx(float(entropies[mask].mean()), abs=1e-5)
    per_number = (entropies * mask).sum(-1).mean()
    assert metrics["number_entropy"] == pytest.approx(float(per_number), abs=1e-5)
    assert metrics["tied_group_share"] < 1.0


def test_near_greedy_sampling_ties_every_group():
    """At temperature 1e-4 each input's G samples are its argmax number: every group ties and
    gets zero advantage under the crps credits."""
    model, batch = tiny_model(seed=2)
    objective = RL_OBJECTIVES["rloo"](num_samples=4, temperature=1e-4, reward="crps")
    _, metrics = objective(model, batch)
    assert metrics["tied_group_share"] == 1.0
    assert metrics["advantage_abs_mean"] == 0.0
