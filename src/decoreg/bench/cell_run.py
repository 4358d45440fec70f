"""Running one cell: load its rows, fit (or reuse a fit, or start from a saved first stage),
predict the test rows (and score their distributions or a baseline's interval,
`decoreg.bench.cell_uncertainty`), and build the cell's result row."""

from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.bench.cell_uncertainty import (
    UncertaintyScores,
    baseline_interval_scores,
    distribution_scores,
)
from decoreg.bench.cells import Cell, DatasetEntry
from decoreg.bench.machine import peak_memory_mb, reset_peak_memory, resident_memory_mb
from decoreg.bench.rows import PREDICTIONS_DIR, now
from decoreg.checkpoint import Checkpointer
from decoreg.datasets import DatasetInfo, LoadedDataset, load_dataset
from decoreg.datasets.user_table import load_table_dataset
from decoreg.distributed import World
from decoreg.metrics import regression_report
from decoreg.paths import cache_dir

WARM_STARTS_DIR = "warm-starts"
CHECKPOINTS_DIR = "checkpoints"
DEFAULT_CHECKPOINT_EVERY = 25
"""Optimizer steps between a model cell's kill-safe checkpoints (`bench --checkpoint-every`):
a raft-cpu cell trains 190-250 steps of 5-13 s each on one core, so a kill loses at most a few
minutes, while writing the ~2.7 GB checkpoint costs a few seconds."""


# ------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class CellData:
    """The rows one cell trains, validates and tests on."""

    info: DatasetInfo
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def inputs(self, split: str) -> pd.DataFrame:
        return getattr(self, split).loc[:, list(self.info.input_columns)]

    def targets(self, split: str) -> np.ndarray:
        return getattr(self, split)[self.info.target_column].to_numpy(dtype=np.float64)


def load_cell_data(entry: DatasetEntry, data_seed: int) -> CellData:
    """`train_rows`/`validation_rows`/`test_rows` rows of the seeded splits, each a seeded
    random sample of its split (`LoadedDataset.sample`).

    The rows depend only on `data_seed`, so every method and seed sees the same rows, and a
    smaller size (e.g. ``--quick``) takes a subset of a larger one.
    """
    if entry.is_file:
        data: LoadedDataset = load_table_dataset(entry.path, seed=data_seed, **entry.file_options)
    else:
        data = load_dataset(entry.name, seed=data_seed)
    parts = {
        split: data.sample(split, size, seed=data_seed).reset_index(drop=True)
        for split, size in (
            ("train", entry.train_rows),
            ("validation", entry.validation_rows),
            ("test", entry.test_rows),
        )
    }
    return CellData(data.info, **parts)


# --------------------------------------------------------------------------- fitting
@dataclass
class Fitted:
    """A fitted estimator kept so that cells differing only in the decoder can reuse it."""

    fit_key: str
    estimator: Any
    cell_id: str
    fit_seconds: float


def _train_summary(cell: Cell, estimator: Any) -> dict[str, Any] | None:
    if cell.method.is_baseline:
        return None  # a scikit-learn baseline keeps no training record
    result = estimator.train_result_
    return {
        "steps_run": result.steps_run,
        "best_step": result.best_step,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,
        "loss": [[entry["step"], entry["loss"]] for entry in result.log if "loss" in entry],
        # RL's per-step diagnostics: zero-advantage groups and the sampling entropy
        "diagnostics": [
            [entry["step"], entry["tied_group_share"], entry.get("entropy")]
            for entry in result.log
            if "tied_group_share" in entry
        ],
        "evaluations": result.evaluations,
    }


def _warm_start_folder(
    cell: Cell, data: CellData, output: Path, fitted: Fitted | None, placement: dict[str, Any],
    checkpoint_every: int = 0,
) -> tuple[Path, float]:  # fmt: skip
    """The saved model `cell` starts from, trained (or taken from `fitted`) if not on disk.

    First stages are saved under ``cache_dir("bench", "warm-starts")``, named by their fit
    key, so a resumed or repeated run reuses them.

    Returns:
        The folder and the seconds spent fitting it now (0 when it was saved before).
    """
    warm = cell.warm_start
    folder = warm_start_folder(warm)
    if (folder / "decoreg.json").exists():
        return folder, 0.0
    start = time.perf_counter()
    if fitted is not None and fitted.fit_key == warm.fit_key():
        estimator = fitted.estimator
    else:
        estimator = _fit(warm, data, output, placement, checkpoint_every=checkpoint_every)
    seconds = time.perf_counter() - start
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    estimator.save(staging)
    os.replace(staging, folder)
    return folder, seconds


def warm_start_folder(first_stage: Cell) -> Path:
    """Where the saved model of a first stage (`Cell.warm_start`) is kept, by its fit key."""
    return cache_dir("bench", WARM_STARTS_DIR) / first_stage.fit_key()[:24]


def forget_saved_state(cell: Cell) -> None:
    """Delete what earlier runs of `cell` left to reuse: its first stage's saved model and its
    training checkpoints (before a rerun: they may come from older code)."""
    if cell.warm_start is not None:
        shutil.rmtree(warm_start_folder(cell.warm_start), ignore_errors=True)
    if cell.fit_key() is not None:
        shutil.rmtree(checkpoint_folder(cell), ignore_errors=True)


def checkpoint_folder(cell: Cell) -> Path:
    """Where a model cell's training checkpoints go while it trains, named by its fit key."""
    return cache_dir("bench", CHECKPOINTS_DIR) / cell.fit_key()[:24]


def _saved_steps(cell: Cell) -> list[int]:
    """Steps of the checkpoints a killed run of `cell` left, oldest first."""
    return Checkpointer(checkpoint_folder(cell), World.current()).steps()


def _fit(
    cell: Cell, data: CellData, output: Path, placement: dict[str, Any],
    init_from: Path | None = None, checkpoint_every: int = 0,
) -> Any:  # fmt: skip
    """Fit the cell's method; `placement` (device, precision: `bench --device/--precision`)
    overrides the suite's own, its older `bf16` switch included.

    With `checkpoint_every` > 0 a model cell writes kill-safe checkpoints to
    `checkpoint_folder(cell)` and continues from the newest one there, so a suite killed in the
    middle of a long cell loses only the steps since it (the training guarantees the same
    weights as an uninterrupted run); the folder is removed once the fit is done.
    """
    if cell.method.is_baseline:
        return cell.method.baseline(data.info, cell.seed).fit(
            data.inputs("train"), data.targets("train")
        )
    from decoreg.estimator import DecodingRegressor

    params = dict(cell.params)
    if placement.get("precision") is not None:
        params.pop("bf16", None)
    params.update({name: value for name, value in placement.items() if value is not None})
    if init_from is not None:
        params["init_from"] = str(init_from)
    folder = checkpoint_folder(cell) if checkpoint_every > 0 else None
    if folder is not None:
        params.update(
            checkpoint_dir=str(folder),
            checkpoint_every=checkpoint_every,
            resume=bool(_saved_steps(cell)),  # resume=True alone warns that none was found
        )
    estimator = DecodingRegressor(**params)
    eval_set = None
    if len(data.validation) and estimator.train_option("max_steps") > 0:
        eval_set = (data.inputs("validation"), data.targets("validation"))
    estimator.fit(data.inputs("train"), data.targets("train"), eval_set=eval_set)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return estimator


@dataclass(frozen=True)
class CellPredictions:
    """A cell's test predictions and, where it gives them, its distribution scores.

    Attributes:
        values: [N] predictions (the training median where unparseable).
        parsed: [N] whether each was read.
        uncertainty: CRPS, NLL and interval scores (None: the method gives neither a
            distribution nor an interval).
        calibration_seconds: Time spent decoding the validation rows' distributions (or
            conformalizing a baseline).
    """

    values: np.ndarray
    parsed: np.ndarray
    uncertainty: UncertaintyScores | None = None
    calibration_seconds: float = 0.0


def _predict(cell: Cell, estimator: Any, data: CellData) -> CellPredictions:
    """The test predictions; with a distribution (or a baseline's interval) also its scores,
    calibrated on the validation rows."""
    inputs, y_test = data.inputs("test"), data.targets("test")
    if cell.method.is_baseline:
        start = time.perf_counter()
        if not estimator.gives_interval:
            values = np.asarray(estimator.predict(inputs), dtype=np.float64)
            return CellPredictions(values, np.ones(len(values), dtype=bool))
        estimator.conformalize(data.inputs("validation"), data.targets("validation"))
        seconds = time.perf_counter() - start
        values, intervals = estimator.predict_with_interval(inputs)  # one pass for both
        scores = baseline_interval_scores(intervals, y_test)
        return CellPredictions(values, np.ones(len(values), dtype=bool), scores, seconds)
    estimator.set_params(decoder=cell.params.get("decoder"))
    uncertainty, seconds = None, 0.0
    if estimator.plan().decoder.gives_distribution:
        details, test = estimator.predict_with_distribution(inputs)
        start = time.perf_counter()
        calibration = None
        if len(data.validation):
            calibration = estimator.predict_distribution(data.inputs("validation"))
        seconds = time.perf_counter() - start
        uncertainty = distribution_scores(test, y_test, calibration, data.targets("validation"))
    else:
        details = estimator.predict_details(inputs)
    values = np.asarray(details.values, dtype=np.float64)
    parsed = np.asarray(details.parsed, dtype=bool) & np.isfinite(values)
    fallback = float(np.median(data.targets("train")))
    return CellPredictions(np.where(parsed, values, fallback), parsed, uncertainty, seconds)


# ------------------------------------------------------------------------------- rows
def cell_row(cell: Cell) -> dict[str, Any]:
    """The fields that name a cell, first in every result row (finished or failed)."""
    return {
        "key": cell.key,
        "cell": cell.cell_id,
        "grid": cell.grid,
        "dataset": cell.dataset.name,
        "method": cell.method.name,
        "label": cell.method.label,
        "baseline": cell.method.is_baseline,
        "model": cell.model,
        "seed": cell.seed,
    }


def run_cell(
    cell: Cell, data: CellData, output: Path, fitted: Fitted | None = None,
    placement: dict[str, Any] | None = None, checkpoint_every: int = 0,
) -> tuple[dict[str, Any], Fitted | None]:  # fmt: skip
    """Fit (or reuse `fitted`), predict the test rows and build the cell's result row;
    `placement` ({"device": ..., "precision": ...}) overrides the suite's; `checkpoint_every`
    > 0 makes the training kill-safe (`_fit`).

    Any exception inside becomes a ``failed`` row (with its message and traceback); the
    returned `Fitted` is what later cells may reuse (None after a failure or for baselines).
    """
    reset_peak_memory()
    start_rss_mb = resident_memory_mb()
    start = time.perf_counter()
    row = cell_row(cell)
    row["rows"] = {"train": len(data.train), "validation": len(data.validation),
                   "test": len(data.test)}  # fmt: skip
    row["started_at"] = now()
    fit_key, placement = cell.fit_key(), placement or {}
    if checkpoint_every > 0 and fit_key is not None and (steps := _saved_steps(cell)):
        row["resumed_from_step"] = steps[-1]  # a killed run left them: training goes on after
    try:
        if fitted is not None and fit_key is not None and fitted.fit_key == fit_key:
            estimator, fit_seconds = fitted.estimator, 0.0
            row["shared_fit_with"] = fitted.cell_id
        elif cell.warm_start is not None:  # the first stage is kept for the cells sharing it
            folder, row["warm_start_seconds"] = _warm_start_folder(
                cell, data, output, fitted, placement, checkpoint_every
            )
            row["warm_start"] = {"cell": cell.warm_start.cell_id, "folder": str(folder)}
            fit_start = time.perf_counter()
            estimator = _fit(
                cell, data, output, placement, init_from=folder, checkpoint_every=checkpoint_every
            )
            fit_seconds = time.perf_counter() - fit_start
            fitted = Fitted(fit_key, estimator, cell.cell_id, fit_seconds)
        else:
            fitted = None
            estimator = _fit(cell, data, output, placement, checkpoint_every=checkpoint_every)
            fit_seconds = time.perf_counter() - start
            if fit_key is not None:
                fitted = Fitted(fit_key, estimator, cell.cell_id, fit_seconds)
        predict_start = time.perf_counter()
        predicted = _predict(cell, estimator, data)
        predict_seconds = time.perf_counter() - predict_start - predicted.calibration_seconds
        y_true = data.targets("test")
        metrics = regression_report(y_true, predicted.values, predicted.parsed)
        # gzip: a 10-set, 3-seed suite writes 630 of these (34 MB as plain CSV, 7 MB gzipped)
        predictions = Path(PREDICTIONS_DIR) / f"{cell.key}.csv.gz"
        (output / PREDICTIONS_DIR).mkdir(parents=True, exist_ok=True)
        columns = {"y_true": y_true, "y_pred": predicted.values, "parsed": predicted.parsed}
        if predicted.uncertainty is not None:
            columns |= predicted.uncertainty.columns
        pd.DataFrame(columns).to_csv(output / predictions, index=False)
        row.update(
            status="ok",
            metrics=metrics,
            uncertainty=None if predicted.uncertainty is None else predicted.uncertainty.to_row(),
            fit_seconds=fit_seconds,
            predict_seconds=predict_seconds,
            calibration_seconds=predicted.calibration_seconds,
            train=_train_summary(cell, estimator),
            predictions=str(predictions),
        )
    except Exception as error:  # a failed cell is recorded; the suite goes on
        fitted = None
        row.update(
            status="failed",
            error={
                "type": type(error).__name__,
                "message": str(error),
                "traceback": traceback.format_exc(limit=-8),
            },
        )
    row["wall_seconds"] = time.perf_counter() - start
    row["peak_rss_mb"] = peak_memory_mb()
    row["start_rss_mb"] = start_rss_mb
    row["finished_at"] = now()
    row["config"] = cell.config()
    return row, fitted
