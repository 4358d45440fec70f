"""What pruning saves a `decoreg tune` study: 20 trials with the median pruner vs unpruned.

On abalone (the registry's seeded train/validation split, tabular family, cross-entropy),
two studies of the same 20 trials run one after the other through `decoreg.tune.tune`:

  * pruned: Optuna's MedianPruner as `tune` sets it up (pruner="median": no pruning before 5
    trials have finished; then a trial whose validation RMSE at an evaluation is worse than
    the median of earlier trials at that step stops there);
  * unpruned: pruner="none".

Both use the random sampler with the same seed, so trial k has the same parameters in both
studies (TPE would let the pruned trials steer later choices, and the studies would no longer
compare the same trials). The search space is the tabular default (tokenizer base and digits,
d_model, layers, dropout, learning rate). Each trial is short so that both studies fit in
~15 minutes on 2 cores: 250 steps of batch 128 (~10 epochs of the 3,342 training rows),
validation every 25 steps on 256 of the 418 validation rows with 16 samples per row, no
early stopping (so an unpruned trial always runs its 250 steps), one torch thread.

The noise of the best validation RMSE is measured on the unpruned study's best parameters,
retrained with random_state 1 and 2 (three seeds with the study's own): the pruned study's
best is "within noise" when it is within the spread (max - min) of those three runs.

Targets (exit code 1 when missed): the pruned study takes under half the unpruned wall time,
and its best validation RMSE is within noise of the unpruned study's.

Usage (hold the shared CPU lock):
    flock /tmp/decoreg-cpu.lock python benchmarks/tune_pruning.py [--trials 20] [--steps 250]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import sklearn
import torch

from decoreg.datasets import load_dataset
from decoreg.estimator import DecodingRegressor
from decoreg.tune import tune

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "tune_pruning"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_dataset("abalone")
    columns, target = list(data.info.feature_columns), data.info.target_column
    train, validation = data.split("train"), data.split("validation")
    X, y = train[columns], train[target].to_numpy(dtype=float)
    eval_set = (validation[columns], validation[target].to_numpy(dtype=float))
    fixed = dict(
        family="tabular",
        objective="ce",
        max_steps=args.steps,
        eval_every=args.eval_every,
        early_stopping_patience=0,
        num_samples=16,
        max_eval_rows=256,
    )
    studies = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, pruner in (("pruned", "median"), ("unpruned", "none")):
            start = time.perf_counter()
            result = tune(
                X,
                y,
                eval_set=eval_set,
                storage=f"sqlite:///{folder}/{name}.db",
                n_trials=args.trials,
                pruner=pruner,
                sampler="random",
                seed=args.seed,
                **fixed,
            )
            seconds = time.perf_counter() - start
            studies[name] = _summary(result, seconds)
            print(
                f"{name}: {seconds:.0f} s, best validation RMSE {result.best_value:.4f}, "
                f"{result.pruned} pruned",
                flush=True,
            )
    unpruned_best = studies["unpruned"]["best_params"]
    seeds = [studies["unpruned"]["best_value"]]
    for random_state in (1, 2):
        params = {**unpruned_best, "random_state": random_state, "verbose": False}
        estimator = DecodingRegressor(**params).fit(X, y, eval_set=eval_set)
        seeds.append(float(estimator.train_result_.best_validation["rmse"]))
    spread = max(seeds) - min(seeds)
    gap = studies["pruned"]["best_value"] - studies["unpruned"]["best_value"]
    ratio = studies["pruned"]["seconds"] / studies["unpruned"]["seconds"]
    targets = {
        "pruned time under half the unpruned time": ratio < 0.5,
        "pruned best validation RMSE within noise of the unpruned best": gap <= spread,
    }
    record = {
        "command": "flock /tmp/decoreg-cpu.lock python benchmarks/tune_pruning.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            **fixed,
            "trials": args.trials,
            "sampler": "random",
            "seed": args.seed,
            "train_rows": len(y),
            "validation_rows": len(eval_set[1]),
        },
        "machine": _machine(),
        "studies": studies,
        "noise": {"best_params_validation_rmse_by_seed": seeds, "spread": spread},
        "time_ratio": ratio,
        "best_rmse_gap": gap,
        "targets": targets,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.output / f"{NAME}.md").write_text(_markdown(record))
    print(_markdown(record))
    return 0 if all(targets.values()) else 1


def _summary(result, seconds: float) -> dict:
    trials = result.study.trials
    return {
        "seconds": seconds,
        "best_value": result.best_value,
        "best_trial": result.study.best_trial.number,
        "best_params": result.best_params,
        "complete": result.complete,
        "pruned": result.pruned,
        "failed": result.failed,
        "steps_run": sum(t.user_attrs.get("steps_run", 0) for t in trials),
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "steps_run": t.user_attrs.get("steps_run"),
                "seconds": t.user_attrs.get("seconds"),
                "params": t.params,
            }
            for t in trials
        ],
    }


def _machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "optuna": optuna.__version__,
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _markdown(record: dict) -> str:
    s = record["settings"]
    pruned, unpruned = record["studies"]["pruned"], record["studies"]["unpruned"]
    rows = [
        f"| {name} | {st['seconds']:.0f} | {st['steps_run']} | {st['complete']} | "
        f"{st['pruned']} | {st['best_value']:.4f} (trial {st['best_trial']}) |"
        for name, st in (("median pruner", pruned), ("unpruned", unpruned))
    ]
    verdicts = "\n".join(
        f"- {'met' if ok else 'MISSED'}: {claim}" for claim, ok in record["targets"].items()
    )
    seeds = ", ".join(f"{v:.4f}" for v in record["noise"]["best_params_validation_rmse_by_seed"])
    return f"""# Pruning a `decoreg tune` study

{s["trials"]} trials on abalone ({s["train_rows"]} training rows, validation RMSE on
{s["validation_rows"]} rows, {s["max_eval_rows"]} decoded per evaluation), tabular family,
objective `ce`, the default tabular search space, random sampler with seed {s["seed"]} (trial k
has the same parameters in both studies). Each trial: {s["max_steps"]} steps of batch 128,
validation every {s["eval_every"]} steps, no early stopping, one torch thread. The two studies
ran one after the other in one run.

Command: `{record["command"].strip()}`

| study | wall s | optimizer steps (all trials) | complete | pruned | best validation RMSE |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Time ratio pruned / unpruned: **{record["time_ratio"]:.2f}**. Best validation RMSE, pruned
minus unpruned: **{record["best_rmse_gap"]:+.4f}**; noise: the unpruned best parameters
retrained with three seeds give {seeds} (spread {record["noise"]["spread"]:.4f}).

{verdicts}

Machine: {record["machine"]}
"""


if __name__ == "__main__":
    raise SystemExit(main())
