"""Advantage estimators: rewards of G samples per prompt -> one advantage per sample.

Each is a small function on `[B, G]` rewards; `ADVANTAGES` names them as `AdvantageEstimator`
records saying whether the estimator needs the greedy decode's reward (ReMax) and how many
samples per prompt it needs at least (a leave-one-out or group std needs two).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from decoreg.errors import ConfigError

GRPO_SCALES = ("group", "batch", "none")


def advantages_remax(
    rewards: Tensor,  # [B, G]
    greedy_rewards: Tensor,  # [B]
) -> Tensor:  # [B, G]
    """ReMax: each sample's reward minus its prompt's greedy-decode reward; no std scaling."""
    return rewards - greedy_rewards[:, None]


def advantages_grpo(
    rewards: Tensor,  # [B, G]
    scale: str = "group",
    eps: float = 1e-6,
) -> Tensor:  # [B, G]
    """GRPO: reward minus the group mean, divided by a standard deviation.

    Args:
        rewards: [B, G] rewards, one row per prompt.
        scale: "group" divides by each group's std, "batch" by the std of all B*G rewards,
            "none" only centres (Dr. GRPO). Stds are unbiased (divide by n - 1), as in GRPO.
        eps: Added to the std so that a group of equal rewards gets advantage 0, not NaN.
    """
    if scale not in GRPO_SCALES:
        raise ConfigError(f"grpo scale must be one of {GRPO_SCALES}, got {scale!r}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale == "group":
        return centred / (rewards.std(dim=1, keepdim=True) + eps)
    if scale == "batch":
        return centred / (rewards.std() + eps)
    return centred


def advantages_rloo(rewards: Tensor) -> Tensor:  # rewards: [B, G] -> [B, G]
    """RLOO: each sample's reward minus the mean reward of the other G - 1 samples."""
    g = rewards.shape[1]
    others = (rewards.sum(dim=1, keepdim=True) - rewards) / (g - 1)
    return rewards - others


@dataclass(frozen=True)
class AdvantageEstimator:
    """An advantage estimator as the RL objective uses it.

    Attributes:
        name: Registry name.
        needs_greedy: The rollout must also decode each prompt greedily (ReMax's baseline).
        min_samples: Fewest samples per prompt it can work with.
        compute: (rewards [B, G], greedy rewards [B] or None, grpo scale) -> [B, G].
    """

    name: str
    needs_greedy: bool
    min_samples: int
    compute: Callable[[Tensor, Tensor | None, str], Tensor]

    def __call__(self, rewards: Tensor, greedy_rewards: Tensor | None, scale: str) -> Tensor:
        if self.needs_greedy and greedy_rewards is None:
            raise ValueError(f"{self.name} advantages need the greedy decode's rewards")
        return self.compute(rewards, greedy_rewards, scale)


ADVANTAGES: dict[str, AdvantageEstimator] = {
    "remax": AdvantageEstimator("remax", True, 1, lambda r, g, s: advantages_remax(r, g)),
    "grpo": AdvantageEstimator("grpo", False, 2, lambda r, g, s: advantages_grpo(r, s)),
    "rloo": AdvantageEstimator("rloo", False, 2, lambda r, g, s: advantages_rloo(r)),
}
