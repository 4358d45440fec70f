"""Rewards on whole decoded numbers: `(predictions [N], targets [N]) -> rewards [N]`.

Every reward is a frozen dataclass built from `RewardOptions` by `make_reward(name, options)`;
`REWARDS` maps the names. `compute_rewards` adds what every reward shares: a fixed penalty for
outputs that could not be parsed (NaN predictions) and a clear error when a reward returns a
non-finite number. Which space the numbers are in (the model's, raw targets, z-scores) is the
caller's choice; the rewards only see two arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.devices import HOST
from decoreg.errors import ConfigError, DecoregError


class RewardError(DecoregError, ValueError):
    """A reward returned NaN or infinity for a number that was parsed."""


@dataclass(frozen=True)
class RewardOptions:
    """Options the rewards read.

    Attributes:
        clip: Largest squared error counted by "clipped-squared" (reward >= -clip).
        sigma: Width of the "gaussian" kernel exp(-d^2 / (2 sigma^2)).
    """

    clip: float = 1.0
    sigma: float = 0.1

    def __post_init__(self) -> None:
        for name in ("clip", "sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"reward option {name} must be a finite number > 0, got {value}")


@dataclass(frozen=True)
class NegativeSquaredError:
    """-(prediction - target)^2."""

    def __call__(self, predictions: Tensor, targets: Tensor) -> Tensor:
        return -((predictions - targets) ** 2)


@dataclass(frozen=True)
class NegativeAbsoluteError:
    """-|prediction - target|."""

    def __call__(self, predictions: Tensor, targets: Tensor) -> Tensor:
        return -(predictions - targets).abs()


@dataclass(frozen=True)
class ClippedSquaredError:
    """-min((prediction - target)^2, clip): far misses all cost the same."""

    clip: float = 1.0

    def __call__(self, predictions: Tensor, targets: Tensor) -> Tensor:
        return -((predictions - targets) ** 2).clamp(max=self.clip)


@dataclass(frozen=True)
class GaussianKernel:
    """exp(-(prediction - target)^2 / (2 sigma^2)), in (0, 1]."""

    sigma: float = 0.1

    def __call__(self, predictions: Tensor, targets: Tensor) -> Tensor:
        return torch.exp(-((predictions - targets) ** 2) / (2 * self.sigma**2))


RewardFunction = Callable[[Tensor, Tensor], Tensor]

REWARDS: dict[str, Callable[[RewardOptions], RewardFunction]] = {
    "squared": lambda options: NegativeSquaredError(),
    "absolute": lambda options: NegativeAbsoluteError(),
    "clipped-squared": lambda options: ClippedSquaredError(options.clip),
    "gaussian": lambda options: GaussianKernel(options.sigma),
}
"""Reward name -> factory taking `RewardOptions`; add an entry to register your own."""


def make_reward(name: str, options: RewardOptions | None = None) -> RewardFunction:
    """Build reward `name`; a ConfigError naming the choices when it does not exist.

    The reward is tried on a small probe so that one returning NaN, infinity or the wrong
    shape fails here, before any training step.
    """
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}; choose from {sorted(REWARDS)}")
    reward = REWARDS[name](options or RewardOptions())
    probe_predictions = torch.tensor([0.0, 0.5, 1.0, -2.0], dtype=torch.float64, device=HOST)
    probe_targets = torch.tensor([0.0, 1.0, 0.25, 3.0], dtype=torch.float64, device=HOST)
    try:
        _checked(reward(probe_predictions, probe_targets), probe_predictions, probe_targets, name)
    except RewardError as error:
        raise ConfigError(f"reward {name!r} fails on a probe: {error}") from error
    return reward


def compute_rewards(
    reward: RewardFunction,
    predictions: Tensor,  # [N] float64, NaN where the output could not be parsed
    targets: Tensor,  # [N] float64
    *,
    unparseable_reward: float,
    name: str = "reward",
) -> Tensor:
    """[N] float64 rewards; unparseable outputs get `unparseable_reward`.

    Raises:
        RewardError: when the reward is NaN or infinite for a parsed prediction, naming the
            first such prediction and target.
    """
    predictions = predictions.double()
    targets = targets.double()
    parsed = torch.isfinite(predictions)
    safe = torch.where(parsed, predictions, targets)
    values = _checked(reward(safe, targets), safe, targets, name, rows=parsed)
    return torch.where(
        parsed, values.double(), torch.full_like(values.double(), unparseable_reward)
    )


def _checked(
    values: Tensor, predictions: Tensor, targets: Tensor, name: str, rows: Tensor | None = None
) -> Tensor:
    if not isinstance(values, Tensor) or values.shape != predictions.shape:
        shape = getattr(values, "shape", type(values).__name__)
        raise RewardError(
            f"{name} must return a tensor of shape {tuple(predictions.shape)}, got {shape}"
        )
    bad = ~torch.isfinite(values)
    if rows is not None:
        bad &= rows
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise RewardError(
            f"{name} returned {float(values[i])} for prediction {float(predictions[i])} and "
            f"target {float(targets[i])}; rewards must be finite"
        )
    return values
