"""PNG plots of a dataset's predictive distributions across methods: reliability (PIT
histograms and coverage vs nominal) and the 90% conformal intervals, drawn with
`decoreg.uncertainty.plots`.

Each function takes the rows of one grid and dataset and the result folder their predictions
CSVs are relative to, and writes one PNG, or returns None when no row has what it draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.bench.plots import label_of, ok_methods
from decoreg.uncertainty.plots import (
    draw_coverage,
    draw_intervals,
    draw_pit,
    new_figure,
    save_figure,
)

Row = Mapping[str, Any]


def _frames(group: Sequence[Row], folder: Path, column: str) -> list[pd.DataFrame]:
    """The group's predictions CSVs (by seed) that hold `column`."""
    frames = []
    for row in sorted(group, key=lambda r: r["seed"]):
        path = folder / row["predictions"] if row.get("predictions") else None
        if path is not None and path.exists():
            frame = pd.read_csv(path)
            if column in frame:
                frames.append(frame)
    return frames


def plot_reliability(rows: Sequence[Row], folder: Path, path: Path, title: str) -> Path | None:
    """Left: each distribution method's PIT histogram (all seeds' test rows pooled). Right: the
    empirical coverage of its central intervals against the nominal one (mean over seeds)."""
    methods, several = ok_methods(rows)
    curves = []
    for group in methods:
        reliability = [r["uncertainty"]["reliability"]["coverage"] for r in group
                       if (r.get("uncertainty") or {}).get("reliability")]  # fmt: skip
        frames = _frames(group, folder, "pit")
        if reliability and frames:
            pit = np.concatenate([f["pit"].to_numpy(dtype=np.float64) for f in frames])
            label = label_of(group[0], several).replace("\n", " ")
            curves.append((label, pit, np.mean(reliability, axis=0)))
    if not curves:
        return None
    figure = new_figure(9.0, 3.6)
    left, right = figure.subplots(1, 2)
    for label, pit, coverage in curves:
        draw_pit(left, pit, label=label)
        draw_coverage(right, coverage, label=label)
    left.legend(fontsize=7)
    right.legend(loc="upper left", fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_conformal_intervals(
    rows: Sequence[Row], folder: Path, path: Path, title: str
) -> Path | None:
    """One panel per method with a 90% conformal interval: its lowest seed's test rows."""
    methods, several = ok_methods(rows)
    panels = []
    for group in methods:
        frames = _frames(group, folder, "conformal_lower")
        if frames:
            panels.append((label_of(group[0], several).replace("\n", " "), frames[0]))
    if not panels:
        return None
    columns = min(3, len(panels))
    lines = math.ceil(len(panels) / columns)
    figure = new_figure(4.2 * columns, 3.2 * lines)
    axes = figure.subplots(lines, columns, squeeze=False)
    for axis, (label, frame) in zip(axes.flat, panels, strict=False):
        intervals = frame[["conformal_lower", "conformal_upper"]].to_numpy(dtype=np.float64)
        draw_intervals(axis, frame["y_true"], intervals, point=frame["y_pred"], title=label)
        axis.title.set_fontsize(8)
    for axis in axes.flat[len(panels) :]:
        axis.axis("off")
    figure.suptitle(f"{title}: 90% conformal intervals")
    figure.tight_layout()
    return save_figure(figure, path)
