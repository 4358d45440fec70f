"""The tabular encoder-decoder family, adapted to the estimator's registries."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd

from decoreg.config import DecodeConfig
from decoreg.data import require_columns
from decoreg.devices import CPU_FP32, Placement
from decoreg.errors import ConfigError
from decoreg.rows import reset_rows
from decoreg.tabular import TabularModelConfig, TabularRegressor, build_tabular_model
from decoreg.tabular.decoding import TABULAR_DECODERS
from decoreg.tabular.objectives import TABULAR_OBJECTIVES

_DECODE_OPTIONS = {f.name for f in fields(DecodeConfig)}

TRAIN_DEFAULTS = {
    "learning_rate": 1e-3,
    "batch_size": 128,
    "max_steps": 2000,
    "warmup_steps": 100,
    "eval_every": 100,
    "early_stopping_patience": 5,
}
"""Training options of the tabular family where the user sets none (`Family.train_defaults`).

The estimator's own defaults (TrainConfig: lr 3e-5, batch 8, 200 steps) are tuned for
fine-tuning pretrained LMs; a small model trained from scratch needs a larger rate and batch
and more steps. Early stopping after 5 evaluations without a better validation RMSE (every 100
steps) ends most runs before 2,000 steps; benchmarks/results/tabular_objectives.md measures it.
"""


OWNED_PARAMS = frozenset({"tabular_options"})
"""Estimator parameters only the tabular family reads (`Family.owned_params`); the decoders
read `num_samples`, `temperature` and `quantile` of the shared `DecodeConfig`."""


def _objective_factory(name: str):
    """A factory `(**options) -> objective` that replaces options of the registered default."""
    return lambda **options: replace(TABULAR_OBJECTIVES[name], **options)


def _decoder_factory(name: str):
    """A factory `DecodeConfig -> decoder` that passes on the options the decoder has."""

    def build(config: DecodeConfig):
        template = TABULAR_DECODERS[name]
        shared = {f.name for f in fields(template)} & _DECODE_OPTIONS - {"max_new_tokens"}
        return replace(template, **{key: getattr(config, key) for key in shared})

    return build


OBJECTIVE_FACTORIES = {name: _objective_factory(name) for name in TABULAR_OBJECTIVES}
DECODER_FACTORIES = {name: _decoder_factory(name) for name in TABULAR_DECODERS}


def tabular_config(params: dict) -> TabularModelConfig:
    """The model config out of the estimator's `tabular_options` (unknown keys are errors)."""
    options = dict(params.get("tabular_options") or {})
    valid = sorted(f.name for f in fields(TabularModelConfig))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"unknown tabular_options {unknown}; valid: {valid}")
    options.setdefault("seed", params["random_state"])
    return TabularModelConfig(**options)


def select_features(params: dict, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The feature columns of `frame` (all of them unless `feature_columns` names some)."""
    columns = params.get("feature_columns") or [str(c) for c in frame.columns]
    require_columns(frame, columns, source)
    return reset_rows(frame[list(columns)])


def build_tabular(
    params: dict, inputs: pd.DataFrame, y: np.ndarray, placement: Placement = CPU_FP32
) -> TabularRegressor:
    """A new model, initialized on the host (the same weights for a seed), then placed."""
    return placement.place(build_tabular_model(inputs, y, tabular_config(params)))
