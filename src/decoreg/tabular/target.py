"""The tabular target transform: z-score with training statistics, then min-max to [0, 1].

As in GenRe2: z = (y - mean) / std, then u = (z - z_min) / (z_max - z_min) with the training
extremes, so training targets span exactly [0, 1] (the normalized tokenizer's range). The
composition is affine, so it is exactly invertible; decoded values can be clipped to
[-margin, 1 + margin] before inverting, which bounds predictions to the training range widened
by `margin` times its width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from decoreg.errors import ConfigError, DataError


@dataclass(frozen=True)
class TargetTransform:
    """A fitted, invertible target transform. Build it with `TargetTransform.fit`.

    Attributes:
        mean: Training target mean.
        std: Training target standard deviation (population, ddof=0); > 0.
        z_min: Smallest training z-score.
        z_max: Largest training z-score; > z_min.
        clip_margin: Decoded values clip to [-clip_margin, 1 + clip_margin] in `inverse`;
            None disables clipping.
    """

    mean: float
    std: float
    z_min: float
    z_max: float
    clip_margin: float | None = 0.1

    def __post_init__(self) -> None:
        values = (self.mean, self.std, self.z_min, self.z_max)
        if not all(math.isfinite(v) for v in values) or self.std <= 0 or self.z_max <= self.z_min:
            raise ConfigError(f"invalid target transform statistics: {values}")
        if self.clip_margin is not None and not 0 <= self.clip_margin < math.inf:
            raise ConfigError(f"clip_margin must be >= 0 or None, got {self.clip_margin}")

    @classmethod
    def fit(cls, y: np.ndarray, clip_margin: float | None = 0.1) -> TargetTransform:
        """Learn the statistics from training targets.

        Raises:
            DataError: for fewer than two targets, a missing or infinite target (naming its
                row) or a constant target (its z-score is undefined).
        """
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        check_targets(y)
        if len(y) < 2:
            raise DataError(f"need at least two training targets, got {len(y)}")
        std = float(y.std())
        if std == 0.0 or float(y.max() - y.min()) == 0.0:
            raise DataError(
                f"the target is constant ({float(y[0])} in all {len(y)} rows): its z-score is "
                "undefined and there is nothing to regress"
            )
        z = (y - y.mean()) / std
        return cls(float(y.mean()), std, float(z.min()), float(z.max()), clip_margin)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """[N] raw targets -> [N] float64 in the [0, 1] training range (NaN stays NaN)."""
        z = (np.asarray(y, dtype=np.float64) - self.mean) / self.std
        return (z - self.z_min) / (self.z_max - self.z_min)

    def clip(self, u: np.ndarray) -> np.ndarray:
        """[N] transformed values clipped to [-clip_margin, 1 + clip_margin]."""
        u = np.asarray(u, dtype=np.float64)
        if self.clip_margin is None:
            return u
        return np.clip(u, -self.clip_margin, 1.0 + self.clip_margin)

    def inverse(self, u: np.ndarray, clip: bool = True) -> np.ndarray:
        """[N] transformed values -> [N] raw-scale float64 (clipped first when `clip`)."""
        u = self.clip(u) if clip else np.asarray(u, dtype=np.float64)
        z = u * (self.z_max - self.z_min) + self.z_min
        return z * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetTransform:
        return cls(**{k: data[k] for k in ("mean", "std", "z_min", "z_max", "clip_margin")})


def check_targets(y: np.ndarray) -> None:
    """DataError naming the first row whose target is NaN or infinite."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise DataError(
            f"target row {int(bad[0])} is {float(y[bad[0]])} ({len(bad)} non-finite target(s)); "
            "drop those rows"
        )
