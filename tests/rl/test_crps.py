"""The crps reward: CRPS estimators against direct loops, leave-one-out credits by hand, their
unbiasedness by exact enumeration, and the rewards' plumbing (penalty, greedy baseline)."""

import itertools

import numpy as np
import pytest
import torch

from decoreg.errors import ConfigError
from decoreg.rl import RL_OBJECTIVES
from decoreg.rl.crps import crps_credits, crps_empirical, crps_fair
from decoreg.rl.rewards import (
    compute_baseline_rewards,
    compute_group_rewards,
    compute_rewards,
    make_reward,
)
from decoreg.uncertainty import Predictive, crps


def crps_by_loop(xs, y, fair):
    """CRPS of the samples `xs` at `y`, written straight from the definition."""
    n = len(xs)
    accuracy = sum(abs(x - y) for x in xs) / n
    pairs = sum(abs(a - b) for a in xs for b in xs)
    if n == 1:
        return accuracy
    return accuracy - pairs / (2 * n * (n - 1) if fair else 2 * n * n)


def credits_by_loop(xs, y):
    """fCRPS(without sample i) - fCRPS(all), recomputing each leave-one-out group."""
    full = crps_by_loop(xs, y, fair=True)
    return [crps_by_loop(xs[:i] + xs[i + 1 :], y, fair=True) - full for i in range(len(xs))]


@pytest.fixture
def groups():
    generator = torch.Generator().manual_seed(0)
    samples = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    samples[1, 2] = samples[1, 0]  # a repeated value
    targets = torch.randn(6, generator=generator, dtype=torch.float64)
    mask = torch.ones(6, 5, dtype=torch.bool)
    mask[2, 1] = mask[3, 0] = mask[3, 4] = False  # groups of 4 and 3
    return samples, targets, mask


def test_crps_estimators_match_a_direct_loop(groups):
    samples, targets, mask = groups
    for fair, function in ((False, crps_empirical), (True, crps_fair)):
        fast = function(samples, targets, mask)
        for b in range(samples.shape[0]):
            xs = samples[b][mask[b]].tolist()
            assert float(fast[b]) == pytest.approx(crps_by_loop(xs, float(targets[b]), fair))


def test_crps_estimators_agree_with_the_uncertainty_metric(groups):
    samples, targets, _ = groups
    predictive = Predictive.from_samples(samples.numpy())
    for fair, function in ((False, crps_empirical), (True, crps_fair)):
        expected = crps(predictive, targets.numpy(), fair=fair)
        np.testing.assert_allclose(function(samples, targets).numpy(), expected, rtol=1e-12)


def test_leave_one_out_credits_by_hand():
    """Samples 0, 1, 3 and target 2: a = |x - y| = 2, 1, 1; fCRPS(all) = 4/3 - 6/6 = 1/3.
    Without 0: {1, 3}: 1 - 2/2 = 0; without 1: {0, 3}: 3/2 - 3/2 = 0; without 3: {0, 1}:
    3/2 - 1/2 = 1. Credits 0 - 1/3, 0 - 1/3, 1 - 1/3: the 3 is as near the target as the 1 but
    widens the group toward it, the 1 mostly repeats the 0."""
    credits = crps_credits(torch.tensor([[0.0, 1.0, 3.0]]), torch.tensor([2.0]))
    torch.testing.assert_close(credits, torch.tensor([[-1 / 3, -1 / 3, 2 / 3]]))


def test_credits_match_recomputed_leave_one_out_groups_and_sum_to_zero(groups):
    samples, targets, mask = groups
    credits = crps_credits(samples, targets, mask)
    for b in range(samples.shape[0]):
        xs = samples[b][mask[b]].tolist()
        np.testing.assert_allclose(
            credits[b][mask[b]].numpy(), credits_by_loop(xs, float(targets[b])), atol=1e-12
        )
        assert torch.all(credits[b][~mask[b]] == 0)
    torch.testing.assert_close(credits.sum(1), torch.zeros(6, dtype=torch.float64))


def test_equal_samples_and_small_groups_get_exactly_zero():
    samples = torch.tensor([[0.1, 0.1, 0.1], [0.3, 0.7, 0.2]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [True, False, True]])  # a group of 2: no credit
    credits = crps_credits(samples, torch.tensor([0.4, 0.5], dtype=torch.float64), mask)
    assert torch.equal(credits, torch.zeros(2, 3, dtype=torch.float64))


SUPPORT = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)


def exact_crps(probs, y):
    """CRPS of the discrete distribution on SUPPORT: sum p|x - y| - 1/2 sum p p' |x - x'|."""
    spread = (SUPPORT[:, None] - SUPPORT[None, :]).abs()
    return (probs * (SUPPORT - y).abs()).sum() - 0.5 * probs @ spread @ probs


def all_groups(probs, size):
    """Every ordered group of `size` draws from SUPPORT with its probability."""
    for index in itertools.product(range(len(SUPPORT)), repeat=size):
        index = torch.tensor(index)
        yield index, probs[index].prod()


def test_the_fair_estimator_is_unbiased_and_the_empirical_one_adds_a_spread_penalty():
    """Exact expectations over all 3^3 groups of G = 3 draws: E[fCRPS_3] = CRPS(p, y), and
    E[CRPS(F_3, y)] = CRPS(p, y) + E|X - X'| / (2G)."""
    probs, y = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), 2.0
    expected_fair = expected_empirical = 0.0
    for index, weight in all_groups(probs, 3):
        group, target = SUPPORT[index][None], torch.tensor([y], dtype=torch.float64)
        expected_fair += weight * crps_fair(group, target)[0]
        expected_empirical += weight * crps_empirical(group, target)[0]
    spread = float(probs @ (SUPPORT[:, None] - SUPPORT[None, :]).abs() @ probs)
    assert float(expected_fair) == pytest.approx(float(exact_crps(probs, y)), abs=1e-12)
    assert float(expected_empirical) == pytest.approx(
        float(exact_crps(probs, y)) + spread / 6, abs=1e-12
    )


@pytest.mark.parametrize("size", [3, 4])
def test_credits_give_the_exact_gradient_of_minus_the_policys_crps(size):
    """A softmax policy over SUPPORT: the expected policy gradient with the credits as rewards,
    E[sum_i c_i grad log p(x_i)] summed exactly over every group, equals -grad CRPS(p, y)."""
    logits = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([2.0], dtype=torch.float64)
    log_probs = torch.log_softmax(logits, 0)
    surrogate = 0.0
    for index, weight in all_groups(log_probs.exp().detach(), size):
        credits = crps_credits(SUPPORT[index][None], y)[0]
        surrogate = surrogate + weight * (credits * log_probs[index]).sum()
    (policy_gradient,) = torch.autograd.grad(surrogate, logits)
    (true_gradient,) = torch.autograd.grad(-exact_crps(torch.softmax(logits, 0), 2.0), logits)
    torch.testing.assert_close(policy_gradient, true_gradient, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size", [3, 4])
def test_the_rewards_mean_over_a_group_gives_the_gradient_of_minus_the_crps(size):
    """The loss averages over samples: with the crps reward (size * credit) that average,
    E[mean_i r_i grad log p(x_i)], is -grad CRPS(p, y) itself, the scale on which a pointwise
    reward's average gives grad E[r]; the bare credits would give 1/size of it."""
    logits = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([2.0], dtype=torch.float64)
    log_probs = torch.log_softmax(logits, 0)
    reward = make_reward("crps")
    surrogate = 0.0
    for index, weight in all_groups(log_probs.exp().detach(), size):
        samples = SUPPORT[index][None]
        rewards = reward.group(samples, y, torch.ones_like(samples, dtype=torch.bool))[0]
        surrogate = surrogate + weight * (rewards * log_probs[index]).mean()
    (policy_gradient,) = torch.autograd.grad(surrogate, logits)
    (true_gradient,) = torch.autograd.grad(-exact_crps(torch.softmax(logits, 0), 2.0), logits)
    torch.testing.assert_close(policy_gradient, true_gradient, rtol=1e-10, atol=1e-12)


def test_group_rewards_penalize_and_leave_out_unparseable_samples():
    """Samples 0, 1, unparseable, 3 at target 2: the parsed ones are the hand-worked group,
    whose credits -1/3, -1/3, 2/3 are scaled by its size 3."""
    reward = make_reward("crps")
    samples = torch.tensor([[0.0, 1.0, float("nan"), 3.0]], dtype=torch.float64)
    rewards = compute_group_rewards(
        reward, samples, torch.tensor([2.0], dtype=torch.float64), unparseable_reward=-9.0
    )
    torch.testing.assert_close(
        rewards, torch.tensor([[-1.0, -1.0, -9.0, 2.0]], dtype=torch.float64)
    )


def test_the_greedy_baseline_is_its_credit_as_one_more_member():
    """Greedy 2 joining 0, 1, 3 at target 2: fCRPS(0, 1, 3) = 1/3, fCRPS(0, 1, 3, 2) =
    4/4 - 10/12 = 1/6, so its credit is 1/3 - 1/6 = 1/6, times the group size 4; an
    unparseable greedy gets the penalty. Pointwise rewards ignore the group."""
    samples = torch.tensor([[0.0, 1.0, 3.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    greedy = torch.tensor([2.0, float("nan")], dtype=torch.float64)
    targets = torch.tensor([2.0, 2.0], dtype=torch.float64)
    crps_baseline = compute_baseline_rewards(
        make_reward("crps"), greedy, samples, targets, unparseable_reward=-9.0
    )
    torch.testing.assert_close(crps_baseline, torch.tensor([2 / 3, -9.0], dtype=torch.float64))
    squared = compute_baseline_rewards(
        make_reward("squared"), greedy, samples, targets, unparseable_reward=-9.0
    )
    torch.testing.assert_close(squared, torch.tensor([0.0, -9.0], dtype=torch.float64))


def test_a_single_number_scores_its_absolute_error():
    """Validation predictions stand alone: the CRPS of a point forecast is |x - y|."""
    rewards = compute_rewards(
        make_reward("crps"),
        torch.tensor([1.5, float("nan")], dtype=torch.float64),
        torch.tensor([1.0, 0.0], dtype=torch.float64),
        unparseable_reward=-7.0,
    )
    torch.testing.assert_close(rewards, torch.tensor([-0.5, -7.0], dtype=torch.float64))


def test_crps_needs_three_samples_per_group():
    with pytest.raises(ConfigError, match=r"reward 'crps'.*num_samples \(G\) must be >= 3"):
        RL_OBJECTIVES["remax"](reward="crps", num_samples=2)
    RL_OBJECTIVES["rloo"](reward="crps", num_samples=3)
