"""`decoreg tune`: an Optuna study over the estimator's options (`decoreg.tune`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from decoreg.cli.common import add_command, read_training_rows
from decoreg.cli.estimator_options import add_estimator_options, estimator_params


def add_tune_command(commands) -> None:
    summary = "search training options for the lowest validation RMSE (Optuna)"
    p = add_command(commands, "tune", run_tune, summary, description=run_tune.__doc__)
    p.add_argument("data", type=Path, help="training rows")
    p.add_argument("--target-column", required=True, help="numeric column to predict")
    p.add_argument("--validation", type=Path, help="validation rows to score trials on")
    g = p.add_argument_group("the study")
    g.add_argument(
        "--storage",
        required=True,
        help="sqlite:///FILE the study is kept in, trial by trial (sqlite:////abs/path)",
    )
    g.add_argument(
        "--output",
        type=Path,
        required=True,
        help="folder for params.yaml (the best parameters, for `decoreg train --config`), "
        "trials.csv and the optimization-history and parameter-importance plots",
    )
    g.add_argument("--n-trials", type=int, default=20, help="trials in all (default 20)")
    g.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the study in --storage (same data and options); finished trials count "
        "towards --n-trials",
    )
    g.add_argument(
        "--search-space",
        type=Path,
        help="YAML file changing the default search space (see docs/tune.md)",
    )
    g.add_argument("--study-name", default="decoreg", help="the study's name in the storage")
    g.add_argument(
        "--pruner",
        choices=["median", "none"],
        default="median",
        help="median: stop a trial whose validation RMSE is worse than the median of earlier "
        "trials at the same step, once 5 trials have finished (default)",
    )
    g.add_argument(
        "--sampler",
        choices=["tpe", "random", "grid"],
        default="tpe",
        help="default tpe; grid: every combination of the space's choices and int values once",
    )
    add_estimator_options(p)  # its --seed seeds the sampler and every trial


def run_tune(args: argparse.Namespace) -> int:
    """Search DecodingRegressor parameters for the lowest validation RMSE with Optuna. The
    options given are kept fixed in every trial; the family's default search space (or
    --search-space) varies the others. Trials are scored on --validation, or on the seeded
    share of DATA that training holds out, and pruned on the validation RMSE of their
    evaluations. A killed study continues with --resume."""
    from decoreg.tune import tune

    params = estimator_params(args)
    inputs, targets, eval_set = read_training_rows(args)
    result = tune(
        inputs,
        targets,
        eval_set=eval_set,
        storage=args.storage,
        n_trials=args.n_trials,
        timeout=args.timeout,
        output=args.output,
        resume=args.resume,
        search_space=args.search_space,
        seed=args.seed or 0,
        study_name=args.study_name,
        pruner=args.pruner,
        sampler=args.sampler,
        source=str(args.data),
        **params,
    )
    print(
        f"{len(result.study.trials)} trials: {result.complete} complete, {result.pruned} "
        f"pruned, {result.failed} failed"
    )
    if result.best_value is not None:
        best = result.study.best_trial
        print(f"best: trial {best.number}, validation RMSE {result.best_value:.4f}")
    for note in result.notes:
        print(f"note: {note}")
    for path in result.files:
        print(f"wrote {path}")
    return 0
