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
runs right after its first stage and starts from that stage's saved model. One cell's run is
`decoreg.bench.cell_run`; the rows' files are `decoreg.bench.rows`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decoreg.bench.cell_run import (
    DEFAULT_CHECKPOINT_EVERY,
    CellData,
    cell_row,
    forget_saved_state,
    load_cell_data,
    run_cell,
)
from decoreg.bench.cells import Cell, Suite
from decoreg.bench.machine import cpu_lock, environment
from decoreg.bench.rows import RESULTS_FILE, RUNS_FILE, append_row, latest_rows, now, read_rows
from decoreg.errors import ConfigError


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
    placement: dict[str, Any] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    datasets: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    rerun: bool = False,
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
        placement: {"device": ..., "precision": ...} for every cell (None values: the suite's).
        checkpoint_every: Steps between a model cell's kill-safe training checkpoints, so a
            killed run continues its unfinished cell on `resume` (0: none; `cell_run._fit`).
        datasets: Run only the cells of these datasets (None: all), e.g. one set's seeds first
            in a suite that takes several sessions; the others stay for a later `resume`.
        methods: Run only the cells of these methods (None: all).
        rerun: Run the (chosen) cells again even where they finished, e.g. after a fix in the
            code they run, first stages and checkpoints included (`forget_saved_state`); the
            new rows are the newest, so they are the ones reported.

    Raises:
        ConfigError: If `output` already has results and `resume` is False, or `datasets`
            or `methods` names one the suite does not have.
    """
    output.mkdir(parents=True, exist_ok=True)
    results = output / RESULTS_FILE
    rows = read_rows(results)
    if rows and not resume:
        raise ConfigError(
            f"{results} already has {len(rows)} rows: pass --resume to continue it (finished "
            "cells are skipped), or choose another --output"
        )
    done = set() if rerun else {k for k, r in latest_rows(rows).items() if r.get("status") == "ok"}
    cells = _only(suite.cells(quick=quick), datasets, "dataset", suite.name)
    cells = _only(cells, methods, "method", suite.name)
    env = environment()
    start, started_at = time.perf_counter(), now()
    counts = {"run": 0, "skipped": 0, "failed": 0}
    data_cache: dict[str, CellData] = {}
    todo = [c for c in cells if c.key not in done]
    if rerun:
        for cell in todo:
            forget_saved_state(cell)
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
                    row, fitted = run_cell(
                        cell, data_cache[entry_key], output, fitted, placement, checkpoint_every
                    )
                except Exception as error:  # the data could not be loaded
                    row = _data_failure(cell, error)
                row.update(suite=suite.name, quick=quick, environment=env)
                append_row(results, row)
                counts["run"] += 1
                counts["failed"] += row["status"] != "ok"
                echo(_progress(row, counts["run"], len(todo)))
    wall = time.perf_counter() - start
    append_row(
        output / RUNS_FILE,
        {"suite": suite.name, "quick": quick, "command": command or " ".join(sys.argv),
         "started_at": started_at, "finished_at": now(), "wall_seconds": wall, **counts,
         "cells": len(cells), "environment": env},
    )  # fmt: skip
    return RunSummary(counts["run"], counts["skipped"], counts["failed"], wall)


def _only(cells: list[Cell], chosen: Sequence[str] | None, kind: str, suite: str) -> list[Cell]:
    """The cells whose dataset (`kind` "dataset") or method ("method") name is in `chosen`."""
    if chosen is None:
        return cells
    name_of = {"dataset": lambda cell: cell.dataset.name, "method": lambda cell: cell.method.name}
    name = name_of[kind]
    known = list(dict.fromkeys(name(cell) for cell in cells))
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise ConfigError(
            f"--{kind}s: suite {suite} has no {kind} {', '.join(unknown)}; it has "
            f"{', '.join(known)}"
        )
    return [cell for cell in cells if name(cell) in chosen]


def _data_failure(cell: Cell, error: Exception) -> dict[str, Any]:
    return {
        **cell_row(cell),
        "status": "failed",
        "wall_seconds": 0.0,
        "error": {"type": type(error).__name__, "message": f"loading data: {error}"},
        "finished_at": now(),
        "config": cell.config(),
    }


def _progress(row: dict[str, Any], done: int, total: int) -> str:
    if row["status"] == "ok":
        metrics = row["metrics"]
        detail = f"rmse {metrics['rmse']:.4f}  r2 {metrics['r2']:.3f}"
    else:
        detail = f"FAILED {row['error']['type']}: {row['error']['message'][:200]}"
    return f"[{done}/{total}] {row['cell']}: {detail}  ({row['wall_seconds']:.0f} s)"
