"""`SpecialValues`: NaN, +inf, -inf and an "invalid" marker around any number tokenizer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from decoreg.errors import ConfigError
from decoreg.tokenizers.base import NumberTokenizer, tok

INVALID = "invalid"
"""Pass this string to `SpecialValues.to_tokens` to write the `<INVALID>` token string."""

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
        return tuple(tok(s) for s in _SPECIALS)

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
            return [tok("INVALID")] * self.num_tokens
        if math.isnan(y):
            return [tok("NAN")] * self.num_tokens
        if math.isinf(y):
            return [tok("INF" if y > 0 else "-INF")] * self.num_tokens
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
        mask = torch.zeros(n, self.vocab_size, dtype=torch.bool, device=prefix_ids.device)
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
