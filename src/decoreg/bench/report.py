"""Markdown tables of benchmark rows: one table per grid and dataset, mean +- std over seeds,
a table of distribution scores, and the orderings judged by a paired bootstrap."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.bench.bootstrap import PairedDifference, paired_rmse_difference

TABLE_METRICS = (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"), ("spearman", "Spearman"))
DISTRIBUTION_COLUMNS = (
    ("crps", "CRPS"),
    ("nll", "NLL"),
    ("coverage_90", "90% coverage before"),
    ("width_90", "width before"),
    ("conformal_coverage_90", "90% coverage after"),
    ("conformal_width_90", "width after"),
)


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


def panel_table(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """A Markdown table of one grid's methods averaged over its datasets (None: one dataset).

    Each dataset counts once: a method's mean over seeds on each dataset, then the mean of
    those over the datasets it finished (the "datasets" column; a method missing some is not
    comparable with one that has them all). RMSE is left out: its scale differs by dataset.
    """
    tables = group_rows(rows)
    if len(tables) < 2:
        return None
    per_method: dict[tuple[str, str | None], dict[str, list[float]]] = {}
    labels: dict[tuple[str, str | None], str] = {}
    for methods in tables.values():
        for key, group in methods.items():
            ok = [r for r in group if r.get("status") == "ok"]
            if not ok:
                continue
            labels.setdefault(key, _row_label(group[0], False))
            scores = per_method.setdefault(key, {"r2": [], "spearman": []})
            for metric in scores:
                scores[metric].append(mean_std([r["metrics"][metric] for r in ok])[0])
    lines = ["| Method | datasets | mean R² | mean Spearman |", "|---|---|---|---|"]
    for key, scores in per_method.items():
        r2, spearman = (mean_std(scores[m])[0] for m in ("r2", "spearman"))
        spearman_text = "-" if math.isnan(spearman) else f"{spearman:.4f}"
        lines.append(
            f"| {labels[key]} | {len(scores['r2'])}/{len(tables)} | {r2:.4f} | {spearman_text} |"
        )
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


def distribution_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of one dataset's distribution scores: a line per method (and model).

    CRPS, NLL and the 90% interval's coverage and width before conformal calibration (the
    model's own quantiles) and after it (CQR on the validation rows), mean ± std over seeds;
    "-" where a method gives no such number (greedy, heads, point baselines; a MAPIE baseline
    has only the calibrated interval).
    """
    groups = group_rows(rows)
    if len(groups) != 1:
        raise ValueError(f"distribution_table takes the rows of one dataset, got {list(groups)}")
    methods = next(iter(groups.values()))
    several_models = len({model for _, model in methods if model}) > 1
    header = ["Method", *[name for _, name in DISTRIBUTION_COLUMNS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in methods.values():
        scored = [r["uncertainty"] for r in group if r.get("status") == "ok" and
                  r.get("uncertainty")]  # fmt: skip
        cells = [_row_label(group[0], several_models)]
        for key, _ in DISTRIBUTION_COLUMNS:
            cells.append(format_mean_std([u[key] for u in scored if u.get(key) is not None]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ordering_lines(
    rows: Iterable[Mapping[str, Any]],
    orderings: Sequence[tuple[str, str]],
    folder: Path,
) -> list[str]:
    """Judge each claim "a has a lower test RMSE than b" on every dataset with both, by a paired
    bootstrap over the test rows (`decoreg.bench.bootstrap`) on the per-row predictions of all
    their seeds (the rows' ``predictions`` CSVs, relative to `folder`).

    Returns:
        One Markdown bullet per (claim, dataset): the mean ± std RMSE of each side, the
        observed RMSE(a) - RMSE(b) with its 95% bootstrap interval and the verdict ("held":
        the interval lies below 0; "did not hold": above 0; "not separable": it contains 0),
        or why it cannot be judged (a side not measured yet, predictions missing).
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
            means = (f"RMSE {stats[0][0]:.3f} ± {stats[0][1]:.3f} vs {stats[1][0]:.3f} ± "
                     f"{stats[1][1]:.3f}")  # fmt: skip
            lines.append(f"- {claim} ({grid}): {means}; {_paired_verdict(sides, folder)}")
    return lines


@dataclass(frozen=True)
class PairedJudgement:
    """A paired bootstrap of two methods' test rows: the difference, the rows and the seeds."""

    result: PairedDifference
    rows: int
    seeds: tuple[int, int]


def paired_difference(
    sides: Sequence[Sequence[Mapping[str, Any]]], folder: Path
) -> PairedJudgement | str:
    """The paired bootstrap of RMSE(sides[0]) - RMSE(sides[1]) on the rows' per-row
    predictions (their ``predictions`` files, relative to `folder`; every seed found of each
    side), or why it cannot be judged."""
    frames = [[pd.read_csv(folder / r["predictions"]) for r in side
               if r.get("predictions") and (folder / r["predictions"]).exists()]
              for side in sides]  # fmt: skip
    if not all(frames):
        return "per-row predictions missing"
    y = frames[0][0]["y_true"].to_numpy(dtype=np.float64)
    if any(not np.array_equal(f["y_true"].to_numpy(dtype=np.float64), y) for s in frames
           for f in s):  # fmt: skip
        return "the sides' test rows differ"
    a, b = (np.stack([f["y_pred"].to_numpy(dtype=np.float64) for f in side]) for side in frames)
    return PairedJudgement(paired_rmse_difference(y, a, b), len(y), (len(a), len(b)))


def _paired_verdict(sides: list[list[Mapping[str, Any]]], folder: Path) -> str:
    judged = paired_difference(sides, folder)
    if isinstance(judged, str):
        return f"not judged ({judged})"
    result = judged.result
    return (
        f"paired bootstrap over {judged.rows} rows × {judged.seeds[0]}/{judged.seeds[1]} seeds: "
        f"RMSE difference {result.difference:+.3f}, 95% interval [{result.low:+.3f}, "
        f"{result.high:+.3f}]: **{result.verdict}**"
    )
