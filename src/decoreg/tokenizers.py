"""Number tokenizers for the tabular encoder-decoder: a number is a fixed-length token string.

Every tokenizer shares one interface: `to_tokens(y)`, `from_tokens(tokens)`, `all_tokens()` and
`possible_next_tokens(prefix)`; the last one is the grammar used to mask logits so that
constrained decoding can only write valid numbers. Tokens are strings such as `<+>`, `<->`,
`<3>` and `<E-2>`; a token's id is its index in `all_tokens()`.

Formats:
    normalized: y in [0, 1] as K digits in base B (GenRe2's default), y ~ sum_i d_i B^-(i+1).
    p10: sign, K decimal mantissa digits, exponent token: y = s * m * 10^e, |e| <= max_exponent.
    ieee: sign, exponent sign, exponent digits, mantissa digits in base B:
        y = s * (m / B^(M-1)) * B^e.
    SpecialValues: wraps any of them with `<NAN>`, `<INF>`, `<-INF>` and `<INVALID>` strings.

Out-of-range values are clamped: above the largest magnitude to the largest, below the smallest
normal magnitude to the nearest multiple of the smallest step (so tiny values become zero).
NaN raises `ValueError` unless the special-value wrapper is used.
"""

from __future__ import annotations

import dataclasses
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from decoreg.errors import ConfigError

_DIGIT = re.compile(r"<(\d+)>")
INVALID = "invalid"
"""Pass this string to `SpecialValues.to_tokens` to write the `<INVALID>` token string."""


def _tok(symbol: str | int) -> str:
    return f"<{symbol}>"


def _round_half_up(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


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
    mantissa = _round_half_up(x / Fraction(base) ** exponent)
    if mantissa >= top:  # rounding carried into a new leading digit: 99.96 -> 100.0
        mantissa, exponent = top // base, exponent + 1
    if exponent > max_exp:
        return top - 1, max_exp
    return mantissa, exponent


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _digit_tokens(value: int, base: int, width: int) -> list[str]:
    """`width` base-`base` digit tokens of value, most significant first."""
    out = []
    for _ in range(width):
        value, digit = divmod(value, base)
        out.append(_tok(digit))
    return out[::-1]


def _read_digits(ids: np.ndarray, offset: int, base: int) -> np.ndarray:
    """[N, W] digit-token ids (digit d has id offset + d) -> [N] int64 values."""
    value = np.zeros(len(ids), dtype=np.int64)
    for column in range(ids.shape[1]):
        value = value * base + (ids[:, column] - offset)
    return value


def _scaled(mantissa: np.ndarray, base: int, exponent: np.ndarray) -> np.ndarray:
    """[N] mantissa * base**exponent in float64, exact-rounded while base**|e| fits a double."""
    mantissa = mantissa.astype(np.float64)
    power = np.power(float(base), np.abs(exponent).astype(np.float64))
    return np.where(exponent >= 0, mantissa * power, mantissa / power)


class NumberTokenizer(ABC):
    """A fixed-length token format for real numbers."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def num_tokens(self) -> int:
        """Tokens per number (every number has the same length)."""

    @abstractmethod
    def all_tokens(self) -> tuple[str, ...]:
        """The vocabulary, in id order."""

    @abstractmethod
    def possible_next_tokens(self, prefix: Sequence[str]) -> tuple[str, ...]:
        """Tokens that may follow `prefix` in a valid number (the decoding grammar)."""

    @abstractmethod
    def to_tokens(self, y: float) -> list[str]:
        """Write y (clamped to the representable range) as `num_tokens` tokens."""

    @abstractmethod
    def resolution(self, y: float) -> float:
        """Bound on |from_tokens(to_tokens(y)) - y| in exact arithmetic, for y in range."""

    @abstractmethod
    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        """[N, L] grammar-valid ids -> [N] float64 values."""

    # ---- shared machinery -------------------------------------------------------------------

    def options(self) -> dict[str, int]:
        """The constructor options, as `make_tokenizer` takes them."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @cached_property
    def token_to_id(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.all_tokens())}

    @property
    def vocab_size(self) -> int:
        return len(self.all_tokens())

    def tokens_to_ids(self, tokens: Sequence[str]) -> list[int]:
        """Token strings -> ids; `ValueError` for a token outside the vocabulary."""
        try:
            return [self.token_to_id[t] for t in tokens]
        except KeyError as err:
            raise ValueError(f"{err.args[0]!r} is not a token of this tokenizer") from None

    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        vocab = self.all_tokens()
        return [vocab[int(i)] for i in ids]

    def is_valid(self, tokens: Sequence[str]) -> bool:
        """True when `tokens` is a complete number under the grammar."""
        if len(tokens) != self.num_tokens:
            return False
        return all(tok in self.possible_next_tokens(tokens[:i]) for i, tok in enumerate(tokens))

    def from_tokens(self, tokens: Sequence[str]) -> float:
        """Read a token string back; `ValueError` if it breaks the grammar."""
        if not self.is_valid(tokens):
            raise ValueError(f"not a valid number for {self.name}: {''.join(tokens)!r}")
        return float(self._decode_valid(np.asarray([self.tokens_to_ids(tokens)]))[0])

    def encode(self, values: Iterable[float]) -> np.ndarray:
        """[N] numbers -> [N, L] int64 token ids."""
        rows = [self.tokens_to_ids(self.to_tokens(float(v))) for v in values]
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), self.num_tokens)

    def valid_rows(self, ids: np.ndarray) -> np.ndarray:
        """[N, L] ids -> [N] bool, True where the row is a grammar-valid number."""
        ids = np.asarray(ids)
        return np.asarray([self.is_valid(self.ids_to_tokens(row)) for row in ids], dtype=bool)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """[N, L] ids -> [N] float64 values; NaN where a row breaks the grammar. Never raises."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, self.num_tokens)
        out = np.full(len(ids), np.nan)
        valid = self.valid_rows(ids)
        if valid.any():
            out[valid] = self._decode_valid(ids[valid])
        return out

    def next_token_mask(self, prefix_ids: Tensor) -> Tensor:
        """[N, t] prefix ids -> [N, V] bool, True where a token may come next."""
        rows = [self.possible_next_tokens(self.ids_to_tokens(r)) for r in prefix_ids.tolist()]
        mask = torch.zeros(len(rows), self.vocab_size, dtype=torch.bool)
        for i, allowed in enumerate(rows):
            mask[i, self.tokens_to_ids(allowed)] = True
        return mask

    def grammar_masks(self, ids: Tensor) -> Tensor:
        """[N, L] complete ids -> [N, L, V] bool: the mask for position t given ids[:, :t]."""
        return torch.stack([self.next_token_mask(ids[:, :t]) for t in range(ids.shape[1])], 1)

    def digit_values(self) -> np.ndarray:
        """[V] float64: the value of each digit token `<d>`, NaN for every other token."""
        out = np.full(self.vocab_size, np.nan)
        for i, token in enumerate(self.all_tokens()):
            if m := _DIGIT.fullmatch(token):
                out[i] = float(m.group(1))
        return out


class _PositionalTokenizer(NumberTokenizer):
    """A tokenizer whose grammar depends only on the position: masks are cached per position."""

    @abstractmethod
    def _allowed_at(self, position: int) -> tuple[str, ...]: ...

    def possible_next_tokens(self, prefix: Sequence[str]) -> tuple[str, ...]:
        if not 0 <= len(prefix) < self.num_tokens:
            raise ValueError(f"a prefix of {len(prefix)} tokens has no next token")
        return self._allowed_at(len(prefix))

    @cached_property
    def position_masks(self) -> np.ndarray:
        """[L, V] bool: allowed tokens at each position."""
        masks = np.zeros((self.num_tokens, self.vocab_size), dtype=bool)
        for position in range(self.num_tokens):
            masks[position, self.tokens_to_ids(self._allowed_at(position))] = True
        return masks

    def valid_rows(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, self.num_tokens)
        in_vocab = (ids >= 0) & (ids < self.vocab_size)
        safe = np.where(in_vocab, ids, 0)
        allowed = self.position_masks[np.arange(self.num_tokens), safe]
        return (in_vocab & allowed).all(axis=1)

    def next_token_mask(self, prefix_ids: Tensor) -> Tensor:
        position = prefix_ids.shape[1]
        if position >= self.num_tokens:
            raise ValueError(f"a prefix of {position} tokens has no next token")
        row = torch.from_numpy(self.position_masks[position])
        return row.unsqueeze(0).expand(prefix_ids.shape[0], -1).clone()


@dataclass(frozen=True)
class NormalizedTokenizer(_PositionalTokenizer):
    """y in [0, 1] as `digits` base-`base` digits: 0.523 -> <5><2><3> (base 10, 3 digits).

    Values round to the nearest multiple of base**-digits; the largest code is
    1 - base**-digits, so 1.0 writes as all (base - 1) digits. Values outside [0, 1], including
    infinities, clamp to the ends; the format has no sign, so -0.0 reads back as 0.0.
    """

    base: int = 10
    digits: int = 4
    name: ClassVar[str] = "normalized"

    def __post_init__(self) -> None:
        _require(2 <= self.base <= 1000, f"normalized: base must be in [2, 1000], not {self.base}")
        _require(
            self.digits >= 1 and self.base**self.digits <= 2**53,
            f"normalized: digits must be >= 1 with base**digits <= 2**53, not {self.digits}",
        )

    @property
    def num_tokens(self) -> int:
        return self.digits

    def all_tokens(self) -> tuple[str, ...]:
        return tuple(_tok(d) for d in range(self.base))

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        return self.all_tokens()

    def to_tokens(self, y: float) -> list[str]:
        if math.isnan(y):
            raise ValueError("cannot write NaN without the special-value wrapper")
        top = self.base**self.digits
        code = (
            0 if y <= 0 else top - 1 if y >= 1 else min(_round_half_up(Fraction(y) * top), top - 1)
        )
        return _digit_tokens(code, self.base, self.digits)

    def resolution(self, y: float) -> float:
        step = float(self.base) ** -self.digits
        return max(0.5 * step, y - (1.0 - step))

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        return _read_digits(ids, 0, self.base) / float(self.base) ** self.digits


@dataclass(frozen=True)
class P10Tokenizer(_PositionalTokenizer):
    """Sign, `digits` decimal mantissa digits, exponent: 12.5 -> <+><1><2><5><0><E-3>.

    y = s * m * 10^e with m the integer mantissa and -max_exponent <= e <= max_exponent.
    Overflow clamps to (10^digits - 1) * 10^max_exponent; underflow rounds to a multiple of
    10^-max_exponent (zero for tiny values). Zero is <+><0>...<E0>; -0.0 keeps its sign.
    """

    digits: int = 4
    max_exponent: int = 10
    name: ClassVar[str] = "p10"

    def __post_init__(self) -> None:
        _require(1 <= self.digits <= 15, f"p10: digits must be in [1, 15], not {self.digits}")
        _require(
            0 <= self.max_exponent <= 290,
            f"p10: max_exponent must be in [0, 290], not {self.max_exponent}",
        )

    @property
    def num_tokens(self) -> int:
        return self.digits + 2

    def _exponent_tokens(self) -> tuple[str, ...]:
        return tuple(_tok(f"E{e}") for e in range(-self.max_exponent, self.max_exponent + 1))

    def all_tokens(self) -> tuple[str, ...]:
        signs = (_tok("+"), _tok("-"))
        return signs + tuple(_tok(d) for d in range(10)) + self._exponent_tokens()

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        if position == 0:
            return (_tok("+"), _tok("-"))
        if position == self.num_tokens - 1:
            return self._exponent_tokens()
        return tuple(_tok(d) for d in range(10))

    def to_tokens(self, y: float) -> list[str]:
        if math.isnan(y):
            raise ValueError("cannot write NaN without the special-value wrapper")
        sign = _tok("-") if math.copysign(1.0, y) < 0 else _tok("+")
        magnitude = Fraction(self.max_value) if math.isinf(y) else abs(Fraction(y))
        e_max = self.max_exponent
        m, e = _quantize(magnitude, 10, self.digits, -e_max, e_max)
        return [sign, *_digit_tokens(m, 10, self.digits), _tok(f"E{e}")]

    @property
    def max_value(self) -> float:
        return float((10**self.digits - 1) * Fraction(10) ** self.max_exponent)

    def resolution(self, y: float) -> float:
        if y == 0:
            return 0.0
        exponent = max(_floor_log(abs(Fraction(y)), 10) - self.digits + 1, -self.max_exponent)
        return 0.5 * 10.0**exponent

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        negative = ids[:, 0] == self.token_to_id[_tok("-")]
        mantissa = _read_digits(ids[:, 1:-1], self.token_to_id[_tok(0)], 10)
        exponent = ids[:, -1] - self.token_to_id[_tok(f"E{-self.max_exponent}")] - self.max_exponent
        return np.where(negative, -1.0, 1.0) * _scaled(mantissa, 10, exponent)


@dataclass(frozen=True)
class IEEETokenizer(_PositionalTokenizer):
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
        _require(2 <= self.base <= 1000, f"ieee: base must be in [2, 1000], not {self.base}")
        _require(
            self.mantissa_digits >= 1 and self.base**self.mantissa_digits <= 2**53,
            f"ieee: need mantissa_digits >= 1 and base**mantissa_digits <= 2**53, "
            f"not {self.mantissa_digits}",
        )
        _require(
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
        return (_tok("+"), _tok("-"), *(_tok(d) for d in range(self.base)))

    def _allowed_at(self, position: int) -> tuple[str, ...]:
        if position < 2:
            return (_tok("+"), _tok("-"))
        return tuple(_tok(d) for d in range(self.base))

    @property
    def max_value(self) -> float:
        top = self.base**self.mantissa_digits - 1
        return float(top * Fraction(self.base) ** (self._e_max - self.mantissa_digits + 1))

    def to_tokens(self, y: float) -> list[str]:
        if math.isnan(y):
            raise ValueError("cannot write NaN without the special-value wrapper")
        sign = _tok("-") if math.copysign(1.0, y) < 0 else _tok("+")
        magnitude = Fraction(self.max_value) if math.isinf(y) else abs(Fraction(y))
        shift = self.mantissa_digits - 1  # e of the integer mantissa = e of the number - shift
        m, e_int = _quantize(
            magnitude, self.base, self.mantissa_digits, -self._e_max - shift, self._e_max - shift
        )
        exponent = 0 if m == 0 else e_int + shift
        exp_sign = _tok("-") if exponent < 0 else _tok("+")
        return [
            sign,
            exp_sign,
            *_digit_tokens(abs(exponent), self.base, self.exponent_digits),
            *_digit_tokens(m, self.base, self.mantissa_digits),
        ]

    def resolution(self, y: float) -> float:
        if y == 0:
            return 0.0
        shift = self.mantissa_digits - 1
        lowest = -self._e_max - shift
        exponent = max(_floor_log(abs(Fraction(y)), self.base) - shift, lowest)
        return 0.5 * float(self.base) ** exponent

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        minus, digit0 = self.token_to_id[_tok("-")], self.token_to_id[_tok(0)]
        split = 2 + self.exponent_digits
        exponent = _read_digits(ids[:, 2:split], digit0, self.base)
        exponent = np.where(ids[:, 1] == minus, -exponent, exponent)
        mantissa = _read_digits(ids[:, split:], digit0, self.base)
        value = _scaled(mantissa, self.base, exponent - (self.mantissa_digits - 1))
        return np.where(ids[:, 0] == minus, -1.0, 1.0) * value


_SPECIALS: dict[str, float] = {
    "NAN": math.nan,
    "INF": math.inf,
    "-INF": -math.inf,
    "INVALID": math.nan,
}


@dataclass(frozen=True)
class SpecialValues(NumberTokenizer):
    """Adds NaN, +inf, -inf and invalid to a tokenizer as repeated special tokens.

    A special value fills all L positions with its token (<NAN><NAN>...), so every number keeps
    the inner length. The grammar allows a special token only first, and after one only the same
    token. Reading back gives NaN for <NAN> and <INVALID>; `special_value` tells them apart.
    """

    inner: NumberTokenizer
    name: ClassVar[str] = "special"

    def __post_init__(self) -> None:
        if isinstance(self.inner, SpecialValues):
            raise ConfigError("SpecialValues cannot wrap another SpecialValues")

    @property
    def num_tokens(self) -> int:
        return self.inner.num_tokens

    @cached_property
    def special_tokens(self) -> tuple[str, ...]:
        return tuple(_tok(s) for s in _SPECIALS)

    def options(self) -> dict[str, int]:
        return self.inner.options()

    def all_tokens(self) -> tuple[str, ...]:
        return self.inner.all_tokens() + self.special_tokens

    def possible_next_tokens(self, prefix: Sequence[str]) -> tuple[str, ...]:
        if not prefix:
            return self.inner.possible_next_tokens(prefix) + self.special_tokens
        if len(prefix) >= self.num_tokens:
            raise ValueError(f"a prefix of {len(prefix)} tokens has no next token")
        if prefix[0] in self.special_tokens:
            return (prefix[0],)
        return self.inner.possible_next_tokens(prefix)

    def to_tokens(self, y: float | str) -> list[str]:
        if isinstance(y, str):
            if y != INVALID:
                raise ValueError(f"the only string SpecialValues writes is {INVALID!r}, got {y!r}")
            return [_tok("INVALID")] * self.num_tokens
        if math.isnan(y):
            return [_tok("NAN")] * self.num_tokens
        if math.isinf(y):
            return [_tok("INF" if y > 0 else "-INF")] * self.num_tokens
        return self.inner.to_tokens(y)

    def special_value(self, tokens: Sequence[str]) -> str | None:
        """'NAN', 'INF', '-INF' or 'INVALID' for a special token string, else None."""
        return tokens[0][1:-1] if tokens and tokens[0] in self.special_tokens else None

    def resolution(self, y: float) -> float:
        return 0.0 if not math.isfinite(y) else self.inner.resolution(y)

    def _decode_valid(self, ids: np.ndarray) -> np.ndarray:
        first = ids[:, 0] - self.inner.vocab_size
        special = first >= 0
        out = np.empty(len(ids))
        if special.any():
            out[special] = np.asarray(list(_SPECIALS.values()))[first[special]]
        if (~special).any():
            out[~special] = self.inner._decode_valid(ids[~special])
        return out

    def valid_rows(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, self.num_tokens)
        n_inner = self.inner.vocab_size
        repeated = (ids >= n_inner) & (ids < self.vocab_size) & (ids == ids[:, :1])
        special_ok = repeated.all(axis=1)
        plain_ok = (ids < n_inner).all(axis=1) & self.inner.valid_rows(np.minimum(ids, n_inner - 1))
        return special_ok | plain_ok

    def next_token_mask(self, prefix_ids: Tensor) -> Tensor:
        n, position = prefix_ids.shape
        n_inner = self.inner.vocab_size
        mask = torch.zeros(n, self.vocab_size, dtype=torch.bool)
        if position == 0:
            mask[:, :n_inner] = self.inner.next_token_mask(prefix_ids)
            mask[:, n_inner:] = True
            return mask
        if position >= self.num_tokens:
            raise ValueError(f"a prefix of {position} tokens has no next token")
        first = prefix_ids[:, 0]
        special = first >= n_inner
        mask[:, :n_inner] = self.inner.next_token_mask(prefix_ids.clamp(max=n_inner - 1))
        mask[special] = False
        mask[special, first[special]] = True
        return mask


NUMBER_TOKENIZERS: dict[str, type[NumberTokenizer]] = {
    "normalized": NormalizedTokenizer,
    "p10": P10Tokenizer,
    "ieee": IEEETokenizer,
}
"""Tokenizer classes by name; build one with `make_tokenizer(name, options)`."""


def make_tokenizer(
    name: str, options: Mapping[str, int] | None = None, *, special_values: bool = False
) -> NumberTokenizer:
    """Build a tokenizer by registry name, checking option names.

    Args:
        name: A key of `NUMBER_TOKENIZERS`.
        options: Constructor options, e.g. {"base": 10, "digits": 4} for "normalized".
        special_values: Wrap the tokenizer in `SpecialValues`.

    Raises:
        ConfigError: for an unknown name, an unknown option or an invalid value.
    """
    if name not in NUMBER_TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {name!r}; choose one of {sorted(NUMBER_TOKENIZERS)}")
    cls = NUMBER_TOKENIZERS[name]
    valid = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    options = dict(options or {})
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"tokenizer {name!r} has no option(s) {unknown}; valid: {valid}")
    for key, value in options.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"tokenizer option {key!r} must be an int, got {value!r}")
    tokenizer = cls(**options)
    return SpecialValues(tokenizer) if special_values else tokenizer
