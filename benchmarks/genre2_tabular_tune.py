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
`--write-suite FILE` runs no study: it copies `<output>/suite_params.yaml` into the suite
file's per-dataset `params:` lines (values to 4 significant digits), keeping the rest of the
file as it is.

Usage (hold the shared CPU lock):
    flock /tmp/decoreg-cpu.lock python benchmarks/genre2_tabular_tune.py [--resume] \
        [--datasets abalone,ames] [--trials 10] [--steps 500]
    python benchmarks/genre2_tabular_tune.py \
        --write-suite src/decoreg/bench/suites/genre2-tabular.yaml
"""

from __future__ import annotations

import argparse
import json
import re
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
        "rows (16 samples a row). `--write-suite` copies `suite_params.yaml` into the suite.",
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


def suite_with_params(text: str, params: dict[str, dict]) -> str:
    """`text` (a suite YAML) with each named dataset's one-line `params:` mapping replaced by
    its entry of `params`, floats rounded to 4 significant digits.

    Raises:
        ValueError: If a dataset has no `params:` line of its own in the file.
    """
    for name, values in params.items():
        flow = yaml.safe_dump(_rounded(values), default_flow_style=True, width=10_000).strip()
        # the dataset's key, then its indented lines up to its own `params:` line
        pattern = re.compile(rf"(^(\s+){re.escape(name)}:\n(?:\2\s+.*\n)*?\2\s+params: ).*$",
                             re.MULTILINE)  # fmt: skip
        text, count = pattern.subn(lambda match, flow=flow: match.group(1) + flow, text, count=1)
        if count == 0:
            raise ValueError(f"the suite file has no one-line `params:` under dataset {name!r}")
    return text


def _rounded(value):
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return float(f"{value:.4g}") if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--write-suite", type=Path, metavar="FILE",
                        help="copy <output>/suite_params.yaml into FILE's dataset params; "
                        "run no study")  # fmt: skip
    args = parser.parse_args(argv)
    if args.write_suite is not None:
        params = yaml.safe_load((args.output / "suite_params.yaml").read_text())
        args.write_suite.write_text(suite_with_params(args.write_suite.read_text(), params))
        print(f"wrote the params of {len(params)} datasets into {args.write_suite}")
        return 0
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
