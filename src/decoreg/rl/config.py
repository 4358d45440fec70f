"""`RLConfig`: every option of the sequence-level RL objectives, validated on construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from decoreg.errors import ConfigError
from decoreg.rl.advantages import ADVANTAGES, GRPO_SCALES
from decoreg.rl.rewards import RewardOptions, make_reward, reward_min_samples

REWARD_SPACES = ("model", "raw", "z")


@dataclass(frozen=True)
class RLConfig:
    """Options of ReMax, GRPO, RLOO and expert-guided ReMax (GenRe2).

    Attributes:
        advantage: "remax", "grpo" or "rloo" (see `decoreg.rl.advantages`).
        num_samples: G, numbers sampled per input (GRPO and RLOO need at least 2).
        temperature: Sampling temperature (log-probs are always those at temperature 1).
        constrained: Sample only tokens the number grammar allows, so every sample parses.
        reward: Reward name (see `decoreg.rl.rewards.REWARDS`); "crps" scores each sample by
            its leave-one-out credit to the fair CRPS of its group (needs num_samples >= 3).
        reward_space: Compute rewards on numbers in the "model"'s target space, on "raw"
            targets, or on "z"-scores (training mean and std; tabular models only).
        reward_clip: Largest squared error counted by the "clipped-squared" reward.
        reward_sigma: Width of the "gaussian" reward.
        unparseable_reward: Reward of an output that cannot be read as a number.
        grpo_scale: GRPO's std: "group", "batch" or "none".
        clip_epsilon: PPO ratio clipping (None: plain policy gradient).
        updates_per_rollout: Optimizer steps taken on each rollout; > 1 needs clip_epsilon.
        kl_beta: Weight of the KL to a frozen copy of the starting model (0: no copy made).
        entropy_coef: Weight of the entropy bonus.
        expert_weight: Weight w of the expert cross-entropy on the rollouts' own prefixes
            (GenRe2; 0 disables it).
        seed: Seed of the sampling noise (with the step and each input's content).
    """

    advantage: str = "remax"
    num_samples: int = 8
    temperature: float = 1.0
    constrained: bool = True
    reward: str = "squared"
    reward_space: str = "model"
    reward_clip: float = 1.0
    reward_sigma: float = 0.1
    unparseable_reward: float = -100.0
    grpo_scale: str = "group"
    clip_epsilon: float | None = None
    updates_per_rollout: int = 1
    kl_beta: float = 0.0
    entropy_coef: float = 0.0
    expert_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise ConfigError(
                f"advantage must be one of {sorted(ADVANTAGES)}, got {self.advantage!r}"
            )
        estimator = ADVANTAGES[self.advantage]
        if not isinstance(self.num_samples, int) or self.num_samples < estimator.min_samples:
            raise ConfigError(
                f"num_samples (G) must be an int >= {estimator.min_samples} for "
                f"{self.advantage}, got {self.num_samples!r}"
                + (
                    ": its baseline compares samples of one group"
                    if estimator.min_samples > 1
                    else ""
                )
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if self.reward_space not in REWARD_SPACES:
            raise ConfigError(
                f"reward_space must be one of {REWARD_SPACES}, got {self.reward_space!r}"
            )
        reward = make_reward(self.reward, self.reward_options)  # unknown names, NaN rewards
        if self.num_samples < reward_min_samples(reward):
            raise ConfigError(
                f"reward {self.reward!r} scores each sample against the others of its group: "
                f"num_samples (G) must be >= {reward_min_samples(reward)}, got {self.num_samples}"
            )
        if not math.isfinite(self.unparseable_reward):
            raise ConfigError(f"unparseable_reward must be finite, got {self.unparseable_reward}")
        if self.grpo_scale not in GRPO_SCALES:
            raise ConfigError(f"grpo_scale must be one of {GRPO_SCALES}, got {self.grpo_scale!r}")
        if self.clip_epsilon is not None and not 0 < self.clip_epsilon < 1:
            raise ConfigError(f"clip_epsilon must be in (0, 1) or None, got {self.clip_epsilon}")
        if not isinstance(self.updates_per_rollout, int) or self.updates_per_rollout < 1:
            raise ConfigError(
                f"updates_per_rollout must be an int >= 1, got {self.updates_per_rollout!r}"
            )
        if self.updates_per_rollout > 1 and self.clip_epsilon is None:
            raise ConfigError(
                "updates_per_rollout > 1 reuses stale samples and needs ratio clipping: set "
                "clip_epsilon (e.g. 0.2)"
            )
        for name in ("kl_beta", "entropy_coef", "expert_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value}")

    @property
    def reward_options(self) -> RewardOptions:
        return RewardOptions(clip=self.reward_clip, sigma=self.reward_sigma)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_options(cls, advantage: str, expert_weight: float, options: dict) -> RLConfig:
        """Build from user options, naming the valid ones when a name is unknown."""
        valid = sorted(f.name for f in fields(cls) if f.name != "advantage")
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ConfigError(f"unknown RL option(s) {unknown}; valid: {valid}")
        values = {"expert_weight": expert_weight, **options}
        return cls(advantage=advantage, **values)
