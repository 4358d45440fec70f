"""Learning curves from the `learning-curves` suite: test RMSE against training rows.

Reads the suite's rows (`decoreg bench learning-curves --output
benchmarks/results/learning-curves --resume`; each grid is one training-set size) and, for the
largest size, the `raft-cpu` suite's rows of the same methods (2,000 clothing reviews, 1,500
MovieLens ratings: the same test rows and settings, so they are not trained twice), and draws,
per dataset, each method's test RMSE (mean ± std over seeds) against the number of training
rows, with a table of the same numbers in `learning_curves.md`.

Usage:
    python benchmarks/learning_curves.py [--results benchmarks/results/learning-curves]
        [--largest benchmarks/results/raft-cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from decoreg.bench.plots import finish_figure
from decoreg.bench.publish import current_rows
from decoreg.bench.report import mean_std
from decoreg.bench.suite import load_suite

RESULTS = Path(__file__).resolve().parent / "results" / "learning-curves"
LARGEST = RESULTS.with_name("raft-cpu")


def curves(rows: list[dict]) -> dict[str, dict[str, dict[int, list[float]]]]:
    """dataset -> method label -> training rows -> the seeds' test RMSEs."""
    table: dict[str, dict[str, dict[int, list[float]]]] = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        by_method = table.setdefault(row["dataset"], {})
        by_rows = by_method.setdefault(row.get("label") or row["method"], {})
        by_rows.setdefault(int(row["rows"]["train"]), []).append(row["metrics"]["rmse"])
    return table


def rows_of_largest(folder: Path, quick: bool) -> list[dict]:
    """The raft-cpu suite's current rows in `folder` (none when it has no results yet)."""
    return current_rows(load_suite("raft-cpu"), folder, quick=quick) if folder.is_dir() else []


def same_methods(rows: list[dict], suite) -> list[dict]:
    """The rows of the methods that `suite`'s grids train (RAFT, CE + RAIL, ridge on MiniLM)."""
    methods = {method.name for grid in suite.grids for method in grid.methods}
    return [row for row in rows if row["method"] in methods]


def markdown(table: dict, command: str) -> str:
    lines = ["# Learning curves (`learning-curves` suite)", "", f"Command: `{command}`", "",
             "Test RMSE, mean ± std over seeds (seeds in brackets), by training rows. The",
             "largest size of each dataset is the raft-cpu suite's cells of the same methods",
             "(same test rows; warmup 10 steps there, 4 here)."]  # fmt: skip
    for dataset, methods in table.items():
        sizes = sorted({n for by_rows in methods.values() for n in by_rows})
        lines += ["", f"## {dataset}", "", f"![learning curves]({dataset}-learning-curves.png)",
                  "", "| method | " + " | ".join(str(n) for n in sizes) + " |",
                  "|---|" + "---|" * len(sizes)]  # fmt: skip
        for label, by_rows in methods.items():
            cells = []
            for n in sizes:
                values = by_rows.get(n, [])
                mean, std = mean_std(values)
                cells.append(f"{mean:.3f} ± {std:.3f} ({len(values)})" if values else "-")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, ""])


def plot(dataset: str, methods: dict, path: Path) -> Path:
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for label, by_rows in methods.items():
        sizes = sorted(by_rows)
        stats = [mean_std(by_rows[n]) for n in sizes]
        axis.errorbar(sizes, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                      markersize=3, capsize=3, label=label)  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("training rows")
    axis.set_ylabel("test RMSE (mean ± std over seeds)")
    axis.set_title(dataset)
    axis.legend(fontsize=8)
    return finish_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--largest", type=Path, default=LARGEST,
        help="raft-cpu results whose cells of the same methods give the largest size",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="draw a --quick run's rows")
    args = parser.parse_args(argv)
    suite = load_suite("learning-curves")
    rows = current_rows(suite, args.results, quick=args.quick)
    rows += same_methods(rows_of_largest(args.largest, args.quick), suite)
    table = curves(rows)
    for dataset, methods in table.items():
        plot(dataset, methods, args.results / f"{dataset}-learning-curves.png")
    command = "python benchmarks/learning_curves.py " + " ".join(argv or sys.argv[1:])
    text = markdown(table, command.strip())
    (args.results / "learning_curves.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
