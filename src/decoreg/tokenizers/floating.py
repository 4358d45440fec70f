"""Floating-point formats: sign, mantissa digits and an exponent, in two layouts.

    p10: sign, K decimal mantissa digits, exponent token: y = s * m * 10^e, |e| <= max_exponent.
    ieee: sign, exponent sign, exponent digits, mantissa digits in base B:
        y = s * (m / B^(M-1)) * B^e.

Values are rounded in exact (Fraction) arithmetic. Overflow clamps to the largest magnitude;
underflow rounds to a multiple of the smallest step, so tiny values become zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from decoreg.errors import require
from decoreg.tokenizers.base import (
    PositionalTokenizer,
    digit_tokens,
    read_digits,
    require_digits,
    require_number,
    round_half_up,
    tok,
)


def _floor_log(x: Fraction, base: int) -> int:
    """Exact k with base**k <= x < base**(k+1), for x > 0."""
    k = math.floor(math.log(float(x)) / math.log(base)) if float(x) > 0 else -1100
    while Fraction(base) ** k > x:
        k -= 1
    while Fraction(base) ** (k + 1) <= x:
        k += 1
    return k


def _quantize(x: Fraction, base: int, digits: int, min_exp: int, max_exp: int) -> tuple[int, int]:
    """Round x >= 0 to m * base**e with m < base**digits and min_exp <= e <= max_exp.

    Normalized (leading digit non-zero) when the range allows; below it, e = min_exp and m may
    have leading zeros or be 0 (gradual underflow); above it, m and e clamp to their maxima.
    """
    top = base**digits
    if x == 0:
        return 0, min(max(0, min_exp), max_exp)
    exponent = max(_floor_log(x, base) - digits + 1, min_exp)
    mantissa = round_half_up(x / Fraction(base) ** exponent)
    if mantissa >= top:  # rounding carried into a new leading digit: 99.96 -> 100.0
        mantissa, exponent = top // base, exponent + 1
    if exponent > max_exp:
        return top - 1, max_exp
    return mantissa, exponent


def _sign_and_magnitude(y: float, max_value: float) -> tuple[str, Fraction]:
    """The sign token of y (-0.0 keeps its sign) and |y| exactly; infinities clamp to
    `max_value`; NaN is a ValueError."""
    require_number(y)
    sign = tok("-") if math.copysign(1.0, y) < 0 else tok("+")
    return sign, Fraction(max_value) if math.isinf(y) else abs(Fraction(y))


def _scaled(mantissa: np.ndarray, base: int, exponent: np.ndarray) -> np.ndarray:
    """[N] mantissa * base**exponent in float64, exact-rounded while base**|e| fits a double."""
    mantissa = mantissa.astype(np.float64)
    power = np.power(float(base), np.abs(exponent).astype(np.float64))
    return np.where(exponent >= 0, mantissa * power, mantissa / power)


@dataclass(frozen=True)
class P10Tokenizer(PositionalTokenizer):
    """Sign, `digits` decimal mantissa digits, exponent: 12.5 -> <+><1><2><5><0><E-3>.

    y = s * m * 10^e with m the integer mantissa and -max_exponent <= e <= max_exponent.
    Overflow clamps to (10^digits - 1) * 10^max_exponent; underflow rounds to a multiple of
    10^-max_exponent (zero for tiny values). Zero is <+><0>...<E0>; -0.0 keeps its sign.
    """

    digits: int = 4
    max_exponent: int = 10
    name: ClassVar[str] = "p10"

    def __post_init__(self) -> None:
        require(1 <= self.digits <= 15, f"p10: digits must be in [1, 15], not {self.digits}")
        require(
            0 <= self.max_exponent <= 290,
            f"p10: max_exponent must be in [0, 290], not {self.max_exponent}",
        )

    @property
    def num_tokens(self) -> int:
        return self.digits + 2

    def _exponent_tokens(self) -> tuple[str, ...]:
        return tuple(tok(f"E{e}") for e in range(-self.max_exponent, self.max_exponent + 1))

    def all_tokens(self) -> tuple[str, ...]:
        signs = (tok("+"), tok("-"))
        return signs + tuple(tok(d) for d in range(10)) + self._exponent_tokens()

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        if position == 0:
            return (tok("+"), tok("-"))
        if position == self.num_tokens - 1:
            return self._exponent_tokens()
        return tuple(tok(d) for d in range(10))

    def to_tokens(self, y: float) -> list[str]:
        sign, magnitude = _sign_and_magnitude(y, self.max_value)
        e_max = self.max_exponent
        m, e = _quantize(magnitude, 10, self.digits, -e_max, e_max)
        return [sign, *digit_tokens(m, 10, self.digits), tok(f"E{e}")]

    @property
    def max_value(self) -> float:
        return float((10**self.digits - 1) * Fraction(10) ** self.max_exponent)

    def resolution(self, y: float) -> float:
        if y == 0:
            return 0.0
        exponent = max(_floor_log(abs(Fraction(y)), 10) - self.digits + 1, -self.max_exponent)
        return 0.5 * 10.0**exponent

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        negative = ids[:, 0] == self.token_to_id[tok("-")]
        mantissa = read_digits(ids[:, 1:-1], self.token_to_id[tok(0)], 10)
        exponent = ids[:, -1] - self.token_to_id[tok(f"E{-self.max_exponent}")] - self.max_exponent
        return np.where(negative, -1.0, 1.0) * _scaled(mantissa, 10, exponent)


@dataclass(frozen=True)
class IEEETokenizer(PositionalTokenizer):
    """Sign, exponent sign, exponent digits, mantissa digits, all in base `base`.

    y = s * (m / base^(M-1)) * base^e with M = mantissa_digits and
    |e| <= base^exponent_digits - 1: with base 10, one exponent digit and four mantissa digits,
    1.234e-5 -> <+><-><5><1><2><3><4>. Overflow clamps to the largest magnitude; underflow
    rounds to a multiple of the smallest step (zero for tiny values). -0.0 keeps its sign.
    """

    base: int = 10
    exponent_digits: int = 1
    mantissa_digits: int = 4
    name: ClassVar[str] = "ieee"

    def __post_init__(self) -> None:
        require_digits(self.name, self.base, self.mantissa_digits, "mantissa_digits")
        require(
            1 <= self.exponent_digits <= 10
            and (self.base**self.exponent_digits + self.mantissa_digits) * math.log(self.base)
            < math.log(1e300),
            f"ieee: exponent_digits must be >= 1 and keep base**(base**exponent_digits) within "
            f"float64, not {self.exponent_digits}",
        )

    @property
    def num_tokens(self) -> int:
        return 2 + self.exponent_digits + self.mantissa_digits

    @property
    def _e_max(self) -> int:
        return self.base**self.exponent_digits - 1

    def all_tokens(self) -> tuple[str, ...]:
        return (tok("+"), tok("-"), *(tok(d) for d in range(self.base)))

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        if position < 2:
            return (tok("+"), tok("-"))
        return tuple(tok(d) for d in range(self.base))

    @property
    def max_value(self) -> float:
        top = self.base**self.mantissa_digits - 1
        return float(top * Fraction(self.base) ** (self._e_max - self.mantissa_digits + 1))

    def to_tokens(self, y: float) -> list[str]:
        sign, magnitude = _sign_and_magnitude(y, self.max_value)
        shift = self.mantissa_digits - 1  # e of the integer mantissa = e of the number - shift
        m, e_int = _quantize(
            magnitude, self.base, self.mantissa_digits, -self._e_max - shift, self._e_max - shift
        )
        exponent = 0 if m == 0 else e_int + shift
        exp_sign = tok("-") if exponent < 0 else tok("+")
        return [
            sign,
            exp_sign,
            *digit_tokens(abs(exponent), self.base, self.exponent_digits),
            *digit_tokens(m, self.base, self.mantissa_digits),
        ]

    def resolution(self, y: float) -> float:
        if y == 0:
            return 0.0
        shift = self.mantissa_digits - 1
        lowest = -self._e_max - shift
        exponent = max(_floor_log(abs(Fraction(y)), self.base) - shift, lowest)
        return 0.5 * float(self.base) ** exponent

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        minus, digit0 = self.token_to_id[tok("-")], self.token_to_id[tok(0)]
        split = 2 + self.exponent_digits
        exponent = read_digits(ids[:, 2:split], digit0, self.base)
        exponent = np.where(ids[:, 1] == minus, -exponent, exponent)
        mantissa = read_digits(ids[:, split:], digit0, self.base)
        value = _scaled(mantissa, self.base, exponent - (self.mantissa_digits - 1))
        return np.where(ids[:, 0] == minus, -1.0, 1.0) * value
