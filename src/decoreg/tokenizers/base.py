"""The number tokenizer interface, a base for position-only grammars, and token/id helpers.

A tokenizer writes every number as the same number of tokens: strings such as `<+>`, `<3>` or
`<E-2>`, whose id is their index in `all_tokens()`. Subclasses implement the format
(`to_tokens`, `_decode_valid`, `all_tokens`) and the grammar (`possible_next_tokens`); the base
class derives the id-level helpers (`encode`, `decode`, `next_token_mask`, ...) from them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import cached_property
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from decoreg.errors import require

DIGIT_TOKEN = re.compile(r"<(\d+)>")


def tok(symbol: str | int) -> str:
    """The token string of a symbol: 3 -> "<3>", "E-2" -> "<E-2>"."""
    return f"<{symbol}>"


def round_half_up(q: Fraction) -> int:
    """The integer nearest q, halves rounded up (exact, unlike float rounding)."""
    return math.floor(q + Fraction(1, 2))


def require_digits(name: str, base: int, digits: int, option: str = "digits") -> None:
    """ConfigError unless 2 <= base <= 1000 and 1 <= `digits` digits in base `base` stay exact
    in float64 (base**digits <= 2**53)."""
    require(2 <= base <= 1000, f"{name}: base must be in [2, 1000], not {base}")
    require(
        digits >= 1 and base**digits <= 2**53,
        f"{name}: {option} must be >= 1 with base**{option} <= 2**53, not {digits}",
    )


def require_number(y: float) -> None:
    """ValueError for NaN: only the special-value wrapper (`SpecialValues`) writes it."""
    if math.isnan(y):
        raise ValueError("cannot write NaN without the special-value wrapper")


def digit_tokens(value: int, base: int, width: int) -> list[str]:
    """`width` base-`base` digit tokens of value, most significant first."""
    out = []
    for _ in range(width):
        value, digit = divmod(value, base)
        out.append(tok(digit))
    return out[::-1]


def read_digits(ids: np.ndarray, offset: int, base: int) -> np.ndarray:
    """[N, W] digit-token ids (digit d has id offset + d) -> [N] int64 values."""
    value = np.zeros(len(ids), dtype=np.int64)
    for column in range(ids.shape[1]):
        value = value * base + (ids[:, column] - offset)
    return value


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
        mask = torch.zeros(len(rows), self.vocab_size, dtype=torch.bool, device=prefix_ids.device)
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
            if m := DIGIT_TOKEN.fullmatch(token):
                out[i] = float(m.group(1))
        return out


class PositionalTokenizer(NumberTokenizer):
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
        row = torch.as_tensor(self.position_masks[position], device=prefix_ids.device)
        return row.unsqueeze(0).expand(prefix_ids.shape[0], -1).clone()
