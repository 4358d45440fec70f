"""Saved model folders: the weights and `decoreg.json`, everything needed to predict again.

`decoreg.json` holds the format version, the family, the estimator's parameters, the target
column, a summary of training and (since the scikit-learn checks) the inputs seen at fit time.
Folders of the previous version (no "inputs", and options the family ignored left in the
parameters) still load.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from decoreg.causal_lm.folder_safety import check_model_folder
from decoreg.errors import ConfigError
from decoreg.families import foreign_options, get_family
from decoreg.training import TrainResult, process_rank
from decoreg.uncertainty.conformal import CalibrationRows

logger = logging.getLogger(__name__)

META_FILE = "decoreg.json"
FORMAT_VERSION = 1
"""Folders without "inputs" (written before it was recorded) are still version 1: it is an
optional key, which the previous version ignores when it reads a newer folder."""


def save(estimator, directory: str | Path, *, target_column: str | None) -> Path:
    """Write a fitted estimator's weights and `decoreg.json` to `directory` (rank 0 only)."""
    directory = Path(directory)
    if process_rank() != 0:
        return directory  # data-parallel: every process holds the same weights; rank 0 writes
    directory.mkdir(parents=True, exist_ok=True)
    estimator.model_.save(directory)
    result = estimator.train_result_
    meta = {
        "format_version": FORMAT_VERSION,
        "family": estimator.family,
        "params": estimator.get_params(),
        "target_column": target_column,
        "train": {
            "steps_run": result.steps_run,
            "best_step": result.best_step,
            "best_validation": result.best_validation,
        },
    }
    if hasattr(estimator, "n_features_in_"):  # set by fit for table inputs
        names = getattr(estimator, "feature_names_in_", None)
        meta["inputs"] = {
            "n_features_in": estimator.n_features_in_,
            "feature_names_in": None if names is None else [str(n) for n in names],
        }
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=_json_default))
    if estimator.calibration_ is not None:  # predict_interval's rows, kept for later
        estimator.calibration_.save(directory)
    return directory


def load(cls, directory: str | Path, *, trust_remote_code: bool, device: str = "auto",
         precision: str | None = None):  # fmt: skip
    """An estimator of class `cls` read from a folder that `save` wrote, onto `device` (not
    the one it was trained on) in `precision` (None: the saved one)."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ConfigError(f"{directory} is not a decoreg model folder (no {META_FILE})")
    check_model_folder(directory, trust_remote_code=trust_remote_code)
    meta = json.loads(meta_path.read_text())
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"{meta_path} has format_version {version!r}; this decoreg reads version "
            f"{FORMAT_VERSION} (a newer decoreg wrote it?)"
        )
    family = get_family(meta["family"])
    params = _params_for_this_version(cls, meta["params"], family, meta_path)
    params["device"] = device
    if precision is not None:  # it replaces the saved precision, or the older bf16 switch
        params.update(precision=precision, bf16=None)
    try:
        estimator = cls(**params)
    except TypeError as error:
        raise ConfigError(f"{meta_path} holds unknown parameters: {error}") from None
    placement = estimator.plan().placement  # the device and precision, checked here
    # Loaders take trust_remote_code only when it is on (the tabular family has no code).
    if trust_remote_code:
        estimator.model_ = family.load(directory, trust_remote_code=True, placement=placement)
    else:
        estimator.model_ = family.load(directory, placement=placement)
    estimator.train_result_ = TrainResult(**meta["train"])
    estimator.calibration_ = CalibrationRows.load(directory, table=family.input_kind == "table")
    inputs = meta.get("inputs")
    if inputs is not None:
        estimator.n_features_in_ = inputs["n_features_in"]
        if inputs["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(inputs["feature_names_in"], dtype=object)
    return estimator


def saved_family(directory: str | Path, family: str) -> str:
    """The family of the decoreg model saved in `directory`; a ConfigError if there is none
    or it is not `family`."""
    meta_path = Path(directory) / META_FILE
    try:
        saved = json.loads(meta_path.read_text()).get("family")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"init_from={str(directory)!r} is not a decoreg model folder (no readable "
            f"{META_FILE}; write one with `decoreg train` or DecodingRegressor.save): {error}"
        ) from error
    if saved != family:
        raise ConfigError(
            f"init_from={str(directory)!r} holds a {saved!r} model, but family={family!r}"
        )
    return saved


def _params_for_this_version(cls, params: dict, family, meta_path: Path) -> dict:
    """The saved parameters, less options the family ignored: the previous version saved
    them as given, this one refuses them (their value never reached the model)."""
    defaults = cls.param_defaults()
    known = {name: value for name, value in params.items() if name in defaults}
    ignored = foreign_options(family, known, defaults)
    if ignored:
        logger.warning(
            "%s: the %s family ignored %s; they are reset to their defaults",
            meta_path,
            family.name,
            ", ".join(f"{name}={params[name]!r}" for name in ignored),
        )
    return {**params, **{name: defaults[name] for name in ignored}}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
