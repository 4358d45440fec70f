"""The per-dataset settings of the `genre2-tabular` suite, from a small `decoreg tune` study each.

GenRe2 tunes its cross-entropy stage per dataset with 25 Optuna trials; this runs a smaller
study of the same kind on each of the suite's ten tables: `--trials` trials (default 10) of
tabular cross-entropy through `decoreg.tune.tune`, TPE sampler (seed 0), median pruner, on the
registry's seeded training split (a seeded sample of 10,000 rows where it is larger, the
suite's rows) scored on the
validation split, over the tabular family's default search space (tokenizer base and
digits, width, depth, dropout, learning rate). Every trial trains `--steps` steps of batch 128
(the suite's CE budget), validating every `--eval-every` steps on 256 validation rows with 16
samples a row.

The best parameters of each study are written to `<output>/<dataset>/params.yaml` (what
`decoreg train --config` accepts) with the trial table and Optuna's plots, and all of them to
`<output>/suite_params.yaml`, the per-dataset `params` the suite file copies. Each study lives
in `<output>/studies.db` (not committed), so a killed run continues with `--resume`.

Usage (hold the shared CPU lock):
    flock /tmp/decoreg-cpu.lock python benchmarks/genre2_tabular_tune.py [--resume] \
        [--datasets abalone,ames] [--trials 10] [--steps 500]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import optuna
import torch
import yaml

from decoreg.datasets import load_dataset
from decoreg.tune import tune
from decoreg.tune.space import apply_values

RESULTS = Path(__file__).resolve().parent / "results" / "genre2-tabular-tune"
DATASETS = ("abalone", "concrete", "california-housing", "diamonds", "ames", "cps1988",
            "computers", "wage", "college-distance", "star")  # fmt: skip
TRAIN_CAP = 10_000
# What a trial fixes: the suite's CE budget; the study varies the family's default space.
FIXED = dict(family="tabular", objective="ce", batch_size=128, warmup_steps=50,
             early_stopping_patience=0, num_samples=16, max_eval_rows=256)  # fmt: skip


def study_one(name: str, args) -> dict:
    data = load_dataset(name)
    info = data.info
    columns, target = list(info.feature_columns), info.target_column
    train = data.sample("train", TRAIN_CAP, seed=0)  # a random 10,000, as the suite's cells
    validation = data.split("validation")
    start = time.perf_counter()
    result = tune(
        train[columns],
        train[target].to_numpy(dtype=float),
        eval_set=(validation[columns], validation[target].to_numpy(dtype=float)),
        storage=f"sqlite:///{args.output / 'studies.db'}",
        study_name=name,
        resume=args.resume,
        n_trials=args.trials,
        sampler="tpe",
        pruner="median",
        seed=0,
        output=args.output / name,
        max_steps=args.steps,
        eval_every=args.eval_every,
        random_state=0,
        **FIXED,
    )
    tuned = apply_values({}, result.study.best_trial.params)  # only what the study varied
    return {
        "train_rows": len(train),
        "validation_rows": len(validation),
        "best_validation_rmse": result.best_value,
        "complete": result.complete,
        "pruned": result.pruned,
        "failed": result.failed,
        "tuned": tuned,
        "seconds": time.perf_counter() - start,
    }


def markdown(report: dict) -> str:
    lines = [
        "# Per-dataset settings of the `genre2-tabular` suite (`decoreg tune`)",
        "",
        f"Command: `{report['command']}`",
        "",
        f"{report['trials']} trials per dataset (TPE seed 0, median pruner), tabular CE, "
        f"{report['steps']} steps of batch 128 per trial, validation RMSE on 256 validation "
        "rows (16 samples a row). The suite copies `suite_params.yaml`.",
        "",
        "| dataset | train rows | complete | pruned | best validation RMSE | best parameters | s |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, entry in report["datasets"].items():
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in _flat(entry["tuned"]).items())  # fmt: skip
        lines.append(
            f"| {name} | {entry['train_rows']} | {entry['complete']} | {entry['pruned']} | "
            f"{entry['best_validation_rmse']:.4g} | {params} | {entry['seconds']:.0f} |"
        )
    return "\n".join([*lines, ""])


def _flat(params: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.output.mkdir(parents=True, exist_ok=True)
    report_path = args.output / "tune.json"
    report = {
        "command": "flock /tmp/decoreg-cpu.lock python benchmarks/genre2_tabular_tune.py "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "trials": args.trials,
        "steps": args.steps,
        "datasets": {},
    }
    if args.resume and report_path.exists():
        report["datasets"] = json.loads(report_path.read_text())["datasets"]
    for name in args.datasets.split(","):
        entry = study_one(name, args)
        report["datasets"][name] = entry
        print(f"{name}: best validation RMSE {entry['best_validation_rmse']:.4g} "
              f"({entry['seconds']:.0f} s) {entry['tuned']}", flush=True)  # fmt: skip
        report_path.write_text(json.dumps(report, indent=1) + "\n")
        (args.output / "tune.md").write_text(markdown(report))
        suite = {n: e["tuned"] for n, e in report["datasets"].items()}
        (args.output / "suite_params.yaml").write_text(yaml.safe_dump(suite, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
