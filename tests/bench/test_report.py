"""The Markdown table renderer and the plots, on hand-made rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from decoreg.bench.plots import plot_learning_curves, plot_metric_bars, plot_predictions
from decoreg.bench.report import failure_lines, format_mean_std, mean_std, render_table


def row(method, seed, rmse, *, label=None, status="ok", model="m", **extra):
    metrics = {"rmse": rmse, "mae": rmse / 2, "r2": 1 - rmse, "spearman": 0.5,
               "unparseable_share": 0.0}  # fmt: skip
    base = {"grid": "g", "dataset": "d", "method": method, "label": label or method,
            "model": model, "seed": seed, "status": status, "cell": f"g/d/{method}/{model}/{seed}",
            "metrics": metrics, "fit_seconds": 10.0 * (seed + 1), "predict_seconds": 2.0,
            "peak_rss_mb": 1000.0}  # fmt: skip
    return {**base, **extra}


def test_mean_std_uses_the_sample_deviation() -> None:
    """Values 1 and 3: mean 2, sample std sqrt(((1-2)^2 + (3-2)^2) / 1) = sqrt(2)."""
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert mean_std([4.0]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in mean_std([]))
    assert mean_std([1.0, float("nan"), 3.0])[0] == 2.0  # NaN (e.g. undefined Spearman) skipped
    assert format_mean_std([1.0, 3.0]) == "2.000 ± 1.414"
    assert format_mean_std([0.5]) == "0.500" and format_mean_std([]) == "-"


def test_render_table_from_hand_made_rows() -> None:
    rows = [
        row("raft", 0, 0.5, label="RAFT"),
        row("raft", 1, 0.7, label="RAFT"),
        row("ce", 0, 0.9, label="CE"),
        row("ce", 1, 1.1, label="CE", status="failed"),
    ]
    lines = render_table(rows, expected_seeds=2).splitlines()
    assert lines[0] == ("| Method | RMSE | MAE | R² | Spearman | unparsed | seeds | failed | "
                        "fit s | predict s | peak MB |")  # fmt: skip
    assert lines[1] == "|" + "---|" * 11
    # RAFT: RMSE mean 0.6, std sqrt(0.02) = 0.141; MAE half; R² 1 - RMSE; fit 10 and 20 s.
    assert lines[2] == (
        "| RAFT | **0.600 ± 0.141** | 0.300 ± 0.071 | 0.400 ± 0.141 | "
        "0.500 ± 0.000 | 0.00 ± 0.00 | 2/2 | 0 | 15 ± 7 | 2 ± 0 | 1000 ± 0 |"
    )
    # CE: the failed seed is counted, not averaged.
    assert lines[3] == ("| CE | 0.900 | 0.450 | 0.100 | 0.500 | 0.00 | 1/2 | 1 | 10 | 2 | "
                        "1000 |")  # fmt: skip
    assert len(lines) == 4


def test_render_table_names_models_when_there_are_several() -> None:
    rows = [row("raft", 0, 0.5, label="RAFT", model="a"), row("raft", 0, 0.4, label="RAFT",
                                                              model="b")]  # fmt: skip
    text = render_table(rows)
    assert "| RAFT (a) | 0.500 |" in text and "| RAFT (b) | **0.400** |" in text


def test_render_table_needs_one_dataset() -> None:
    with pytest.raises(ValueError, match="one dataset"):
        render_table([row("a", 0, 1.0), {**row("a", 0, 1.0), "dataset": "other"}])


def test_failure_lines() -> None:
    failed = row("ce", 0, 1.0, status="failed", error={"type": "ConfigError",
                                                       "message": "bad grid\nmore"})  # fmt: skip
    assert failure_lines([row("raft", 0, 1.0), failed]) == ["- `g/d/ce/m/0`: ConfigError: bad grid"]


def test_plots_write_pngs(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    pd.DataFrame({"y_true": [1.0, 2, 3, 4, 5], "y_pred": [1.5, 2, 2.5, 4, 4.5],
                  "parsed": True}).to_csv(tmp_path / "p" / "a.csv", index=False)  # fmt: skip
    evaluations = [{"step": 1, "rmse": 1.0}, {"step": 2, "rmse": 0.8}]
    rows = [
        row("raft", 0, 0.5, predictions="p/a.csv", train={"evaluations": evaluations}),
        row("raft", 1, 0.6, predictions="p/a.csv", train={"evaluations": evaluations}),
        row("mean", 0, 1.2, predictions="p/a.csv", train=None, baseline=True),
    ]
    for path in (
        plot_metric_bars(rows, tmp_path / "bars.png", "t"),
        plot_predictions(rows, tmp_path, tmp_path / "scatter.png", "t"),
        plot_learning_curves(rows, tmp_path / "curves.png", "t"),
    ):
        assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    assert plot_learning_curves([row("mean", 0, 1.0)], tmp_path / "none.png", "t") is None
    assert plot_predictions([row("mean", 0, 1.0, status="failed")], tmp_path, tmp_path / "x.png",
                            "t") is None  # fmt: skip


def _predictions(folder: Path, name: str, y: np.ndarray, y_pred: np.ndarray, **columns) -> str:
    path = Path("p") / f"{name}.csv"
    (folder / "p").mkdir(exist_ok=True)
    pd.DataFrame({"y_true": y, "y_pred": y_pred, "parsed": True, **columns}).to_csv(
        folder / path, index=False
    )
    return str(path)


def test_orderings_are_judged_by_a_paired_bootstrap_over_rows(tmp_path: Path) -> None:
    """RAFT errs by 0.1 on every row and seed, CE by 1.0: every resample gives RMSE(RAFT) -
    RMSE(CE) = -0.9, so "RAFT < CE" held and "CE < RAFT" did not. Head and RAFT swap
    which one errs by 1 on alternate rows: equal RMSE, an interval around 0."""
    from decoreg.bench.report import ordering_lines

    y = np.zeros(40)
    alternate = (np.arange(40) % 2).astype(float)
    rows = [
        row("raft", 0, 0.1, label="RAFT", predictions=_predictions(tmp_path, "r0", y, y + 0.1)),
        row("raft", 1, 0.1, label="RAFT", predictions=_predictions(tmp_path, "r1", y, y - 0.1)),
        row("ce", 0, 1.0, label="CE", predictions=_predictions(tmp_path, "c0", y, y + 1.0)),
        row("alt", 0, 0.71, label="Alt", predictions=_predictions(tmp_path, "a0", y, alternate)),
        row("alt2", 0, 0.71, label="Alt2",
            predictions=_predictions(tmp_path, "a1", y, 1 - alternate)),
        row("lost", 0, 0.5, label="Lost", predictions="p/gone.csv"),
        {**row("raft", 0, 1.0, label="RAFT"), "dataset": "e"},
        {**row("ce", 0, 1.0, label="CE", status="failed"), "dataset": "e"},
    ]  # fmt: skip
    claims = [("raft", "ce"), ("ce", "raft"), ("alt", "alt2"), ("raft", "lost"),
              ("raft", "missing")]  # fmt: skip
    lines = ordering_lines(rows, claims, tmp_path)
    assert lines[0] == (
        "- RAFT < CE on d (g): RMSE 0.100 ± 0.000 vs 1.000 ± 0.000; paired bootstrap over 40 "
        "rows × 2/1 seeds: RMSE difference -0.900, 95% interval [-0.900, -0.900]: **held**"
    )
    assert lines[1].endswith("[+0.900, +0.900]: **did not hold**")
    assert "RMSE difference +0.000" in lines[2] and lines[2].endswith("**not separable**")
    low, high = (float(v) for v in lines[2].split("[")[1].split("]")[0].split(", "))
    assert low < 0 < high
    assert lines[3] == ("- RAFT < Lost on d (g): RMSE 0.100 ± 0.000 vs 0.500 ± 0.000; not "
                        "judged (per-row predictions missing)")  # fmt: skip
    assert lines[4:] == ["- RAFT < ce on e: not measured yet", "- ce < RAFT on e: not measured yet"]


def test_distribution_table_from_known_scores() -> None:
    """Two seeds of RAFT with CRPS 0.2 and 0.4 (mean 0.3, sample std 0.141); a greedy method
    and a MAPIE baseline without a distribution show "-" where they have no number."""
    from decoreg.bench.report import distribution_table

    def scores(crps, nll, before, after):
        return {"crps": crps, "nll": nll, "coverage_90": before,
                "width_90": None if before is None else 2.0,
                "conformal_coverage_90": after, "conformal_width_90": 2.5}  # fmt: skip

    rows = [
        row("raft", 0, 0.5, label="RAFT", uncertainty=scores(0.2, 1.0, 0.8, 0.9)),
        row("raft", 1, 0.5, label="RAFT", uncertainty=scores(0.4, 1.2, 0.7, 0.95)),
        row("greedy", 0, 0.5, label="Greedy", uncertainty=None),
        row("cqr", 0, 0.5, label="CQR", uncertainty=scores(None, None, None, 0.875)),
    ]
    lines = distribution_table(rows).splitlines()
    assert lines[0] == ("| Method | CRPS | NLL | 90% coverage before | width before | "
                        "90% coverage after | width after |")  # fmt: skip
    assert lines[2] == ("| RAFT | 0.300 ± 0.141 | 1.100 ± 0.141 | 0.750 ± 0.071 | "
                        "2.000 ± 0.000 | 0.925 ± 0.035 | 2.500 ± 0.000 |")  # fmt: skip
    assert lines[3] == "| Greedy | - | - | - | - | - | - |"
    assert lines[4] == "| CQR | - | - | - | - | 0.875 | 2.500 |"


def test_panel_table_averages_each_dataset_once() -> None:
    """CE: R² 0.4 and 0.6 over two seeds on d (mean 0.5), 0.9 on e: panel mean 0.7. Mean
    predictor only on d (R² 1 - 1.0 = 0): 1/2 datasets. One dataset alone: no table."""
    from decoreg.bench.report import panel_table

    rows = [
        row("ce", 0, 0.6, label="CE"),
        row("ce", 1, 0.4, label="CE"),
        {**row("ce", 0, 0.1, label="CE"), "dataset": "e"},
        row("mean", 0, 1.0, label="Mean"),
        {**row("mean", 0, 1.0, label="Mean", status="failed"), "dataset": "e"},
    ]
    lines = panel_table(rows).splitlines()
    assert lines[0] == "| Method | datasets | mean R² | mean Spearman |"
    assert lines[2] == "| CE | 2/2 | 0.7000 | 0.5000 |"
    assert lines[3] == "| Mean | 1/2 | 0.0000 | 0.5000 |"
    assert len(lines) == 4
    assert panel_table(rows[:2]) is None


def test_rl_diagnostics_plot_skips_methods_without_them_and_shared_fits(tmp_path: Path) -> None:
    from decoreg.bench.plots import plot_rl_diagnostics

    diagnostics = [[1, 0.5, 2.0], [2, 0.25, None]]  # entropy absent at a step: a gap
    rl = row("remax", 0, 0.5, train={"diagnostics": diagnostics})
    shared = row("remax-median", 0, 0.5, train={"diagnostics": diagnostics},
                 shared_fit_with=rl["cell"])  # fmt: skip
    path = plot_rl_diagnostics([rl, shared, row("ce", 0, 1.0, train={})], tmp_path / "d.png", "t")
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    assert plot_rl_diagnostics([shared, row("ce", 0, 1.0)], tmp_path / "n.png", "t") is None
