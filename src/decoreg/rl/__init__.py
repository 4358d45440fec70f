"""Sequence-level RL fine-tuning (GenRe2): ReMax, GRPO, RLOO and expert-guided ReMax.

rollout -> rewards -> advantages -> one policy-gradient loss, wrapped as objectives of the
single training loop. `RL_OBJECTIVES` maps each method to a factory taking `RLConfig` options:

    remax:  reward minus the greedy decode's reward.
    grpo:   reward minus the group mean, over the group (or batch) std.
    rloo:   reward minus the mean of the other samples.
    genre2: ReMax plus `expert_weight` (default 0.05) times the cross-entropy toward the
            error-minimizing next token on the rollouts' own prefixes.

Any of them takes `reward="crps"`: each sample's leave-one-out credit to the fair CRPS of its
group (`decoreg.rl.crps`), so RL trains the sampled distribution rather than single samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from decoreg.rl.advantages import ADVANTAGES, advantages_grpo, advantages_remax, advantages_rloo
from decoreg.rl.config import RLConfig
from decoreg.rl.loss import policy_gradient_loss
from decoreg.rl.objective import RLObjective
from decoreg.rl.rewards import REWARDS, compute_rewards, make_reward

GENRE2_EXPERT_WEIGHT = 0.05


@dataclass(frozen=True)
class RLMethod:
    """A named RL method: an objective factory whose options are `RLConfig` fields.

    Attributes:
        advantage: The advantage estimator.
        expert_weight: The default weight of the expert cross-entropy.
    """

    advantage: str
    expert_weight: float = 0.0

    def __call__(self, **options) -> RLObjective:
        """An `RLObjective`; unknown option names raise a ConfigError listing the valid ones."""
        return RLObjective(RLConfig.from_options(self.advantage, self.expert_weight, options))


RL_OBJECTIVES: dict[str, RLMethod] = {
    "remax": RLMethod("remax"),
    "grpo": RLMethod("grpo"),
    "rloo": RLMethod("rloo"),
    "genre2": RLMethod("remax", expert_weight=GENRE2_EXPERT_WEIGHT),
}

__all__ = [
    "ADVANTAGES",
    "REWARDS",
    "RL_OBJECTIVES",
    "RLConfig",
    "RLMethod",
    "RLObjective",
    "advantages_grpo",
    "advantages_remax",
    "advantages_rloo",
    "compute_rewards",
    "make_reward",
    "policy_gradient_loss",
]
