"""`TabularRegressor`: an MLP encoder over table rows feeding a small Transformer decoder that
writes the target as number tokens (RegressLM / GenRe2 style), plus two non-decoding heads
(pointwise and Riemann histogram) on the same encoder.

Inputs are a pandas DataFrame of feature rows or a sequence of dict rows (one mapping per row,
column name -> value); either way columns are matched by name, and extra columns are ignored.
Targets live in the [0, 1] space of `TargetTransform`. The decoder reads the encoder's output as
`memory_tokens` vectors through cross-attention; `start_decoding` / `decode_step` decode with a
key/value cache, so sampling many numbers per row costs one encoder pass per row. The options
live in `decoreg.tabular.config`, the decoder's blocks in `decoreg.tabular.layers`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from decoreg.core import Batch
from decoreg.devices import CPU_FP32, HOST, Placement
from decoreg.errors import ConfigError, DataError
from decoreg.rows import reset_rows
from decoreg.tabular.config import TabularModelConfig
from decoreg.tabular.features import FeatureEncoder, as_frame
from decoreg.tabular.layers import DecoderLayer, DecodingState
from decoreg.tabular.numeric_embedding import make_numeric_embedding
from decoreg.tabular.policy import TabularPolicy
from decoreg.tabular.target import TargetTransform, check_targets

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "tabular.json"
FORMAT_VERSION = 1


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
        offsets = torch.as_tensor(offsets, device=HOST)  # built on the host, then placed
        self.register_buffer("category_offsets", offsets, persistent=False)
        self.category_embedding = nn.Embedding(max(sum(cards), 1), config.category_dim)
        self.numeric_embedding = make_numeric_embedding(
            config.numeric_embedding,
            features.numeric_width,
            frequencies=config.periodic_frequencies,
            scale=config.periodic_scale,
            dim=config.numeric_dim,
        )
        width = self.numeric_embedding.output_width + len(cards) * config.category_dim
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
            DecoderLayer(d, config.heads, config.ff_size, config.dropout)
            for _ in range(config.layers)
        )
        self.final_norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab)
        self.pointwise_head = nn.Linear(d, 1)
        self.riemann_head = nn.Linear(d, config.riemann_bins)
        for embedding in (self.token_embedding, self.position_embedding):
            nn.init.normal_(embedding.weight, std=0.02)
        digit_values = torch.as_tensor(self.tokenizer.digit_values(), device=HOST).float()
        self.register_buffer("digit_values", digit_values, persistent=False)

    # ---- RegressionModel protocol ------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def shard_units(self) -> list[nn.Module]:
        """None: the cross-attention keys of every decoder layer are computed up front, from
        the layers' submodules, so FSDP shards the (small) model as one unit."""
        return []

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
        frame = as_frame(inputs)
        self.features.transform(frame)  # before renumbering, so that errors name the row
        return reset_rows(frame)

    def input_report(self) -> dict[str, Any]:
        """What the feature encoder found at fit time (missing values and their handling,
        constant columns, folded levels; `decoreg.tabular.feature_report`)."""
        return self.features.fit_report_

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
        parts = [self.numeric_embedding(inputs["numeric"])]
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
        return torch.as_tensor(ids, device=self.device)

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

    # ---- the numbers it writes (what decoders and RL policies read) ----------------------------

    @property
    def max_number_tokens(self) -> int:
        """Tokens of every number (the tokenizer's numbers all have this length)."""
        return self.tokenizer.num_tokens

    def allowed_next_tokens(self, prefix_ids: Tensor) -> Tensor:
        """[N, t] number-token prefixes -> [N, V] bool, True where the grammar allows a token."""
        return self.tokenizer.next_token_mask(prefix_ids)

    def decode_numbers(self, ids: np.ndarray) -> np.ndarray:
        """[N, L] number-token ids -> [N] float64 target-space values; NaN where a row breaks
        the grammar (and for the special-value tokens NaN and invalid)."""
        return self.tokenizer.decode(ids)

    def number_texts(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Each row of number-token ids written out as its token strings."""
        return ["".join(self.tokenizer.ids_to_tokens(row)) for row in ids]

    def digit_range(self) -> tuple[int, int]:
        """(smallest, largest) digit when every number is fixed-length, most-significant-first
        digits whose token id is the digit (the 'normalized' tokenizer); else a ConfigError."""
        name = self.tokenizer.name
        if name != "normalized":
            raise ConfigError(
                "fixed-length most-significant-first digits (what expert guidance needs) come "
                f"from the 'normalized' tokenizer, not {name!r}"
            )
        return 0, self.tokenizer.base - 1

    def target_space_to(self, u: Tensor, space: str) -> Tensor:
        """Target-space values (any shape, NaN kept) -> 'z' (the raw targets' z-scores) or
        'raw' (the user's scale), unclipped."""
        target = self.target
        z = u * (target.z_max - target.z_min) + target.z_min
        if space == "z":
            return z
        if space == "raw":
            return z * target.std + target.mean
        raise ConfigError(f"space must be 'z' or 'raw', got {space!r}")

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
    def load(cls, directory: str, *, placement: Placement = CPU_FP32) -> TabularRegressor:
        """Read a model written by `save` onto `placement`'s device and weight dtype; in fp32 it
        predicts exactly as the saved one did."""
        with open(os.path.join(directory, CONFIG_FILE), encoding="utf-8") as handle:
            description = json.load(handle)
        if description.get("family") != cls.family:
            raise DataError(f"{directory} holds a {description.get('family')!r} model, not tabular")
        model = cls(
            TabularModelConfig(**description["config"]),
            FeatureEncoder.from_dict(description["features"]),
            TargetTransform.from_dict(description["target"]),
        )
        weights = load_file(os.path.join(directory, WEIGHTS_FILE))
        model.load_state_dict(weights)
        return placement.place(model).eval()


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
    features = FeatureEncoder(
        config.nan_policy, config.categorical_columns, config.max_categories
    ).fit(frame)
    for note in features.fit_report_["notes"]:
        logger.info("features: %s", note)
    transform = TargetTransform.fit(y, config.clip_margin)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return TabularRegressor(config, features, transform)


load_tabular_model = TabularRegressor.load
