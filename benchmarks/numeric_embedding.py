"""Does the periodic numeric-feature embedding close the tabular model's gap to gradient boosting?

Trains the tabular family's CE model on the sets of the `genre2-tabular` panel, each at that
suite's tuned settings (the same rows, steps and learning rate), three ways that differ only in
`numeric_embedding`: "linear" (the standardized values, today's default) and "periodic" with
initial frequency scales 0.1 and 1. Runs them as a suite (`suite.yaml` written beside the
results, so `--resume` continues a killed run) and judges each periodic variant against
linear with the paired bootstrap over test rows (the house rule: squared errors averaged over
the seeds per row), next to gradient boosting's R^2 from the committed `genre2-tabular` rows.

Usage:
    python benchmarks/numeric_embedding.py [--datasets a,b] [--seeds 0,1,2] [--lock FILE]
        (41 minutes on one core for the ten sets, beside a 2-thread suite)
    python benchmarks/numeric_embedding.py --report-only
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path
from statistics import mean
from typing import Any

import yaml

from decoreg.bench.publish import current_rows
from decoreg.bench.report import paired_difference
from decoreg.bench.suite import SUITES_DIR, load_suite

OUTPUT = Path("benchmarks/results/numeric-embedding")
PANEL = Path("benchmarks/results/genre2-tabular")
VARIANTS: dict[str, dict[str, Any]] = {
    "linear": {},  # the default: these cells are genre2-tabular's own but for the grid name
    "periodic-0.1": {"numeric_embedding": "periodic", "periodic_scale": 0.1},
    "periodic-1": {"numeric_embedding": "periodic", "periodic_scale": 1.0},
}
BASE = "linear"


def suite_document(datasets: list[str] | None, seeds: list[int]) -> dict[str, Any]:
    """The suite: one grid per variant, each dataset (default: all) at its genre2-tabular
    entry."""
    panel = yaml.safe_load((SUITES_DIR / "genre2-tabular.yaml").read_text())
    (grid,) = panel["grids"]
    entries = grid["datasets"]
    datasets = list(entries) if datasets is None else datasets
    unknown = sorted(set(datasets) - set(entries))
    if unknown:
        raise SystemExit(f"--datasets: {unknown} are not in genre2-tabular ({sorted(entries)})")
    grids: list[dict[str, Any]] = []
    for variant, options in VARIANTS.items():
        grid_datasets = {}
        for name in datasets:
            entry = copy.deepcopy(entries[name])
            entry["params"]["tabular_options"] = {**entry["params"]["tabular_options"], **options}
            grid_datasets[name] = entry
        grids.append(
            {
                "name": variant,
                "datasets": grid_datasets,
                "methods": ["tab-ce"],
                "params": grid["params"],  # the panel's steps, batch size and evaluation
            }
        )
    return {
        "name": "numeric-embedding",
        "description": "CE on genre2-tabular sets, linear vs periodic numeric embeddings.",
        "seeds": seeds,
        "data_seed": panel["data_seed"],
        "budget_minutes": 120,
        "quick": panel["quick"],
        "grids": grids,
    }


def _gbdt_rows() -> list[dict[str, Any]]:
    """Gradient boosting's rows in the committed genre2-tabular results, their prediction
    files as paths that do not depend on the folder they are read from."""
    rows = current_rows(load_suite("genre2-tabular"), PANEL, quick=False)
    return [{**r, "predictions": str((PANEL / r["predictions"]).resolve())} for r in rows
            if (r["method"], r["status"]) == ("gbdt", "ok")]  # fmt: skip


def _judged(sides: list[list[dict[str, Any]]], folder: Path) -> dict[str, Any] | str:
    """The paired bootstrap of RMSE(sides[0]) - RMSE(sides[1]), or why it cannot be judged."""
    result = paired_difference(sides, folder)
    return result if isinstance(result, str) else result.result.to_dict()


def summarize(suite_path: Path, output: Path) -> dict[str, Any]:
    suite = load_suite(suite_path)
    rows = [r for r in current_rows(suite, output, quick=False) if r["status"] == "ok"]
    report: dict[str, Any] = {"seeds": list(suite.seeds), "datasets": {}}
    all_gbdt_rows = _gbdt_rows()
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        by_variant = {v: [r for r in rows if r["dataset"] == dataset and r["grid"] == v]
                      for v in VARIANTS}  # fmt: skip
        gbdt_rows = [r for r in all_gbdt_rows if r["dataset"] == dataset]
        gbdt_r2 = mean(r["metrics"]["r2"] for r in gbdt_rows) if gbdt_rows else None
        entry: dict[str, Any] = {"gbdt_r2": gbdt_r2, "variants": {}}
        for variant, variant_rows in by_variant.items():
            if not variant_rows:
                continue
            judged = {}
            if variant != BASE and len(variant_rows) == len(by_variant[BASE]) > 0:
                judged = {"versus_linear": _judged([variant_rows, by_variant[BASE]], output)}
            entry["variants"][variant] = {
                "seeds": len(variant_rows),
                "r2": mean(r["metrics"]["r2"] for r in variant_rows),
                "rmse": mean(r["metrics"]["rmse"] for r in variant_rows),
                "fit_seconds": mean(r["fit_seconds"] for r in variant_rows),
                # each run's best evaluation, as the suites choose among methods
                "validation_rmse": mean(
                    min(e["rmse"] for e in r["train"]["evaluations"]) for r in variant_rows
                ),
                **judged,
            }
        complete = [v for v, r in entry["variants"].items()
                    if r["seeds"] == len(suite.seeds)]  # fmt: skip
        if complete:
            chosen = min(complete, key=lambda v: entry["variants"][v]["validation_rmse"])
            entry["chosen_on_validation"] = chosen
            if gbdt_rows:  # the "at or above gradient boosting": not "did not hold"
                entry["chosen_versus_gbdt"] = _judged([by_variant[chosen], gbdt_rows], output)
        report["datasets"][dataset] = entry
    return report


def _interval(judged: dict[str, Any]) -> str:
    return (f"{judged['difference']:+.4g} [{judged['low']:+.4g}, {judged['high']:+.4g}] "
            f"{judged['verdict']}")  # fmt: skip


def markdown(report: dict[str, Any], command: str) -> str:
    lines = [
        "# Numeric-feature embeddings for the tabular model",
        "",
        f"Command: `{command}`",
        "",
        "CE (mean of 16 samples) at each set's genre2-tabular settings, test R^2 as the mean "
        f"over seeds {report['seeds']}; each periodic variant against linear: RMSE difference "
        "and its paired-bootstrap 95% interval over test rows (negative: periodic better). "
        "GBDT: gradient boosting in the committed genre2-tabular rows.",
        "",
        "| dataset | GBDT R² | " + " | ".join(f"{v} R²" for v in VARIANTS)
        + " | " + " | ".join(f"{v} − linear RMSE [95%]" for v in VARIANTS if v != BASE)
        + " | chosen on validation (R²) | chosen − GBDT RMSE [95%] |",
        "|---|---|" + "---|" * (2 * len(VARIANTS) + 1),
    ]  # fmt: skip
    wins = {v: [0, 0, 0] for v in VARIANTS if v != BASE}  # held, not separable, did not hold
    for dataset, entry in report["datasets"].items():
        variants = entry["variants"]
        gbdt = "-" if entry["gbdt_r2"] is None else f"{entry['gbdt_r2']:.4f}"
        cells = [f"{variants[v]['r2']:.4f} ({variants[v]['seeds']})" if v in variants else "-"
                 for v in VARIANTS]  # fmt: skip
        verdicts = []
        for v in VARIANTS:
            if v == BASE:
                continue
            judged = variants.get(v, {}).get("versus_linear")
            if not isinstance(judged, dict):
                verdicts.append(judged or "-")
                continue
            wins[v][("held", "not separable", "did not hold").index(judged["verdict"])] += 1
            verdicts.append(_interval(judged))
        chosen = entry.get("chosen_on_validation")
        verdicts.append(f"{chosen} ({variants[chosen]['r2']:.4f})" if chosen else "-")
        versus = entry.get("chosen_versus_gbdt")
        verdicts.append(_interval(versus) if isinstance(versus, dict) else versus or "-")
        lines.append(f"| {dataset} | {gbdt} | " + " | ".join(cells + verdicts) + " |")
    lines += ["", "Periodic below linear (held / not separable / did not hold):", ""]
    lines += [f"- {v}: {held} / {tie} / {lost}" for v, (held, tie, lost) in wins.items()]
    judged = [e for e in report["datasets"].values() if e.get("chosen_on_validation")]
    versus = [e.get("chosen_versus_gbdt") for e in judged]
    matched = sum(isinstance(v, dict) and v["verdict"] != "did not hold" for v in versus)
    if judged:
        chosen = mean(e["variants"][e["chosen_on_validation"]]["r2"] for e in judged)
        linear = mean(e["variants"][BASE]["r2"] for e in judged)
        gbdt = [e["gbdt_r2"] for e in judged if e["gbdt_r2"] is not None]
        lines += ["", f"Mean test R² over the {len(judged)} sets: linear {linear:.4f}, the "
                  f"variant chosen on validation {chosen:.4f}"
                  + (f", GBDT {mean(gbdt):.4f}." if len(gbdt) == len(judged) else "."),
                  "", f"The chosen variant at or above GBDT (bootstrap: not \"did not hold\") "
                  f"on {matched} of {len(judged)} sets."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", help="comma-separated sets (default: the whole panel)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--lock", help="flock file the suite holds while each cell runs")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    suite_path = args.output / "suite.yaml"
    if not args.report_only:
        datasets = args.datasets.split(",") if args.datasets else None
        document = suite_document(datasets, [int(s) for s in args.seeds.split(",")])
        args.output.mkdir(parents=True, exist_ok=True)
        suite_path.write_text(yaml.safe_dump(document, sort_keys=False))
        command = ["decoreg", "bench", str(suite_path), "--output", str(args.output), "--resume"]
        subprocess.run(command + (["--lock", args.lock] if args.lock else []), check=True)
    report = summarize(suite_path, args.output)
    # the command that runs the cells (--report-only re-renders the same table)
    arguments = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--report-only"]
    command = "python benchmarks/numeric_embedding.py " + " ".join(arguments)
    (args.output / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report, command.strip())
    (args.output / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
