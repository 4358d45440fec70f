"""PNG plots of benchmark rows: predicted vs true, metric bars with error bars, learning curves.

Every function takes the rows of one grid and dataset and writes one PNG (matplotlib, Agg).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from decoreg.bench.report import group_rows, mean_std
from decoreg.uncertainty.plots import save_figure

Row = Mapping[str, Any]


def finish_figure(figure, path: Path) -> Path:
    """Lay out, write (90 dpi: the reports hold dozens) and close `figure`; return `path`."""
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)
    return path


def label_of(row: Row, several_models: bool) -> str:
    """A method's label in plots, with its model when the rows have several."""
    label = row.get("label") or row["method"]
    return f"{label}\n({row['model']})" if several_models and row.get("model") else label


def ok_methods(rows: Sequence[Row]) -> tuple[list[list[Row]], bool]:
    """The finished rows grouped per method (and model), and whether there are several models."""
    groups = group_rows(r for r in rows if r.get("status") == "ok")
    methods = [group for table in groups.values() for group in table.values()]
    several_models = len({r.get("model") for g in methods for r in g if r.get("model")}) > 1
    return methods, several_models


def plot_predictions(rows: Sequence[Row], folder: Path, path: Path, title: str) -> Path | None:
    """Scatter of predicted vs true test values, one panel per method (its lowest seed).

    Args:
        rows: Rows of one dataset.
        folder: The result folder that the rows' ``predictions`` paths are relative to.
        path: PNG to write.
        title: Figure title.

    Returns:
        `path`, or None if no row has predictions.
    """
    methods, several = ok_methods(rows)
    methods = [g for g in methods if (folder / min(g, key=lambda r: r["seed"])["predictions"])
               .exists()]  # fmt: skip
    if not methods:
        return None
    columns = min(4, len(methods))
    lines = math.ceil(len(methods) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 3.0 * lines),
                                squeeze=False)  # fmt: skip
    frames = [pd.read_csv(folder / min(g, key=lambda r: r["seed"])["predictions"])
              for g in methods]  # fmt: skip
    low = min(min(f["y_true"].min(), f["y_pred"].min()) for f in frames)
    high = max(max(f["y_true"].max(), f["y_pred"].max()) for f in frames)
    rng = np.random.default_rng(0)
    for axis, group, frame in zip(axes.flat, methods, frames, strict=False):
        y_true = frame["y_true"].to_numpy()
        jitter = 0.0
        if len(np.unique(y_true)) <= 12:  # discrete targets such as star ratings
            jitter = rng.uniform(-0.15, 0.15, len(y_true)) * (high - low) / 10
        axis.scatter(y_true + jitter, frame["y_pred"], s=6, alpha=0.4)
        axis.plot([low, high], [low, high], color="black", linewidth=0.8)
        axis.set_title(label_of(group[0], several), fontsize=9)
        axis.set_xlim(low, high)
        axis.set_ylim(low, high)
    for axis in axes.flat[len(methods) :]:
        axis.axis("off")
    figure.supxlabel("true")
    figure.supylabel("predicted")
    figure.suptitle(title)
    return finish_figure(figure, path)


def plot_metric_bars(rows: Sequence[Row], path: Path, title: str, metric: str = "rmse"):
    """Bars of the mean `metric` per method with +-1 standard deviation over seeds."""
    methods, several = ok_methods(rows)
    if not methods:
        return None
    stats = [mean_std([r["metrics"][metric] for r in g]) for g in methods]
    labels = [label_of(g[0], several) for g in methods]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(methods) + 1.5), 3.6))
    positions = np.arange(len(methods))
    axis.bar(positions, [m for m, _ in stats], yerr=[s for _, s in stats], capsize=4,
             color=["tab:gray" if g[0].get("baseline") else "tab:blue"
                    for g in methods])  # fmt: skip
    axis.set_xticks(positions, labels, rotation=35, ha="right", fontsize=8)
    axis.set_ylabel(f"test {metric.upper()} (mean ± std over seeds)")
    axis.set_title(title)
    return finish_figure(figure, path)


def training_curves(
    rows: Sequence[Row], read: Callable[[dict], list[tuple[int, list[float]]]]
) -> list[tuple[str, list[int], np.ndarray]]:
    """Per trained method: its label, the steps and the values `read` takes from each row's
    ``train`` record, averaged over seeds per step ([steps, values]; None counts as missing).
    A method that reused another's fit (another decoder of the same model) is left out."""
    methods, several = ok_methods(rows)
    curves = []
    for group in methods:
        if all("shared_fit_with" in row for row in group):
            continue  # the same training as a method drawn already
        by_step: dict[int, list[list[float]]] = {}
        for row in group:
            for step, values in read(row.get("train") or {}):
                by_step.setdefault(int(step), []).append(
                    [np.nan if v is None else float(v) for v in values]
                )
        if by_step:
            steps = sorted(by_step)
            means = np.array([np.nanmean(by_step[s], axis=0) for s in steps])
            curves.append((label_of(group[0], several).replace("\n", " "), steps, means))
    return curves


def plot_learning_curves(rows: Sequence[Row], path: Path, title: str) -> Path | None:
    """Validation RMSE against training step for every trained method (mean over seeds)."""
    curves = training_curves(
        rows, lambda train: [(e["step"], [e["rmse"]]) for e in train.get("evaluations") or []]
    )
    if not curves:
        return None
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for label, steps, values in curves:
        axis.plot(steps, values[:, 0], marker="o", markersize=3, label=label)
    axis.set_xlabel("training step")
    axis.set_ylabel("validation RMSE (mean over seeds)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return finish_figure(figure, path)


def plot_rl_diagnostics(rows: Sequence[Row], path: Path, title: str) -> Path | None:
    """The share of tied groups and the sampling entropy against RL step (mean over seeds)."""

    def read(train: dict) -> list[tuple[int, list[float]]]:
        return [(step, [tied, entropy]) for step, tied, entropy in train.get("diagnostics") or []]

    curves = training_curves(rows, read)
    if not curves:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for label, steps, means in curves:
        for axis, column in zip(axes, (0, 1), strict=True):
            axis.plot(steps, means[:, column], label=label, linewidth=1)
    axes[0].set_ylabel("share of groups with tied rewards")
    axes[1].set_ylabel("sampling entropy (nats per step)")
    for axis in axes:
        axis.set_xlabel("RL step")
    axes[1].legend(fontsize=7)
    figure.suptitle(title)
    return finish_figure(figure, path)
