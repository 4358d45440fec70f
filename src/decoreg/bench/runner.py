"""Running a suite's cells: resumable, one JSONL row per run, failures recorded and skipped.

An output folder holds:

- ``results.jsonl``: one row per cell run (metrics, wall times, peak memory, versions and the
  exact cell config), appended as each cell ends. A cell whose key already has an ``ok`` row
  is not run again; a failed cell is run again on ``--resume``. The newest row of a key wins.
- ``predictions/<key>.csv``: the test targets and predictions of each finished cell.
- ``runs.jsonl``: one row per invocation (command, wall time, cells run, skipped, failed).

Cells that differ only in their decoder (e.g. CE + greedy and CE + RAIL with the same seed)
share one fitted model within an invocation: the first one fits, the others only decode, and
their rows say ``shared_fit_with``. A method with a warm start (e.g. RL after cross-entropy)
runs right after its first stage and starts from that stage's saved model.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import logging
import os
import platform
import resource
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.bench.suite import Cell, DatasetEntry, Suite
from decoreg.datasets import DatasetInfo, LoadedDataset, load_dataset
from decoreg.datasets.user_table import load_table_dataset
from decoreg.errors import ConfigError
from decoreg.metrics import regression_report
from decoreg.paths import cache_dir

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
RUNS_FILE = "runs.jsonl"
PREDICTIONS_DIR = "predictions"
_PACKAGES = ("decoreg", "torch", "transformers", "numpy", "pandas", "scikit-learn")


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
    """The first `train_rows`/`validation_rows`/`test_rows` rows of the seeded splits.

    The split depends only on `data_seed`, so every method and seed sees the same rows, and a
    smaller size (e.g. ``--quick``) takes a prefix of a larger one.
    """
    if entry.is_file:
        data: LoadedDataset = load_table_dataset(entry.path, seed=data_seed, **entry.file_options)
    else:
        data = load_dataset(entry.name, seed=data_seed)
    parts = {
        split: data.split(split).iloc[:size].reset_index(drop=True)
        for split, size in (
            ("train", entry.train_rows),
            ("validation", entry.validation_rows),
            ("test", entry.test_rows),
        )
    }
    return CellData(data.info, **parts)


# ---------------------------------------------------------------------- measurements
def reset_peak_memory() -> bool:
    """Reset the process's peak resident set size (Linux); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status ("VmHWM", "VmRSS") in MiB; None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MiB since the last reset (or since start)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_memory_mb() -> float | None:
    """Resident memory of this process now, in MiB (None where /proc is missing)."""
    return _status_mb("VmRSS")


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every row."""
    import torch

    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
    }


@contextlib.contextmanager
def cpu_lock(path: str | Path | None) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (if given) while running heavy work."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- rows
def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a line cut short by a crash is skipped with a warning."""
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("%s:%d is not valid JSON; skipped", path, number)
    return rows


def latest_rows(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest row of each cell key."""
    return {row["key"]: row for row in rows}


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row, default=_json_default) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | tuple):
        return list(value)
    return str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- fitting
@dataclass
class _Fitted:
    """A fitted estimator kept so that cells differing only in the decoder can reuse it."""

    fit_key: str
    estimator: Any
    cell_id: str
    fit_seconds: float


def _train_summary(estimator: Any) -> dict[str, Any] | None:
    result = getattr(estimator, "train_result_", None)
    if result is None:
        return None
    return {
        "steps_run": result.steps_run,
        "best_step": result.best_step,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,
        "loss": [[entry["step"], entry["loss"]] for entry in result.log if "loss" in entry],
        "evaluations": result.evaluations,
    }


WARM_STARTS_DIR = "warm-starts"


def _warm_start_folder(
    cell: Cell, data: CellData, output: Path, fitted: _Fitted | None
) -> tuple[Path, float]:
    """The saved model `cell` starts from, trained (or taken from `fitted`) if not on disk.

    First stages are saved under ``cache_dir("bench", "warm-starts")``, named by their fit
    key, so a resumed or repeated run reuses them.

    Returns:
        The folder and the seconds spent fitting it now (0 when it was saved before).
    """
    warm = cell.warm_start
    folder = cache_dir("bench", WARM_STARTS_DIR) / warm.fit_key()[:24]
    if (folder / "decoreg.json").exists():
        return folder, 0.0
    start = time.perf_counter()
    if fitted is not None and fitted.fit_key == warm.fit_key():
        estimator = fitted.estimator
    else:
        estimator = _fit(warm, data, output)
    seconds = time.perf_counter() - start
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    estimator.save(staging)
    os.replace(staging, folder)
    return folder, seconds


def _fit(cell: Cell, data: CellData, output: Path, init_from: Path | None = None) -> Any:
    if cell.method.is_baseline:
        return cell.method.baseline(data.info, cell.seed).fit(
            data.inputs("train"), data.targets("train")
        )
    from decoreg.estimator import DecodingRegressor

    params = dict(cell.params)
    if init_from is not None:
        params["init_from"] = str(init_from)
    estimator = DecodingRegressor(**params)
    eval_set = None
    if len(data.validation) and estimator.train_option("max_steps") > 0:
        eval_set = (data.inputs("validation"), data.targets("validation"))
    return estimator.fit(data.inputs("train"), data.targets("train"), eval_set=eval_set)


def _predict(cell: Cell, estimator: Any, data: CellData) -> tuple[np.ndarray, np.ndarray]:
    """[N] predictions (the training median where unparseable) and [N] parsed flags."""
    inputs = data.inputs("test")
    if cell.method.is_baseline:
        values = np.asarray(estimator.predict(inputs), dtype=np.float64)
        return values, np.ones(len(values), dtype=bool)
    estimator.set_params(decoder=cell.params.get("decoder"))
    details = estimator.predict_details(inputs)
    values = np.asarray(details.values, dtype=np.float64)
    parsed = np.asarray(details.parsed, dtype=bool) & np.isfinite(values)
    fallback = float(np.median(data.targets("train")))
    return np.where(parsed, values, fallback), parsed


def run_cell(
    cell: Cell, data: CellData, output: Path, fitted: _Fitted | None = None
) -> tuple[dict[str, Any], _Fitted | None]:
    """Fit (or reuse `fitted`), predict the test rows and build the cell's result row.

    Any exception inside becomes a ``failed`` row (with its message and traceback); the
    returned `_Fitted` is what later cells may reuse (None after a failure or for baselines).
    """
    reset_peak_memory()
    start_rss_mb = resident_memory_mb()
    start = time.perf_counter()
    row: dict[str, Any] = {
        "key": cell.key,
        "cell": cell.cell_id,
        "grid": cell.grid,
        "dataset": cell.dataset.name,
        "method": cell.method.name,
        "label": cell.method.label,
        "baseline": cell.method.is_baseline,
        "model": cell.model,
        "seed": cell.seed,
        "rows": {"train": len(data.train), "validation": len(data.validation),
                 "test": len(data.test)},
        "started_at": _now(),
    }  # fmt: skip
    fit_key = cell.fit_key()
    try:
        if cell.warm_start is not None:  # the first stage is kept for the cells that share it
            folder, row["warm_start_seconds"] = _warm_start_folder(cell, data, output, fitted)
            row["warm_start"] = {"cell": cell.warm_start.cell_id, "folder": str(folder)}
            fit_start = time.perf_counter()
            estimator = _fit(cell, data, output, init_from=folder)
            fit_seconds = time.perf_counter() - fit_start
        elif fitted is not None and fit_key is not None and fitted.fit_key == fit_key:
            estimator, fit_seconds = fitted.estimator, 0.0
            row["shared_fit_with"] = fitted.cell_id
        else:
            fitted = None
            estimator = _fit(cell, data, output)
            fit_seconds = time.perf_counter() - start
            if fit_key is not None:
                fitted = _Fitted(fit_key, estimator, cell.cell_id, fit_seconds)
        predict_start = time.perf_counter()
        y_pred, parsed = _predict(cell, estimator, data)
        predict_seconds = time.perf_counter() - predict_start
        y_true = data.targets("test")
        metrics = regression_report(y_true, y_pred, parsed)
        predictions = Path(PREDICTIONS_DIR) / f"{cell.key}.csv"
        (output / PREDICTIONS_DIR).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"y_true": y_true, "y_pred": y_pred, "parsed": parsed}).to_csv(
            output / predictions, index=False
        )
        row.update(
            status="ok",
            metrics=metrics,
            fit_seconds=fit_seconds,
            predict_seconds=predict_seconds,
            train=_train_summary(estimator),
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
    row["finished_at"] = _now()
    row["config"] = cell.config()
    return row, fitted


# ----------------------------------------------------------------------------- suite
def _groups(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped by the fit they share (in order of first appearance); baselines alone.

    A warm-started cell joins the group of its first stage, after the cells that share that
    fit, so the first stage's fitted model can be saved instead of trained again.
    """
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.warm_start is None:
            groups.setdefault(cell.fit_key() or cell.key, []).append(cell)
    for cell in cells:
        if cell.warm_start is not None:
            groups.setdefault(cell.warm_start.fit_key(), []).append(cell)
    return list(groups.values())


@dataclass(frozen=True)
class RunSummary:
    """What one invocation did."""

    run: int
    skipped: int
    failed: int
    wall_seconds: float


def run_suite(
    suite: Suite,
    output: Path,
    *,
    quick: bool = False,
    resume: bool = False,
    lock: str | Path | None = None,
    command: str | None = None,
    echo: Callable[[str], None] = print,
) -> RunSummary:
    """Run every unfinished cell of `suite`, appending rows to ``output/results.jsonl``.

    Args:
        suite: The suite.
        output: Result folder (created if needed).
        quick: Shrink every cell to the suite's quick sizes and seeds.
        resume: Continue a folder that already has rows; without it such a folder is refused.
        lock: A lock file held (flock) while each group of cells runs.
        command: The command line, recorded in ``runs.jsonl``.
        echo: Where progress lines go.

    Raises:
        ConfigError: If `output` already has results and `resume` is False.
    """
    output.mkdir(parents=True, exist_ok=True)
    results = output / RESULTS_FILE
    rows = read_rows(results)
    if rows and not resume:
        raise ConfigError(
            f"{results} already has {len(rows)} rows: pass --resume to continue it (finished "
            "cells are skipped), or choose another --output"
        )
    done = {k for k, row in latest_rows(rows).items() if row.get("status") == "ok"}
    cells = suite.cells(quick=quick)
    env = environment()
    start, started_at = time.perf_counter(), _now()
    counts = {"run": 0, "skipped": 0, "failed": 0}
    data_cache: dict[str, CellData] = {}
    todo = [c for c in cells if c.key not in done]
    counts["skipped"] = len(cells) - len(todo)
    echo(f"{suite.name}: {len(cells)} cells, {counts['skipped']} already finished")
    for group in _groups(todo):
        fitted = None
        with cpu_lock(lock):
            for cell in group:
                entry_key = json.dumps(cell.dataset.spec(), sort_keys=True)
                try:
                    if entry_key not in data_cache:
                        data_cache[entry_key] = load_cell_data(cell.dataset, cell.data_seed)
                    row, fitted = run_cell(cell, data_cache[entry_key], output, fitted)
                except Exception as error:  # the data could not be loaded
                    row = _data_failure(cell, error)
                row.update(suite=suite.name, quick=quick, environment=env)
                _append(results, row)
                counts["run"] += 1
                counts["failed"] += row["status"] != "ok"
                echo(_progress(row, counts["run"], len(todo)))
    wall = time.perf_counter() - start
    _append(
        output / RUNS_FILE,
        {"suite": suite.name, "quick": quick, "command": command or " ".join(sys.argv),
         "started_at": started_at, "finished_at": _now(), "wall_seconds": wall, **counts,
         "cells": len(cells), "environment": env},
    )  # fmt: skip
    return RunSummary(counts["run"], counts["skipped"], counts["failed"], wall)


def _data_failure(cell: Cell, error: Exception) -> dict[str, Any]:
    return {
        "key": cell.key, "cell": cell.cell_id, "grid": cell.grid, "dataset": cell.dataset.name,
        "method": cell.method.name, "label": cell.method.label,
        "baseline": cell.method.is_baseline, "model": cell.model,
        "seed": cell.seed, "status": "failed", "wall_seconds": 0.0,
        "error": {"type": type(error).__name__, "message": f"loading data: {error}"},
        "finished_at": _now(), "config": cell.config(),
    }  # fmt: skip


def _progress(row: dict[str, Any], done: int, total: int) -> str:
    if row["status"] == "ok":
        metrics = row["metrics"]
        detail = f"rmse {metrics['rmse']:.4f}  r2 {metrics['r2']:.3f}"
    else:
        detail = f"FAILED {row['error']['type']}: {row['error']['message'][:200]}"
    return f"[{done}/{total}] {row['cell']}: {detail}  ({row['wall_seconds']:.0f} s)"
