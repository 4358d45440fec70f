"""What `decoreg evaluate` shows of a distribution: a table of its scores and its plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from decoreg.uncertainty.metrics import INTERVAL_LEVELS
from decoreg.uncertainty.plots import write_uncertainty_plots

PLOT_COVERAGE = 0.9

UNCERTAINTY_COLUMNS = (
    "crps",
    "nll",
    *(
        f"{kind}_{round(100 * level)}"
        for level in INTERVAL_LEVELS
        for kind in ("coverage", "width")
    ),
)


def uncertainty_table(rows: dict[str, dict[str, float]]) -> str:
    """A plain-text table of the distribution scores: one row per data set."""
    header = ["data", *UNCERTAINTY_COLUMNS]
    lines = [header]
    for name, metrics in rows.items():
        cells = [metrics.get(column) for column in UNCERTAINTY_COLUMNS]
        lines.append([name, *["-" if c is None else f"{c:.4f}" for c in cells]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def write_evaluation_plots(
    estimator, X, y, directory: str | Path, *, name: str, write: bool = True
) -> list[Path]:
    """The reliability and interval plots of a fitted `DecodingRegressor` on X, y: the
    interval plot shows the conformal 90% interval when the estimator has calibration rows,
    else the model's own central 90% interval. With `write` False, only the predictions (a
    process of a data-parallel run other than rank 0 takes part in them, rank 0 draws)."""
    pred = estimator.predict_distribution(X)
    intervals = None
    if estimator.calibration_ is not None:
        intervals = estimator.predict_interval(X, coverage=PLOT_COVERAGE)
    if not write:
        return []
    y = np.asarray(y, dtype=np.float64)
    return write_uncertainty_plots(
        pred, y, directory, name=name, intervals=intervals, coverage=PLOT_COVERAGE
    )
