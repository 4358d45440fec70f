"""Advantage estimators on groups worked by hand."""

import pytest
import torch

from decoreg.errors import ConfigError
from decoreg.rl.advantages import (
    ADVANTAGES,
    advantages_grpo,
    advantages_remax,
    advantages_rloo,
)

REWARDS = torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 4.0]], dtype=torch.float64)


def test_remax_subtracts_the_greedy_reward_without_scaling():
    """Group 1 greedy reward 2 -> [-1, 0, 1, 4]; group 2 greedy reward 4 -> [-4, -4, 0, 0]."""
    out = advantages_remax(REWARDS, torch.tensor([2.0, 4.0], dtype=torch.float64))
    expected = torch.tensor([[-1.0, 0.0, 1.0, 4.0], [-4.0, -4.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(out, expected)


def test_grpo_group_scaling():
    """Group 1: mean 3, centred [-2, -1, 0, 3], unbiased var (4+1+0+9)/3 = 14/3.
    Group 2: mean 2, centred [-2, -2, 2, 2], unbiased var 16/3."""
    out = advantages_grpo(REWARDS, scale="group", eps=0.0)
    sd1, sd2 = (14 / 3) ** 0.5, (16 / 3) ** 0.5
    expected = torch.tensor(
        [[-2 / sd1, -1 / sd1, 0.0, 3 / sd1], [-2 / sd2, -2 / sd2, 2 / sd2, 2 / sd2]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(out, expected)


def test_grpo_without_scaling_only_centres():
    out = advantages_grpo(REWARDS, scale="none")
    expected = torch.tensor([[-2.0, -1.0, 0.0, 3.0], [-2.0, -2.0, 2.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(out, expected)


def test_grpo_batch_scaling_divides_by_the_std_of_all_rewards():
    """All 8 rewards: mean 20/8 = 2.5, sum of squares 82, unbiased var (82 - 8*6.25)/7 = 32/7."""
    out = advantages_grpo(REWARDS, scale="batch", eps=0.0)
    expected = advantages_grpo(REWARDS, scale="none") / (32 / 7) ** 0.5
    torch.testing.assert_close(out, expected)


def test_grpo_equal_rewards_give_zero_not_nan():
    out = advantages_grpo(torch.full((1, 3), 5.0), scale="group")
    assert torch.equal(out, torch.zeros(1, 3))


def test_grpo_unknown_scale():
    with pytest.raises(ConfigError, match="group"):
        advantages_grpo(REWARDS, scale="global")


def test_rloo_subtracts_the_mean_of_the_others():
    """Group 1, sample 1: 1 - (2+3+6)/3 = -8/3; sample 4: 6 - (1+2+3)/3 = 4.
    Group 2: 0 - (0+4+4)/3 = -8/3; 4 - (0+0+4)/3 = 8/3."""
    out = advantages_rloo(REWARDS)
    expected = torch.tensor(
        [[-8 / 3, -4 / 3, 0.0, 4.0], [-8 / 3, -8 / 3, 8 / 3, 8 / 3]], dtype=torch.float64
    )
    torch.testing.assert_close(out, expected)


def test_rloo_is_the_grpo_centring_scaled_by_g_over_g_minus_1():
    """r - mean_others = (G / (G - 1)) (r - mean): a second derivation of the same numbers."""
    torch.testing.assert_close(advantages_rloo(REWARDS), advantages_grpo(REWARDS, "none") * 4 / 3)


def test_registry_records_what_each_estimator_needs():
    assert ADVANTAGES["remax"].needs_greedy and ADVANTAGES["remax"].min_samples == 1
    assert not ADVANTAGES["grpo"].needs_greedy and ADVANTAGES["grpo"].min_samples == 2
    assert ADVANTAGES["rloo"].min_samples == 2
    with pytest.raises(ValueError, match="greedy"):
        ADVANTAGES["remax"](REWARDS, None, "group")
