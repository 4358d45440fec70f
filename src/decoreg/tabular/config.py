"""`TabularModelConfig`: the validated options of the tabular encoder-decoder."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from decoreg.errors import ConfigError
from decoreg.tabular.features import DEFAULT_MAX_CATEGORIES, NAN_POLICIES
from decoreg.tabular.numeric_embedding import NUMERIC_EMBEDDINGS
from decoreg.tokenizers import NumberTokenizer, make_tokenizer


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
        numeric_embedding: How numeric features enter the encoder MLP: "linear" (the
            standardized values) or "periodic" (trainable periodic features per column;
            `decoreg.tabular.numeric_embedding`).
        periodic_frequencies: Frequencies per numeric column of the periodic embedding.
        periodic_scale: Standard deviation of the periodic embedding's initial frequencies
            (0.1 and 1 tie over GenRe2's panel, mean test R^2 0.584 and 0.581; 0.1 starts
            nearer the linear embedding: benchmarks/results/numeric-embedding).
        numeric_dim: Width of the periodic embedding per numeric column.
        nan_policy: Missing feature values: "indicator" (the default: the training median
            plus a missing-indicator feature for numbers, a level of its own for categories),
            "impute" (the median or the unknown category, no indicator) or "error".
        categorical_columns: Columns forced categorical; None to infer from dtypes.
        max_categories: Levels kept per categorical column (the most frequent); the rows of
            the rest share the unknown level, counted in the fit report.
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
    numeric_embedding: str = "linear"
    periodic_frequencies: int = 16
    periodic_scale: float = 0.1
    numeric_dim: int = 16
    nan_policy: str = "indicator"
    categorical_columns: tuple[str, ...] | None = None
    max_categories: int = DEFAULT_MAX_CATEGORIES
    clip_margin: float | None = 0.1
    riemann_bins: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokenizer_options", dict(self.tokenizer_options))
        if self.categorical_columns is not None:
            object.__setattr__(self, "categorical_columns", tuple(self.categorical_columns))
        self.make_tokenizer()  # ConfigError for a bad name or option
        positive = (
            "d_model",
            "heads",
            "layers",
            "ff_size",
            "encoder_layers",
            "memory_tokens",
            "periodic_frequencies",
            "numeric_dim",
        )
        for name in (*positive, "max_categories"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        if self.d_model % self.heads:
            raise ConfigError(f"heads ({self.heads}) must divide d_model ({self.d_model})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.category_dim < 1 or self.riemann_bins < 2:
            raise ConfigError("category_dim must be >= 1 and riemann_bins >= 2")
        if self.numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ConfigError(
                f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}, "
                f"got {self.numeric_embedding!r}"
            )
        if not 0.0 < self.periodic_scale < math.inf:
            raise ConfigError(f"periodic_scale must be > 0, got {self.periodic_scale}")
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
