"""The tabular decoder's blocks: multi-head attention with separate key/value projection (so
cross-attention keys and values are computed once per row) and a pre-norm decoder layer, plus
the key/value state of incremental decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Attention(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _split(self, x: Tensor) -> Tensor:  # [N, T, d] -> [N, h, T, d/h]
        n, t, d = x.shape
        return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x: [N, T, d]
        key, value = self.key_value(x).chunk(2, dim=-1)
        return self._split(key), self._split(value)

    def forward(self, x: Tensor, key: Tensor, value: Tensor, causal: bool) -> Tensor:
        """x: [N, T, d]; key, value: [N, h, S, d/h] -> [N, T, d]."""
        attended = F.scaled_dot_product_attention(
            self._split(self.query(x)),
            key,
            value,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=causal,
        )
        n, _, t, _ = attended.shape
        return self.out(attended.transpose(1, 2).reshape(n, t, -1))


class DecoderLayer(nn.Module):
    """Pre-norm: causal self-attention, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float) -> None:
        super().__init__()
        self.self_norm, self.cross_norm, self.ff_norm = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attention = Attention(d_model, heads, dropout)
        self.cross_attention = Attention(d_model, heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_size), nn.GELU(), nn.Linear(ff_size, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,  # [N, T, d]
        memory_kv: tuple[Tensor, Tensor],  # [N, h, M, d/h] each
        cache: tuple[Tensor, Tensor] | None,  # [N, h, t, d/h] each: earlier positions
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h = self.self_norm(x)
        key, value = self.self_attention.keys_values(h)
        if cache is not None:
            key, value = torch.cat([cache[0], key], 2), torch.cat([cache[1], value], 2)
        x = x + self.drop(self.self_attention(h, key, value, causal=cache is None))
        x = x + self.drop(self.cross_attention(self.cross_norm(x), *memory_kv, causal=False))
        x = x + self.drop(self.ff(self.ff_norm(x)))
        return x, (key, value)


@dataclass
class DecodingState:
    """Incremental decoding state for N sequences (rows repeated for samples).

    Attributes:
        memory_kv: Per layer, the cross-attention keys and values, [N, h, M, d/h] each.
        cache: Per layer, the self-attention keys and values so far, [N, h, t, d/h] each.
        position: Tokens fed so far (t).
    """

    memory_kv: list[tuple[Tensor, Tensor]]
    cache: list[tuple[Tensor, Tensor]] | None = None
    position: int = 0
