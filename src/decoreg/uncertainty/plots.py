"""PNG plots of predictive distributions: reliability (PIT histogram and coverage vs nominal)
and intervals against the truth.

Figures are drawn on matplotlib's Agg canvas directly (`matplotlib.figure.Figure`), so nothing
here touches pyplot's global state or the user's backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from decoreg.uncertainty.distribution import Predictive
from decoreg.uncertainty.metrics import interval_scores, pit

NOMINAL_LEVELS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))
"""The central-interval probabilities the reliability plot checks coverage at."""


def coverage_curve(pred: Predictive, y) -> list[float]:
    """The empirical coverage of the central interval at each of `NOMINAL_LEVELS`."""
    y = np.asarray(y, dtype=np.float64)
    return [interval_scores(*pred.interval(level), y)[0] for level in NOMINAL_LEVELS]


def draw_pit(axes: Axes, pit_values, *, label: str | None = None, bins: int = 10) -> None:
    """A density histogram of PIT values on [0, 1] (outlined when labelled, so several
    overlay), with the flat line of a calibrated forecast."""
    style = {"histtype": "step", "linewidth": 1.5} if label else {"color": "#4c72b0"}
    axes.hist(pit_values, bins=bins, range=(0.0, 1.0), density=True, label=label, **style)
    if not any(line.get_label() == "calibrated" for line in axes.get_lines()):
        axes.axhline(1.0, color="black", linestyle="--", linewidth=1, label="calibrated")
    axes.set(xlabel="PIT value F(y)", ylabel="density", title="PIT histogram")


def draw_coverage(axes: Axes, observed, *, label: str = "model") -> None:
    """Empirical coverage at `NOMINAL_LEVELS` against the nominal one, and the diagonal."""
    if not any(line.get_label() == "calibrated" for line in axes.get_lines()):
        axes.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="calibrated")
    axes.plot(NOMINAL_LEVELS, observed, marker="o", markersize=3, label=label)
    axes.set(
        xlabel="nominal coverage",
        ylabel="empirical coverage",
        title="central intervals",
        xlim=(0, 1),
        ylim=(0, 1),
    )


def draw_intervals(
    axes: Axes,
    y,
    intervals: np.ndarray,  # [N, 2] lower, upper
    *,
    point=None,
    title: str = "",
    max_rows: int = 150,
) -> None:
    """Each row's interval as a vertical bar and its target as a dot (red when outside), rows
    ordered by the point prediction (or the interval's midpoint); at most `max_rows` rows,
    evenly spaced in that order; the title reports coverage and mean width."""
    y = np.asarray(y, dtype=np.float64)
    intervals = np.asarray(intervals, dtype=np.float64)
    center = intervals.mean(axis=1) if point is None else np.asarray(point, dtype=np.float64)
    order = np.argsort(center, kind="stable")
    if len(order) > max_rows:
        order = order[np.linspace(0, len(order) - 1, max_rows).round().astype(int)]
    lower, upper, truth = intervals[order, 0], intervals[order, 1], y[order]
    covered = (lower <= truth) & (truth <= upper)
    coverage, width = interval_scores(intervals[:, 0], intervals[:, 1], y)
    x = np.arange(len(order))
    axes.vlines(x, lower, upper, color="#4c72b0", alpha=0.6, linewidth=2, label="interval")
    axes.scatter(x[covered], truth[covered], s=8, color="black", label="target inside")
    axes.scatter(x[~covered], truth[~covered], s=10, color="#c44e52", label="target outside")
    axes.set(
        xlabel="rows, by prediction",
        ylabel="target",
        title=f"{title + ': ' if title else ''}coverage {coverage:.3f}, mean width {width:.4g}",
    )


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (pyplot's global state untouched)."""
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def plot_reliability(pred: Predictive, y, path: str | Path, *, title: str = "") -> Path:
    """Left: the histogram of (randomized) PIT values, flat when calibrated. Right: the
    empirical coverage of the model's central intervals against their nominal probability,
    on the diagonal when calibrated. Writes and returns `path`."""
    y = np.asarray(y, dtype=np.float64)
    figure = new_figure(8.0, 3.4)
    left, right = figure.subplots(1, 2)
    draw_pit(left, pit(pred, y))
    left.legend(loc="upper center", fontsize=8)
    draw_coverage(right, coverage_curve(pred, y))
    right.legend(loc="upper left", fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_intervals(
    y,
    intervals: np.ndarray,  # [N, 2] lower, upper
    path: str | Path,
    *,
    point=None,
    title: str = "",
    max_rows: int = 150,
) -> Path:
    """`draw_intervals` on a figure of its own. Writes and returns `path`."""
    figure = new_figure(8.0, 3.6)
    axes = figure.subplots()
    draw_intervals(axes, y, intervals, point=point, title=title, max_rows=max_rows)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


def write_uncertainty_plots(
    pred: Predictive,
    y,
    directory: str | Path,
    *,
    name: str = "test",
    intervals: np.ndarray | None = None,
    coverage: float = 0.9,
) -> list[Path]:
    """The reliability plot and the interval plot of one dataset, as
    `{name}-reliability.png` and `{name}-intervals.png` in `directory` (created).

    Args:
        pred: The rows' distributions.
        y: [N] their targets.
        directory: Folder to write into.
        name: File name prefix (e.g. the dataset).
        intervals: [N, 2] intervals to draw (e.g. conformal ones); None: the model's own
            central interval of probability `coverage`.
        coverage: The coverage of the drawn intervals, when `intervals` is None.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if intervals is None:
        intervals = np.stack(pred.interval(coverage), axis=1)
    return [
        plot_reliability(pred, y, directory / f"{name}-reliability.png", title=name),
        plot_intervals(
            y, intervals, directory / f"{name}-intervals.png", point=pred.median(), title=name
        ),
    ]


def save_figure(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write `figure` as a PNG to `path` (its folder created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path
