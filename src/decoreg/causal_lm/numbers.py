"""How a target is written as text and read back, and how targets are scaled onto a grid.

Parsing never raises: text that holds no number gives None, and callers count those.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from decoreg.errors import ConfigError

_NUMBER_PATTERN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class DecimalFormat:
    """Writes numbers with a fixed number of decimals: `DecimalFormat(1).format(3.14) == "3.1"`.

    Attributes:
        decimals: Digits after the decimal point (0 writes integers).
    """

    decimals: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= 8:
            raise ConfigError(f"decimals must be in 0..8, got {self.decimals}")

    def format(self, y: float) -> str:
        if not math.isfinite(y):
            raise ValueError(f"cannot write a non-finite number: {y}")
        text = f"{y:.{self.decimals}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0.0 else text

    def parse(self, text: str) -> float | None:
        """Read the first number in `text`; None when there is none or it is not finite."""
        match = _NUMBER_PATTERN.search(text)
        if match is None:
            return None
        value = float(match.group())
        return value if math.isfinite(value) else None


def parse_many(number_format: DecimalFormat, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse each text; returns ([N] float64 values with NaN where unparseable, [N] bool parsed)."""
    values = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        value = number_format.parse(text)
        if value is not None:
            values[i] = value
    return values, ~np.isnan(values)


@dataclass(frozen=True)
class AffineScaler:
    """z = scale * y + offset, mapping raw targets into the range the model writes.

    The identity scaler (scale 1, offset 0) is the default when targets already fit the grid.
    """

    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)) or self.scale == 0.0:
            raise ConfigError(f"scaler needs a finite non-zero scale, got {self}")

    @classmethod
    def onto(cls, source: tuple[float, float], target: tuple[float, float]) -> AffineScaler:
        """The scaler that maps the interval `source` linearly onto `target`."""
        (lo, hi), (a, b) = source, target
        if hi <= lo:
            raise ConfigError(f"cannot scale a degenerate target range {source}")
        scale = (b - a) / (hi - lo)
        return cls(scale=scale, offset=a - scale * lo)

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0

    def transform(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * self.scale + self.offset

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=np.float64) - self.offset) / self.scale

    def to_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "offset": self.offset}


def digit_grid(target_min: float, target_max: float) -> tuple[float, ...]:
    """The paper's default RAFT grid: the integers spanning the target range, within 0..9.

    Targets from 1 to 5 give (1, 2, 3, 4, 5). Ranges outside 0..9 are clipped to 0..9 and
    the caller must scale the targets onto it.
    """
    lo = max(0, math.floor(target_min))
    hi = min(9, math.ceil(target_max))
    if hi <= lo:
        lo, hi = (0, 9) if hi < lo else (max(0, lo - 1), min(9, hi + 1))
    return tuple(float(v) for v in range(lo, hi + 1))
