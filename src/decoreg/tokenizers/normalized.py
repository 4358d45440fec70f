"""Fixed-point numbers in [0, 1]: `digits` base-`base` digits (GenRe2's default format)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from decoreg.tokenizers.base import (
    PositionalTokenizer,
    digit_tokens,
    read_digits,
    require_digits,
    require_number,
    round_half_up,
    tok,
)


@dataclass(frozen=True)
class NormalizedTokenizer(PositionalTokenizer):
    """y in [0, 1] as `digits` base-`base` digits: 0.523 -> <5><2><3> (base 10, 3 digits).

    Values round to the nearest multiple of base**-digits; the largest code is
    1 - base**-digits, so 1.0 writes as all (base - 1) digits. Values outside [0, 1], including
    infinities, clamp to the ends; the format has no sign, so -0.0 reads back as 0.0.

    The default, 3 base-10 digits, resolves 0.1% of the target range: finer than the error of
    the tabular models, and one token shorter to learn and decode than 4 digits
    (benchmarks/results/tabular_objectives.md).
    """

    base: int = 10
    digits: int = 3
    name: ClassVar[str] = "normalized"

    def __post_init__(self) -> None:
        require_digits(self.name, self.base, self.digits)

    @property
    def num_tokens(self) -> int:
        return self.digits

    def all_tokens(self) -> tuple[str, ...]:
        return tuple(tok(d) for d in range(self.base))

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        return self.all_tokens()

    def to_tokens(self, y: float) -> list[str]:
        require_number(y)
        top = self.base**self.digits
        code = (
            0 if y <= 0 else top - 1 if y >= 1 else min(round_half_up(Fraction(y) * top), top - 1)
        )
        return digit_tokens(code, self.base, self.digits)

    def resolution(self, y: float) -> float:
        step = float(self.base) ** -self.digits
        return max(0.5 * step, y - (1.0 - step))

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        return read_digits(ids, 0, self.base) / float(self.base) ** self.digits
