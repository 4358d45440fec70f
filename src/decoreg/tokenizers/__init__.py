"""Number tokenizers for the tabular encoder-decoder: a number is a fixed-length token string.

Every tokenizer shares one interface: `to_tokens(y)`, `from_tokens(tokens)`, `all_tokens()` and
`possible_next_tokens(prefix)`; the last one is the grammar used to mask logits so that
constrained decoding can only write valid numbers. Tokens are strings such as `<+>`, `<->`,
`<3>` and `<E-2>`; a token's id is its index in `all_tokens()`.

Formats (one module each):
    normalized (`normalized.py`): y in [0, 1] as K digits in base B (GenRe2's default),
        y ~ sum_i d_i B^-(i+1).
    p10 (`floating.py`): sign, K decimal mantissa digits, exponent token: y = s * m * 10^e,
        |e| <= max_exponent.
    ieee (`floating.py`): sign, exponent sign, exponent digits, mantissa digits in base B:
        y = s * (m / B^(M-1)) * B^e.
    SpecialValues (`special.py`): wraps any of them with `<NAN>`, `<INF>`, `<-INF>` and
        `<INVALID>` strings.
The interface, the position-only grammar base and the token/id helpers live in `base.py`.

Out-of-range values are clamped: above the largest magnitude to the largest, below the smallest
normal magnitude to the nearest multiple of the smallest step (so tiny values become zero).
NaN raises `ValueError` unless the special-value wrapper is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from decoreg.errors import ConfigError
from decoreg.tokenizers.base import NumberTokenizer
from decoreg.tokenizers.floating import IEEETokenizer, P10Tokenizer
from decoreg.tokenizers.normalized import NormalizedTokenizer
from decoreg.tokenizers.special import INVALID, SpecialValues

__all__ = [
    "INVALID",
    "NUMBER_TOKENIZERS",
    "IEEETokenizer",
    "NormalizedTokenizer",
    "NumberTokenizer",
    "P10Tokenizer",
    "SpecialValues",
    "make_tokenizer",
]

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
