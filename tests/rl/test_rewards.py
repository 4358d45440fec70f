"""Rewards by hand, the unparseable penalty, and clear errors for bad rewards."""

import pytest
import torch

from decoreg.errors import ConfigError
from decoreg.rl.rewards import (
    REWARDS,
    RewardError,
    RewardOptions,
    compute_rewards,
    make_reward,
)

PRED = torch.tensor([1.0, 3.0, float("nan"), 0.0], dtype=torch.float64)
TRUE = torch.tensor([2.0, 3.0, 1.0, 2.0], dtype=torch.float64)


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("squared", RewardOptions(), [-1.0, 0.0, -100.0, -4.0]),
        ("absolute", RewardOptions(), [-1.0, 0.0, -100.0, -2.0]),
        ("clipped-squared", RewardOptions(clip=2.0), [-1.0, 0.0, -100.0, -2.0]),
        # exp(-1 / (2 * 0.25)) = e^-2, exp(0) = 1, exp(-4 / 0.5) = e^-8
        (
            "gaussian",
            RewardOptions(sigma=0.5),
            [0.1353352832366127, 1.0, -100.0, 0.00033546262790251185],
        ),
    ],
)
def test_rewards_by_hand(name, options, expected):
    rewards = compute_rewards(make_reward(name, options), PRED, TRUE, unparseable_reward=-100.0)
    torch.testing.assert_close(rewards, torch.tensor(expected, dtype=torch.float64))


def test_unknown_reward_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown reward 'sqared'.*squared"):
        make_reward("sqared")


def test_a_reward_returning_nan_fails_before_training(monkeypatch):
    monkeypatch.setitem(REWARDS, "broken", lambda options: lambda p, t: torch.sqrt(p - t))
    with pytest.raises(ConfigError, match=r"broken.*nan"):
        make_reward("broken")


def test_a_reward_turning_nan_during_training_names_the_number():
    def reward(p, t):
        return torch.where(p > 2.5, torch.nan, -((p - t) ** 2))

    with pytest.raises(RewardError, match=r"prediction 3\.0 and target 3\.0"):
        compute_rewards(reward, PRED, TRUE, unparseable_reward=-1.0, name="custom")


def test_bad_reward_options():
    with pytest.raises(ConfigError, match="sigma"):
        RewardOptions(sigma=0.0)
