"""The default grid for scaled targets: all ten digits vs the integers spanning the raw range.

A target that needed scaling used to get the integers spanning its *raw* range clipped to
0..9 (code complexity 1-16 got 1..9, bytecode sizes 2.6-10.4 got 2..9, and a sentiment score
in [-2.7, 2.8] would get 0..3). For each text set of the registry this trains RAFT for one
epoch at the default learning rate with that grid (passed explicitly, scaled onto it) and with
all ten digits (targets scaled onto 0..9), on the same rows and seeds, decodes the test rows
with grid-mean, and judges "all ten digits < old" in RMSE with a paired bootstrap over test
rows (`decoreg.bench.bootstrap`). Sets whose integer targets lie in 0..9 get the same grid
both ways (the paper's rule) and are reported as unchanged without training.

The default that follows from it (`decoreg.causal_lm.build.default_grid`): all ten digits for
negative or fractional targets (bytecode: better); non-negative integers keep the raw-range
integers (complexity: all ten digits measured worse).

Each training run holds the CPU lock (`--lock`) on its own, so other work can interleave.

Usage:
    python benchmarks/default_grid.py --lock /tmp/decoreg-cpu.lock \
        [--datasets code-bytecode,code-complexity] [--seeds 0,1] [--train-rows 400]
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from decoreg.bench.bootstrap import paired_rmse_difference
from decoreg.bench.runner import cpu_lock
from decoreg.causal_lm.build import fills_all_digits, fits_the_paper_grid
from decoreg.causal_lm.numbers import digit_grid
from decoreg.datasets import DATASETS, load_dataset
from decoreg.estimator import DecodingRegressor
from decoreg.metrics import regression_report

RESULTS = Path(__file__).resolve().parent / "results"
TEXT_SETS = tuple(name for name, info in DATASETS.items() if info.kind == "text")


def run_one(data, rows, grid, seed: int, args) -> tuple[np.ndarray, float]:
    train, test = rows["train"], rows["test"]
    info = data.info
    est = DecodingRegressor(
        objective="raft",
        decoder="grid-mean",
        template=info.template,
        text_column=info.text_column,
        grid=grid,
        max_steps=math.ceil(len(train) / args.batch_size),  # one epoch
        batch_size=args.batch_size,
        eval_every=0,
        validation_fraction=0.0,
        max_prompt_tokens=args.max_prompt_tokens,
        random_state=seed,
        verbose=False,
    )
    start = time.perf_counter()
    with cpu_lock(args.lock):
        est.fit(train[[info.text_column]], train[info.target_column].to_numpy())
        predictions = est.predict(test[[info.text_column]])
    return predictions, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(TEXT_SETS))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--test-rows", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-prompt-tokens", type=int, default=256)
    parser.add_argument("--lock", default=None)
    parser.add_argument("--output", default=str(RESULTS / "default_grid.json"))
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from --output")
    args = parser.parse_args(argv)
    if args.report_only:
        report = json.loads(Path(args.output).read_text())
        for name, entry in report["datasets"].items():
            if "runs" in entry and "default_now" not in entry:  # results from before the rule
                data = load_dataset(name)
                train = data.split("train").iloc[: entry["train_rows"]]
                y_train = train[data.info.target_column].to_numpy(dtype=np.float64)
                entry["default_now"] = "all ten digits" if fills_all_digits(y_train) else "old grid"
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
        Path(args.output).with_suffix(".md").write_text(markdown(report))
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    report = {
        "command": "python benchmarks/default_grid.py " + shlex.join(argv or sys.argv[1:]),
        "datasets": {},
    }
    for name in args.datasets.split(","):
        data = load_dataset(name)
        rows = {s: data.split(s).iloc[: getattr(args, f"{s}_rows")] for s in ("train", "test")}
        y_train = rows["train"][data.info.target_column].to_numpy(dtype=np.float64)
        y_test = rows["test"][data.info.target_column].to_numpy(dtype=np.float64)
        old_grid = list(digit_grid(float(y_train.min()), float(y_train.max())))
        entry = {
            "target_range": [float(y_train.min()), float(y_train.max())],
            "old_grid": old_grid,
            "train_rows": len(y_train),
            "test_rows": len(y_test),
        }
        if fits_the_paper_grid(y_train):
            entry["verdict"] = "unchanged: integer targets in 0..9 keep the paper's grid"
            report["datasets"][name] = entry
            print(f"{name}: unchanged (grid {old_grid})", flush=True)
            continue
        runs = {"old": [], "new": []}
        for seed in seeds:
            for label, grid in (("old", old_grid), ("new", None)):
                predictions, seconds = run_one(data, rows, grid, seed, args)
                metrics = regression_report(y_test, predictions)
                runs[label].append(
                    {
                        "seed": seed,
                        "seconds": seconds,
                        **metrics,
                        "predictions": predictions.tolist(),
                    }
                )
                print(
                    f"{name} {label} seed {seed}: RMSE {metrics['rmse']:.4f} ({seconds:.0f} s)",
                    flush=True,
                )
        new = np.array([r["predictions"] for r in runs["new"]])
        old = np.array([r["predictions"] for r in runs["old"]])
        entry["runs"] = runs
        entry["new_vs_old"] = paired_rmse_difference(y_test, new, old).to_dict()
        entry["default_now"] = "all ten digits" if fills_all_digits(y_train) else "old grid"
        report["datasets"][name] = entry
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    Path(args.output).with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    lines = [
        "# Default grid for scaled targets: all ten digits vs the raw-range integers",
        "",
        f"Command: `{report['command']}`",
        "",
        "Old grid: the integers spanning the raw training range within 0..9. The default now:",
        "all ten digits for negative or fractional targets, the old grid for non-negative",
        "integers (the paper's rule for integers in 0..9).",
        "",
        "| dataset | targets (train) | old grid | RMSE old | RMSE all ten digits | "
        "ten - old [95% CI] | verdict (ten < old) | default now |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["datasets"].items():
        lo, hi = entry["target_range"]
        grid = f"{entry['old_grid'][0]:g}..{entry['old_grid'][-1]:g}"
        if "runs" not in entry:
            lines.append(
                f"| {name} | {lo:g}-{hi:g} | {grid} | - | - | - | {entry['verdict']} | {grid} |"
            )
            continue
        old = [r["rmse"] for r in entry["runs"]["old"]]
        new = [r["rmse"] for r in entry["runs"]["new"]]
        d = entry["new_vs_old"]
        lines.append(
            f"| {name} | {lo:g}-{hi:g} | {grid} | {np.mean(old):.4f} ± {np.std(old):.4f} | "
            f"{np.mean(new):.4f} ± {np.std(new):.4f} | {d['difference']:+.4f} "
            f"[{d['low']:+.4f}, {d['high']:+.4f}] | {d['verdict']} | "
            f"{'0..9' if entry['default_now'] == 'all ten digits' else grid} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
