"""The default learning rate of each causal-LM objective, from a small `decoreg tune` study.

On the clothing reviews (the registry's seeded splits: the first `--train-rows` training rows,
the first `--validation-rows` validation rows), one study per objective (ce, raft, mbr, head,
learnable-raft) tries each learning rate of `--learning-rates` once (Optuna's grid sampler
through `decoreg.tune.tune`), training one epoch of batch 8 with everything else at the
estimator's defaults, each objective decoded with its default decoder. A trial's score is the
best validation RMSE of its evaluations (every `--eval-every` steps), as in any `tune` study.

The per-objective defaults (`decoreg.causal_lm.build.DEFAULT_LEARNING_RATES`) are the winners
of the committed study. A trial is one seed: two learning rates whose RMSEs differ by less
than the seed spread measured for RAFT elsewhere (benchmarks/results/raft-cpu) are a tie,
which the table says.

Each study is stored in SQLite next to its results, so a killed run continues with
`--resume` (finished trials are kept).

Usage:
    python benchmarks/lr_study.py [--resume] [--objectives ce,raft,mbr,head,learnable-raft]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import pandas as pd

from decoreg.datasets import load_dataset
from decoreg.tune import ParamSpec, SearchSpace, tune

RESULTS = Path(__file__).resolve().parent / "results" / "lr_study"
OBJECTIVES = ("ce", "raft", "mbr", "head", "learnable-raft")


def study_one(objective: str, data, args) -> dict:
    info = data.info
    train = data.split("train").iloc[: args.train_rows]
    validation = data.split("validation").iloc[: args.validation_rows]
    space = SearchSpace(
        (ParamSpec("learning_rate", "categorical", choices=tuple(args.learning_rates)),),
        source="lr_study",
    )
    output = args.output / f"{objective}{args.study_suffix}"
    start = time.perf_counter()
    result = tune(
        train[[info.text_column]],
        train[info.target_column].to_numpy(dtype=float),
        eval_set=(
            validation[[info.text_column]],
            validation[info.target_column].to_numpy(dtype=float),
        ),
        storage=f"sqlite:///{args.output / 'study.db'}",
        study_name=f"{objective}{args.study_suffix}",
        resume=args.resume,
        n_trials=len(args.learning_rates),
        search_space=space,
        sampler="grid",
        pruner="none",
        output=output,
        objective=objective,
        template=info.template,
        text_column=info.text_column,
        epochs=1,
        batch_size=8,
        eval_every=args.eval_every,
        max_eval_rows=args.validation_rows,
        random_state=0,
        verbose=False,
    )
    trials = pd.read_csv(output / "trials.csv")
    rows = [
        {
            "learning_rate": float(t["params_learning_rate"]),
            "validation_rmse": float(t["value"]),
            "seconds": float(pd.to_timedelta(t["duration"]).total_seconds()),
        }
        for _, t in trials.iterrows()
        if t["state"] == "COMPLETE"
    ]
    return {
        "best_learning_rate": float(result.best_params["learning_rate"]),
        "best_validation_rmse": float(result.best_value),
        "trials": sorted(rows, key=lambda r: r["learning_rate"]),
        "seconds": time.perf_counter() - start,
    }


def _merged(earlier: dict, later: dict) -> dict:
    """One objective's trials of two studies (other learning rates), best of all."""
    trials = sorted([*earlier["trials"], *later["trials"]], key=lambda t: t["learning_rate"])
    best = min(trials, key=lambda t: t["validation_rmse"])
    return {
        "best_learning_rate": best["learning_rate"],
        "best_validation_rmse": best["validation_rmse"],
        "trials": trials,
        "seconds": earlier["seconds"] + later["seconds"],
    }


def markdown(report: dict) -> str:
    lines = [
        "# Default learning rate per objective (clothing reviews, `decoreg tune`)",
        "",
        "Commands (in order; each adds to the table): "
        + ", ".join(f"`{c}`" for c in report["commands"]),
        "",
        f"{report['train_rows']} training rows (one epoch of batch 8), "
        f"{report['validation_rows']} validation rows, one seed per trial, each objective with "
        "its default decoder; the score is the trial's best validation RMSE.",
        "",
        "| objective | "
        + " | ".join(f"lr {lr:g}" for lr in report["learning_rates"])
        + " | best |",
        "|---|" + "---|" * (len(report["learning_rates"]) + 1),
    ]
    for objective, entry in report["objectives"].items():
        by_lr = {t["learning_rate"]: t["validation_rmse"] for t in entry["trials"]}
        cells = [
            f"**{by_lr[lr]:.4f}**"
            if lr == entry["best_learning_rate"]
            else (f"{by_lr[lr]:.4f}" if lr in by_lr else "-")
            for lr in report["learning_rates"]
        ]
        lines.append(
            f"| {objective} | " + " | ".join(cells) + f" | {entry['best_learning_rate']:g} |"
        )
    lines += ["", "Trial tables: `<objective>/trials.csv`; Optuna's plots beside them.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--learning-rates", default="3e-5,1e-4,3e-4")
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--validation-rows", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--study-suffix",
        default="",
        help="more learning rates for objectives already studied: new studies named "
        "OBJECTIVE+SUFFIX in the same database, their trials merged into the same table",
    )
    args = parser.parse_args(argv)
    args.learning_rates = [float(x) for x in args.learning_rates.split(",")]
    args.output.mkdir(parents=True, exist_ok=True)
    report_path = args.output / "lr_study.json"
    command = "python benchmarks/lr_study.py " + shlex.join(argv or sys.argv[1:])
    report = {
        "commands": [command],
        "train_rows": args.train_rows,
        "validation_rows": args.validation_rows,
        "learning_rates": args.learning_rates,
        "objectives": {},
    }
    if (args.resume or args.study_suffix) and report_path.exists():
        earlier = json.loads(report_path.read_text())
        report["objectives"] = earlier["objectives"]
        report["commands"] = [*earlier.get("commands", [earlier.get("command")]), command]
        report["commands"] = list(dict.fromkeys(report["commands"]))  # a resume repeats one
        rates = {*earlier["learning_rates"], *args.learning_rates}
        report["learning_rates"] = sorted(rates)
    data = load_dataset("clothing-reviews")
    for objective in args.objectives.split(","):
        entry = study_one(objective, data, args)
        if args.study_suffix and objective in report["objectives"]:
            entry = _merged(report["objectives"][objective], entry)
        report["objectives"][objective] = entry
        print(
            f"{objective}: best lr {entry['best_learning_rate']:g} "
            f"(validation RMSE {entry['best_validation_rmse']:.4f}, {entry['seconds']:.0f} s)",
            flush=True,
        )
        report_path.write_text(json.dumps(report, indent=1) + "\n")
        (args.output / "lr_study.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
