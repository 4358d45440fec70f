"""`TabularRegressor`: an MLP encoder over table rows feeding a small Transformer decoder that
writes the target as number tokens (RegressLM / GenRe2 style), plus two non-decoding heads
(pointwise and Riemann histogram) on the same encoder.

Inputs are a pandas DataFrame of feature rows or a sequence of dict rows (one mapping per row,
column name -> value); either way columns are matched by name, and extra columns are ignored.
Targets live in the [0, 1] space of `TargetTransform`. The decoder reads the encoder's output as
`memory_tokens` vectors through cross-attention; `start_decoding` / `decode_step` decode with a
key/value cache, so sampling many numbers per row costs one encoder pass per row.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from decoreg.core import Batch
from decoreg.errors import ConfigError, DataError
from decoreg.tabular.features import NAN_POLICIES, FeatureEncoder, as_frame
from decoreg.tabular.policy import TabularPolicy
from decoreg.tabular.target import TargetTransform, check_targets
from decoreg.tokenizers import NumberTokenizer, make_tokenizer

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "tabular.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TabularModelConfig:
    """Options of the tabular encoder-decoder. Defaults are a small GenRe2-sized model.

    The width, feed-forward size and dropout defaults (64, 256, 0.2) beat 128, 512, 0.1 on both
    Friedman #1 and abalone in test R^2 at half the training time (cross-entropy, lr 1e-3,
    batch 128, early stopping; see benchmarks/results/tabular_objectives.md).

    Attributes:
        tokenizer: Number tokenizer name (a key of `decoreg.tokenizers.NUMBER_TOKENIZERS`).
        tokenizer_options: Its options, e.g. {"base": 10, "digits": 4} (default: the
            tokenizer's own, 3 base-10 digits for "normalized").
        special_values: Wrap the tokenizer with NaN / inf / invalid tokens.
        d_model: Width of the encoder output and of the decoder.
        heads: Attention heads in the decoder (must divide d_model).
        layers: Decoder layers.
        ff_size: Hidden size of the decoder feed-forward blocks.
        dropout: Dropout in the encoder MLP and the decoder.
        encoder_layers: Hidden layers of the encoder MLP (each d_model wide).
        memory_tokens: Vectors the encoder hands the decoder's cross-attention.
        category_dim: Embedding width per categorical column.
        nan_policy: "error" or "impute" for missing feature values.
        categorical_columns: Columns forced categorical; None to infer from dtypes.
        clip_margin: Decoded values clip to [-m, 1 + m] in the target space; None: no clip.
        riemann_bins: Bins of the Riemann (histogram) head over [0, 1].
        seed: Seed for parameter initialization.
    """

    tokenizer: str = "normalized"
    tokenizer_options: Mapping[str, int] = field(default_factory=dict)
    special_values: bool = False
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    ff_size: int = 256
    dropout: float = 0.2
    encoder_layers: int = 2
    memory_tokens: int = 4
    category_dim: int = 16
    nan_policy: str = "error"
    categorical_columns: tuple[str, ...] | None = None
    clip_margin: float | None = 0.1
    riemann_bins: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokenizer_options", dict(self.tokenizer_options))
        if self.categorical_columns is not None:
            object.__setattr__(self, "categorical_columns", tuple(self.categorical_columns))
        self.make_tokenizer()  # ConfigError for a bad name or option
        for name in ("d_model", "heads", "layers", "ff_size", "encoder_layers", "memory_tokens"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        if self.d_model % self.heads:
            raise ConfigError(f"heads ({self.heads}) must divide d_model ({self.d_model})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.category_dim < 1 or self.riemann_bins < 2:
            raise ConfigError("category_dim must be >= 1 and riemann_bins >= 2")
        if self.nan_policy not in NAN_POLICIES:
            raise ConfigError(f"nan_policy must be one of {NAN_POLICIES}, got {self.nan_policy!r}")
        if self.clip_margin is not None and not 0.0 <= self.clip_margin < math.inf:
            raise ConfigError(f"clip_margin must be >= 0 or None, got {self.clip_margin}")

    def make_tokenizer(self) -> NumberTokenizer:
        return make_tokenizer(
            self.tokenizer, self.tokenizer_options, special_values=self.special_values
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categorical_columns"] = (
            None if self.categorical_columns is None else list(self.categorical_columns)
        )
        return data


class _Attention(nn.Module):
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


class _DecoderLayer(nn.Module):
    """Pre-norm: causal self-attention, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float) -> None:
        super().__init__()
        self.self_norm, self.cross_norm, self.ff_norm = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attention = _Attention(d_model, heads, dropout)
        self.cross_attention = _Attention(d_model, heads, dropout)
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


class TabularRegressor(nn.Module):
    """Encoder-decoder regression over table rows; implements `decoreg.core.RegressionModel`.

    Build one with `build_tabular_model` (fits the feature encoder and target transform) or
    read one back with `TabularRegressor.load`.
    """

    family = "tabular"

    def __init__(
        self, config: TabularModelConfig, features: FeatureEncoder, target: TargetTransform
    ) -> None:
        super().__init__()
        self.config, self.features, self.target = config, features, target
        self.tokenizer = config.make_tokenizer()
        d, cards = config.d_model, features.cardinalities
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)
        self.register_buffer("category_offsets", torch.from_numpy(offsets), persistent=False)
        self.category_embedding = nn.Embedding(max(sum(cards), 1), config.category_dim)
        width = len(features.numeric_columns_) + len(cards) * config.category_dim
        mlp: list[nn.Module] = []
        for _ in range(config.encoder_layers):
            mlp += [nn.Linear(width, d), nn.GELU(), nn.Dropout(config.dropout)]
            width = d
        self.encoder = nn.Sequential(*mlp)
        self.to_memory = nn.Linear(d, config.memory_tokens * d)
        self.memory_norm = nn.LayerNorm(d)
        vocab, length = self.tokenizer.vocab_size, self.tokenizer.num_tokens
        self.token_embedding = nn.Embedding(vocab + 1, d)  # id `vocab` starts every number
        self.position_embedding = nn.Embedding(length, d)
        self.decoder_layers = nn.ModuleList(
            _DecoderLayer(d, config.heads, config.ff_size, config.dropout)
            for _ in range(config.layers)
        )
        self.final_norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab)
        self.pointwise_head = nn.Linear(d, 1)
        self.riemann_head = nn.Linear(d, config.riemann_bins)
        for embedding in (self.token_embedding, self.position_embedding):
            nn.init.normal_(embedding.weight, std=0.02)
        digit_values = torch.from_numpy(self.tokenizer.digit_values()).float()
        self.register_buffer("digit_values", digit_values, persistent=False)

    # ---- RegressionModel protocol ------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def make_batch(
        self, inputs: pd.DataFrame | Sequence[Mapping[str, Any]], targets: np.ndarray | None
    ) -> Batch:
        """Feature rows (DataFrame or dict rows) and raw targets -> a `Batch`.

        `Batch.inputs` is {"numeric": [B, F_num] float32, "categorical": [B, F_cat] int64};
        `Batch.targets` is [B] float32 in the [0, 1] target space, or None.
        """
        encoded = self.features.transform(inputs)
        batch_inputs = {
            "numeric": encoded.numeric.to(self.device),
            "categorical": encoded.categorical.to(self.device),
        }
        if targets is None:
            return Batch(batch_inputs, None)
        y = np.asarray(targets, dtype=np.float64).reshape(-1)
        if len(y) != len(encoded.numeric):
            raise DataError(f"{len(encoded.numeric)} feature rows but {len(y)} targets")
        check_targets(y)
        u = torch.as_tensor(self.to_target_space(y), dtype=torch.float32, device=self.device)
        return Batch(batch_inputs, u)

    def prepare_inputs(self, inputs: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Check every row once up front (errors name the row and column); rows stay raw."""
        frame = as_frame(inputs).reset_index(drop=True)
        self.features.transform(frame)
        return frame

    @property
    def fallback(self) -> float:
        """Raw-space prediction where a decode is unusable: the training targets' mean."""
        return float(self.target.mean)

    def input_lengths(self, inputs: pd.DataFrame | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """[N] a constant cost per row: every row has the same features and number length."""
        return np.full(len(inputs), len(self.features.columns) + self.tokenizer.num_tokens)

    def to_target_space(self, y: np.ndarray) -> np.ndarray:
        return self.target.forward(y)

    def from_target_space(self, z: np.ndarray) -> np.ndarray:
        """[N] target-space values -> raw scale, clipped to the configured margin first."""
        return self.target.inverse(z, clip=True)

    # ---- encoder and heads ---------------------------------------------------------------------

    def encode(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Batch inputs -> [B, d] row representations."""
        parts = [inputs["numeric"]]
        categorical = inputs["categorical"]
        if categorical.shape[1]:
            embedded = self.category_embedding(categorical + self.category_offsets)
            parts.append(embedded.flatten(1))
        return self.encoder(torch.cat(parts, dim=1))

    def memory(self, encoded: Tensor) -> Tensor:  # encoded: [B, d] -> [B, M, d]
        d = self.config.d_model
        return self.memory_norm(self.to_memory(encoded).view(-1, self.config.memory_tokens, d))

    def pointwise(self, batch: Batch) -> Tensor:
        """[B] the pointwise head's prediction in the target space."""
        return self.pointwise_head(self.encode(batch.inputs)).squeeze(-1)

    def riemann_logits(self, batch: Batch) -> Tensor:
        """[B, bins] logits of the histogram head over equal bins of [0, 1]."""
        return self.riemann_head(self.encode(batch.inputs))

    # ---- decoder --------------------------------------------------------------------------------

    def target_ids(self, targets: Tensor) -> Tensor:
        """[B] target-space values -> [B, L] token ids (the tokenizer clamps out-of-range)."""
        ids = self.tokenizer.encode(targets.detach().double().cpu().numpy())
        return torch.from_numpy(ids).to(self.device)

    def _embed(self, ids: Tensor, start: int) -> Tensor:  # ids: [N, T] -> [N, T, d]
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        return self.token_embedding(ids) + self.position_embedding(positions)

    def _memory_kv(self, memory: Tensor) -> list[tuple[Tensor, Tensor]]:  # memory: [N, M, d]
        return [layer.cross_attention.keys_values(memory) for layer in self.decoder_layers]

    def token_logits(self, batch: Batch, prefix_ids: Tensor) -> Tensor:
        """Teacher-forced next-token logits.

        Args:
            batch: Rows to condition on.
            prefix_ids: [B, t] number-token ids already written, t < L.

        Returns:
            [B, t + 1, V] logits: row i, position j predicts token j given prefix_ids[i, :j].
        """
        if prefix_ids.shape[1] >= self.tokenizer.num_tokens:
            raise ValueError(f"a prefix of {prefix_ids.shape[1]} tokens has no next token")
        memory_kv = self._memory_kv(self.memory(self.encode(batch.inputs)))
        start = torch.full_like(prefix_ids[:, :1], self.tokenizer.vocab_size)
        x = self._embed(torch.cat([start, prefix_ids], dim=1), 0)
        for layer, kv in zip(self.decoder_layers, memory_kv, strict=True):
            x, _ = layer(x, kv, None)
        return self.lm_head(self.final_norm(x))

    def masked_log_probs(self, batch: Batch, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Grammar-masked log-probabilities for complete numbers.

        Args:
            batch: Rows to condition on.
            ids: [B, L] token ids of complete numbers.

        Returns:
            log_probs: [B, L, V], -inf where the grammar forbids the token.
            mask: [B, L, V] bool, the grammar.
        """
        logits = self.token_logits(batch, ids[:, :-1])
        mask = self.tokenizer.grammar_masks(ids.cpu()).to(logits.device)
        return logits.masked_fill(~mask, float("-inf")).log_softmax(-1), mask

    def start_decoding(self, inputs: Mapping[str, Tensor], repeats: int) -> DecodingState:
        """Encode B rows once and set up N = B * repeats sequences (row-major: row i owns
        sequences i * repeats ... (i + 1) * repeats - 1)."""
        memory = self.memory(self.encode(inputs)).repeat_interleave(repeats, dim=0)
        return DecodingState(memory_kv=self._memory_kv(memory))

    def decode_step(self, state: DecodingState, last_ids: Tensor | None) -> Tensor:
        """Feed one token per sequence and return [N, V] logits for the next one.

        Args:
            state: From `start_decoding`; updated in place.
            last_ids: [N] the previous step's tokens; None on the first step.
        """
        n = state.memory_kv[0][0].shape[0]
        if state.position == 0:
            last_ids = torch.full((n,), self.tokenizer.vocab_size, device=self.device)
        elif last_ids is None:
            raise ValueError("decode_step needs the previous tokens after the first step")
        x = self._embed(last_ids.view(n, 1), state.position)
        caches = state.cache or [None] * len(self.decoder_layers)
        new_cache = []
        for layer, kv, cache in zip(self.decoder_layers, state.memory_kv, caches, strict=True):
            x, layer_cache = layer(x, kv, cache)
            new_cache.append(layer_cache)
        state.cache, state.position = new_cache, state.position + 1
        return self.lm_head(self.final_norm(x[:, 0]))

    # ---- persistence ----------------------------------------------------------------------------

    def rl_policy(self, *, constrained: bool = True):
        """The RL objectives' adapter for this family (`decoreg.tabular.policy`)."""
        return TabularPolicy.for_model(self, constrained=constrained)

    def save(self, directory: str) -> None:
        """Write `model.safetensors` (weights) and `decoreg.json` (config, encoders)."""
        os.makedirs(directory, exist_ok=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(weights, os.path.join(directory, WEIGHTS_FILE))
        description = {
            "family": self.family,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "features": self.features.to_dict(),
            "target": self.target.to_dict(),
        }
        with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(description, handle, indent=2)

    @classmethod
    def load(cls, directory: str) -> TabularRegressor:
        """Read a model written by `save`; it predicts exactly as the saved one did."""
        with open(os.path.join(directory, CONFIG_FILE), encoding="utf-8") as handle:
            description = json.load(handle)
        if description.get("family") != cls.family:
            raise DataError(f"{directory} holds a {description.get('family')!r} model, not tabular")
        model = cls(
            TabularModelConfig(**description["config"]),
            FeatureEncoder.from_dict(description["features"]),
            TargetTransform.from_dict(description["target"]),
        )
        model.load_state_dict(load_file(os.path.join(directory, WEIGHTS_FILE)))
        return model.eval()


def build_tabular_model(
    frame: pd.DataFrame, target: np.ndarray, config: TabularModelConfig
) -> TabularRegressor:
    """Fit the feature encoder and target transform on training data and build a fresh model.

    Args:
        frame: Training feature rows (a DataFrame or a sequence of dict rows).
        target: [N] raw training targets.
        config: Model options; `config.seed` seeds the initialization (global RNG untouched).
    """
    frame = as_frame(frame)
    y = np.asarray(target, dtype=np.float64).reshape(-1)
    if len(y) != len(frame):
        raise DataError(f"{len(frame)} feature rows but {len(y)} targets")
    features = FeatureEncoder(config.nan_policy, config.categorical_columns).fit(frame)
    transform = TargetTransform.fit(y, config.clip_margin)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return TabularRegressor(config, features, transform)


load_tabular_model = TabularRegressor.load
