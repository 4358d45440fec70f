"""The grammar of numbers a causal LM writes with a fixed number of decimals.

`DecimalFormat(d)` writes `[-]I[.F]` with an integer part I without leading zeros and exactly
d decimals (none when d = 0), then the LM writes end-of-sequence. `DigitGrammar` says which
characters may come next after a prefix (constrained sampling masks every other token) and how
close the best completion of a prefix can get to a target (the expert of expert-guided
ReMax picks the next character whose best completion is closest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from decoreg.errors import ConfigError

EOS = ""
"""The end-of-sequence symbol in this module's character alphabet."""
DIGITS = "0123456789"
ALPHABET = (*DIGITS, ".", "-", EOS)
"""Every symbol a number is written with, in a fixed order (index = column of masks)."""


@dataclass(frozen=True)
class DigitGrammar:
    """Numbers `[-]I[.F]` with 1..max_int_digits integer digits and exactly `decimals` decimals.

    Attributes:
        decimals: Digits after the point (0: no point).
        max_int_digits: Longest integer part.
        allow_negative: Whether a leading minus may be written.
    """

    decimals: int
    max_int_digits: int
    allow_negative: bool

    def __post_init__(self) -> None:
        if self.decimals < 0 or self.max_int_digits < 1:
            raise ConfigError(
                f"a digit grammar needs decimals >= 0 and max_int_digits >= 1, got {self}"
            )

    @classmethod
    def for_range(cls, low: float, high: float, decimals: int) -> DigitGrammar:
        """The grammar covering every number in [low, high] written with `decimals`."""
        widest = max(abs(low), abs(high))
        return cls(decimals, len(str(math.floor(widest))), low < 0)

    @property
    def max_tokens(self) -> int:
        """Symbols in the longest number, end-of-sequence included."""
        return int(self.allow_negative) + self.max_int_digits + self._fraction_width + 1

    @property
    def _fraction_width(self) -> int:
        return self.decimals + 1 if self.decimals else 0

    def allowed(self, prefix: str) -> tuple[str, ...]:
        """Symbols of `ALPHABET` that may follow `prefix` (EOS is "")."""
        sign, integer, point, fraction = _split(prefix)
        if point:
            return tuple(DIGITS) if len(fraction) < self.decimals else (EOS,)
        if not integer:
            lead = DIGITS if (not sign or self.decimals) else DIGITS[1:]
            return (*lead, "-") if (not sign and self.allow_negative) else tuple(lead)
        more = tuple(DIGITS) if integer != "0" and len(integer) < self.max_int_digits else ()
        return (*more, "." if self.decimals else EOS)

    def closest_distance(self, prefix: str, target: float) -> float:
        """min |v - target| over the numbers v this grammar can still write after `prefix`."""
        return min(_distance(target, lo, hi) for lo, hi in self._reachable(prefix))

    def distance_after(self, prefix: str, symbol: str, target: float) -> float:
        """Distance to `target` of the best number that writes `prefix` then `symbol`."""
        if symbol == EOS:
            value = float(prefix)
            return abs(value - target)
        return self.closest_distance(prefix + symbol, target)

    def _reachable(self, prefix: str) -> list[tuple[float, float]]:
        """Intervals [lo, hi] holding every number that can complete `prefix`."""
        sign, integer, point, fraction = _split(prefix)
        step = 10.0**-self.decimals
        top = 10.0**self.max_int_digits - step
        if not integer:
            spans = [(0.0, top)]
            if not sign and self.allow_negative:
                spans.append((-top, 0.0))
            return [_signed(s, sign) for s in spans] if sign else spans
        if point:
            low = float(f"{integer}.{fraction}") if fraction else float(integer)
            width = 10.0 ** -len(fraction) - step
            return [_signed((low, low + width), sign)]
        spans = []
        longest = len(integer) if integer == "0" else self.max_int_digits
        for extra in range(longest - len(integer) + 1):
            low = int(integer) * 10**extra
            spans.append(_signed((float(low), float(low + 10**extra) - step), sign))
        return spans


def _split(prefix: str) -> tuple[bool, str, bool, str]:
    """'-12.3' -> (negative, '12', has point, '3')."""
    sign = prefix.startswith("-")
    body = prefix[1:] if sign else prefix
    integer, point, fraction = body.partition(".")
    return sign, integer, bool(point), fraction


def _signed(span: tuple[float, float], negative: bool) -> tuple[float, float]:
    return (-span[1], -span[0]) if negative else span


def _distance(target: float, low: float, high: float) -> float:
    return max(low - target, 0.0, target - high)
