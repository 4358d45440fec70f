"""Markdown tables of benchmark rows: one table per grid and dataset, mean +- std over seeds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TABLE_METRICS = (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"), ("spearman", "Spearman"))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value) of finite values.

    Returns (nan, nan) when no value is finite.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return float(np.mean(finite)), std


def format_mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``"0.812 ± 0.034"``, ``"0.812"`` for one value, ``"-"`` for none."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "-"
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _row_label(row: Mapping[str, Any], several_models: bool) -> str:
    label = row.get("label") or row["method"]
    return f"{label} ({row['model']})" if several_models and row.get("model") else label


def group_rows(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], dict[tuple[str, str | None], list[Mapping[str, Any]]]]:
    """(grid, dataset) -> (method, model) -> rows, all in order of first appearance."""
    tables: dict = {}
    for row in rows:
        table = tables.setdefault((row["grid"], row["dataset"]), {})
        table.setdefault((row["method"], row.get("model")), []).append(row)
    return tables


def render_table(rows: Sequence[Mapping[str, Any]], expected_seeds: int | None = None) -> str:
    """A Markdown table of one dataset's rows: a line per method (and model).

    Args:
        rows: Result rows of one grid and dataset (``ok`` and ``failed``), any order.
        expected_seeds: Seeds each method should have; the seeds column then reads "k/n".

    Returns:
        The table; the best mean RMSE is in bold. Failed runs count in a "failed" column.
    """
    groups = group_rows(rows)
    if len(groups) != 1:
        raise ValueError(f"render_table takes the rows of one dataset, got {list(groups)}")
    methods = next(iter(groups.values()))
    several_models = len({model for _, model in methods if model}) > 1
    header = ["Method", *[name for _, name in TABLE_METRICS], "unparsed", "seeds", "failed",
              "fit s", "predict s", "peak MB"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = _best_rmse(methods)
    for (_, _), group in methods.items():
        ok = [r for r in group if r.get("status") == "ok"]
        failed = len(group) - len(ok)
        cells = [_row_label(group[0], several_models)]
        for key, _ in TABLE_METRICS:
            text = format_mean_std([r["metrics"][key] for r in ok])
            if key == "rmse" and ok and mean_std([r["metrics"]["rmse"] for r in ok])[0] == best:
                text = f"**{text}**"
            cells.append(text)
        cells.append(format_mean_std([r["metrics"]["unparseable_share"] for r in ok], 2))
        seeds = str(len(ok)) if expected_seeds is None else f"{len(ok)}/{expected_seeds}"
        cells += [seeds, str(failed)]
        cells.append(format_mean_std([r["fit_seconds"] for r in ok], 0))
        cells.append(format_mean_std([r["predict_seconds"] for r in ok], 0))
        cells.append(format_mean_std([r["peak_rss_mb"] for r in ok], 0))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _best_rmse(methods: Mapping[Any, list[Mapping[str, Any]]]) -> float:
    means = [
        mean_std([r["metrics"]["rmse"] for r in group if r.get("status") == "ok"])[0]
        for group in methods.values()
    ]
    finite = [m for m in means if not math.isnan(m)]
    return min(finite) if finite else math.nan


def failure_lines(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """One Markdown bullet per failed row: the cell and the first line of its error."""
    lines = []
    for row in rows:
        if row.get("status") != "ok":
            error = row.get("error", {})
            message = str(error.get("message", "")).splitlines()[0][:300] if error else ""
            lines.append(f"- `{row['cell']}`: {error.get('type', 'error')}: {message}")
    return lines


def ordering_lines(
    rows: Iterable[Mapping[str, Any]], orderings: Sequence[tuple[str, str]]
) -> list[str]:
    """Check each claim "a has a lower mean test RMSE than b" on every dataset with both.

    Returns:
        One Markdown bullet per (claim, dataset), saying "held" or "did not hold" with the
        means and standard deviations, or that a side has no finished run yet.
    """
    lines = []
    for (grid, dataset), methods in group_rows(rows).items():
        by_method: dict[str, list[Mapping[str, Any]]] = {}
        for (method, _), group in methods.items():
            by_method.setdefault(method, []).extend(r for r in group if r.get("status") == "ok")
        for better, worse in orderings:
            if better not in by_method or worse not in by_method:
                continue
            sides = [by_method[better], by_method[worse]]
            names = [(group[0].get("label") if group else None) or name
                     for group, name in zip(sides, (better, worse), strict=True)]  # fmt: skip
            claim = f"{names[0]} < {names[1]} on {Path(dataset).name}"
            if not all(sides):
                lines.append(f"- {claim}: not measured yet")
                continue
            stats = [mean_std([r["metrics"]["rmse"] for r in side]) for side in sides]
            verdict = "held" if stats[0][0] < stats[1][0] else "did not hold"
            lines.append(
                f"- {claim} ({grid}): RMSE {stats[0][0]:.3f} ± {stats[0][1]:.3f} vs "
                f"{stats[1][0]:.3f} ± {stats[1][1]:.3f}: **{verdict}**"
            )
    return lines
