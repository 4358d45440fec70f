"""Writing a result folder's ``results.md`` (tables, failures, timing) and its plots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from decoreg.bench.cells import Suite
from decoreg.bench.plots import (
    plot_learning_curves,
    plot_metric_bars,
    plot_predictions,
    plot_rl_diagnostics,
)
from decoreg.bench.report import (
    distribution_table,
    failure_lines,
    group_rows,
    ordering_lines,
    panel_table,
    render_table,
)
from decoreg.bench.rows import RESULTS_FILE, RUNS_FILE, latest_rows, read_rows
from decoreg.bench.uncertainty_plots import plot_conformal_intervals, plot_reliability
from decoreg.datasets import DATASETS

MARKDOWN_FILE = "results.md"
PLOTS_DIR = "plots"
QUICK_BUDGET_MINUTES = 10


def current_rows(suite: Suite, output: Path, quick: bool) -> list[dict[str, Any]]:
    """The newest row of each of the suite's cells (rows of other configs are ignored)."""
    latest = latest_rows(read_rows(output / RESULTS_FILE))
    return [latest[cell.key] for cell in suite.cells(quick=quick) if cell.key in latest]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).name).strip("-")


def _distribution_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The dataset's distribution table, or a line saying its rows hold no such scores."""
    if not any(r.get("uncertainty") for r in rows):
        return ["Distribution scores (CRPS, intervals): not recorded in these rows.", ""]
    notes = sorted({f"- `{r['cell']}`: {r['uncertainty']['note']}" for r in rows
                    if (r.get("uncertainty") or {}).get("note")})  # fmt: skip
    return [
        "Predictive distributions (test rows): CRPS, NLL (grid decoders), and the central "
        "90% interval's empirical coverage and mean width before conformal calibration (the "
        "model's own 5% and 95% quantiles) and after it (split-conformal CQR calibrated on "
        'the validation rows); "-": the method gives no such number.',
        "",
        distribution_table(rows),
        "",
        *notes,
        *([""] if notes else []),
    ]


def write_report(suite: Suite, output: Path, quick: bool = False) -> Path:
    """Render ``results.md`` and the PNG plots of `output` from its current rows.

    Returns:
        The path of ``results.md``.
    """
    rows = current_rows(suite, output, quick)
    cells = suite.cells(quick=quick)
    seeds = len(suite.quick["seeds"] if quick else suite.seeds)
    runs = read_rows(output / RUNS_FILE)
    (output / PLOTS_DIR).mkdir(exist_ok=True)
    ok = [r for r in rows if r.get("status") == "ok"]
    compute = sum(r.get("wall_seconds", 0.0) for r in rows)
    budget = QUICK_BUDGET_MINUTES if quick else suite.budget_minutes
    lines = [
        f"# Benchmark suite `{suite.name}`{' (quick mode)' if quick else ''}",
        "",
        suite.description.strip(),
        "",
        f"- Cells: {len(cells)} ({len(ok)} finished, {len(rows) - len(ok)} failed, "
        f"{len(cells) - len(rows)} not run yet); seeds per method: {seeds}.",
        f"- Compute time of the current cells (sum of their wall times): {compute / 60:.1f} min; "
        f"target under {budget} min: {'met' if compute < budget * 60 else 'NOT met'}"
        f"{'' if len(rows) == len(cells) else ' (incomplete)'}.",
    ]
    if runs:
        environment = runs[-1].get("environment", {})
        versions = environment.get("versions", {})
        lines += [
            f"- Machine: {environment.get('cpu_count')} CPUs, torch "
            f"{versions.get('torch')} ({environment.get('torch_threads')} threads), "
            f"Python {environment.get('python')}, decoreg {versions.get('decoreg')}.",
            "- Invocations (each resumes the last; finished cells are not rerun):",
            *[
                f"  - `{run['command']}`: {run['run']} cells run, {run['skipped']} skipped, "
                f"{run['failed']} failed, {run['wall_seconds'] / 60:.1f} min wall "
                f"({run['started_at']})"
                for run in runs
                if run.get("quick") == quick
            ],
        ]
    lines += [
        "",
        "Rows: test-set metrics, mean ± sample std over seeds; **bold** is the lowest RMSE. "
        "`fit s` is 0 for a method that reused the fitted model of the method above it (same "
        "training, another decoder). `peak MB` is the process's resident peak during the cell; "
        "it includes memory kept from earlier cells of the same run (freed tensors the "
        "allocator did not hand back), so it rises through a run and bounds a cell's own "
        "need from above (rows also record `start_rss_mb`, the resident size when the cell "
        "began). Raw rows: "
        f"[{RESULTS_FILE}]({RESULTS_FILE}).",
    ]
    for (grid, dataset), methods in group_rows(rows).items():
        table_rows = [r for group in methods.values() for r in group]
        info = DATASETS.get(dataset)
        sizes = table_rows[0].get("rows") or {}
        lines += ["", f"## {grid}: {Path(dataset).name}", ""]
        if info is not None:
            lines.append(f"{info.description} Source: `{info.source}`.")
        lines.append(
            f"Rows used: {sizes.get('train')} train, {sizes.get('validation')} validation, "
            f"{sizes.get('test')} test."
        )
        lines += ["", render_table(table_rows, expected_seeds=seeds), ""]
        lines += _distribution_lines(table_rows)
        title = f"{Path(dataset).name} ({grid})"
        base = output / PLOTS_DIR / f"{_slug(grid)}--{_slug(dataset)}"
        plots = [
            ("metric bars", plot_metric_bars(table_rows, Path(f"{base}-rmse.png"), title)),
            ("predicted vs true", plot_predictions(
                table_rows, output, Path(f"{base}-pred-vs-true.png"), title)),
            ("learning curves", plot_learning_curves(
                table_rows, Path(f"{base}-learning-curves.png"), title)),
            ("RL diagnostics", plot_rl_diagnostics(
                table_rows, Path(f"{base}-rl-diagnostics.png"), title)),
            ("reliability", plot_reliability(
                table_rows, output, Path(f"{base}-reliability.png"), title)),
            ("90% intervals", plot_conformal_intervals(
                table_rows, output, Path(f"{base}-intervals.png"), title)),
        ]  # fmt: skip
        links = [f"[{name}]({p.relative_to(output)})" for name, p in plots if p is not None]
        if links:
            lines.append("Plots: " + ", ".join(links) + ".")
        failures = failure_lines(table_rows)
        if failures:
            lines += ["", "Failed cells:", *failures]
    for grid in suite.grids:
        table = panel_table([r for r in rows if r["grid"] == grid.name])
        if table is not None:
            lines += ["", f"## Panel average: {grid.name}", "",
                      "Mean over the grid's datasets of each method's mean over seeds.", "",
                      table]  # fmt: skip
    if suite.orderings:
        lines += [
            "",
            "## The papers' orderings",
            "",
            "Each claim says the first method has the lower test RMSE. It is judged by a "
            "paired bootstrap over the test rows (2,000 resamples of the rows, the same for "
            "both methods; each row's squared error averaged over the seeds first): **held** "
            "when the 95% interval of RMSE(first) - RMSE(second) lies below 0, **did not "
            "hold** when it lies above 0, **not separable** when it contains 0. The means "
            "± std over seeds are shown beside it.",
            "",
            *(ordering_lines(rows, suite.orderings, output)
              or ["- no dataset has both sides yet"]),
        ]  # fmt: skip
    path = output / MARKDOWN_FILE
    path.write_text("\n".join(lines) + "\n")
    return path
