"""`tune`: an Optuna study over `DecodingRegressor` parameters, pruned on validation RMSE.

Each trial fits one estimator. The training loop's evaluation hook (`on_evaluation` of
`decoreg.training.fit`) reports every validation pass's RMSE to the trial, and a trial the
pruner stops raises `optuna.TrialPruned` from inside the loop: the run ends at that step, and
no second loop or extra evaluation is involved. A trial's value is the validation RMSE of the
weights the loop kept (its best evaluation).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decoreg.data import PYTHON_SOURCE
from decoreg.errors import ConfigError
from decoreg.tune import outputs
from decoreg.tune.defaults import resolve_space
from decoreg.tune.space import SearchSpace, apply_values, grid_values
from decoreg.tune.storage import fingerprint, open_study, sqlite_path

PRUNERS = ("median", "none")
SAMPLERS = ("tpe", "random", "grid")
_REFUSED = ("checkpoint_dir", "resume")  # a study resumes by trials, not inside one
_FREE_ON_RESUME = ("verbose",)


@dataclass(frozen=True)
class TuneResult:
    """What a study found and wrote.

    Attributes:
        study: The Optuna study (its trials, best trial, storage).
        space: The search space it used.
        best_params: The DecodingRegressor parameters of the best trial (as written to
            params.yaml); None while no trial has completed.
        best_value: The best trial's validation RMSE (None likewise).
        complete: Trials that ran to the end.
        pruned: Trials the pruner stopped.
        failed: Trials that failed (a diverging loss) or were killed mid-trial.
        files: The files written to the output folder.
        notes: What was skipped, and why.
    """

    study: Any
    space: SearchSpace
    best_params: dict[str, Any] | None
    best_value: float | None
    complete: int
    pruned: int
    failed: int
    files: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()


def tune(
    X,
    y,
    *,
    storage: str,
    n_trials: int = 20,
    timeout: float | None = None,
    eval_set: tuple | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    search_space: str | Path | SearchSpace | None = None,
    seed: int = 0,
    study_name: str = "decoreg",
    pruner: Any = "median",
    sampler: Any = "tpe",
    source: str = PYTHON_SOURCE,
    **params: Any,
) -> TuneResult:
    """Search DecodingRegressor parameters for the lowest validation RMSE.

    Args:
        X: The training inputs, as `DecodingRegressor.fit` takes them.
        y: [N] numeric targets.
        storage: A ``sqlite:///FILE`` URL; the study is kept there, trial by trial.
        n_trials: Trials the study should have finished (earlier ones count on resume).
        timeout: Start no new trial after this many seconds (None: no limit).
        eval_set: (X_val, y_val) to score trials on; otherwise each trial holds out the same
            seeded `validation_fraction` of the rows (`random_state`).
        output: Folder for params.yaml, trials.csv and the two PNG plots (None: none).
        resume: Continue the stored study of this name (a new one if there is none); it must
            have been made with the same data and options.
        search_space: A YAML file (see `decoreg.tune.space`) or a `SearchSpace`; None: the
            defaults of the family and objective (`decoreg.tune.defaults`).
        seed: Seed of the sampler.
        study_name: The study's name in the storage.
        pruner: "median" (Optuna's MedianPruner: stop a trial whose RMSE is worse than the
            median of earlier trials at the same step, after 5 trials), "none", or an Optuna
            pruner.
        sampler: "tpe", "random", "grid" (every combination of the space's values once, in a
            seeded order; every parameter must be categorical or an int range), or an Optuna
            sampler. A grid study stops when its combinations are used up.
        source: Name of the data in error messages.
        **params: DecodingRegressor parameters kept fixed in every trial (unknown names are
            refused); a value given here is not searched.

    Raises:
        ConfigError: A bad option, storage, search space, or a resume with other data.
    """
    from decoreg.estimator import DecodingRegressor

    optuna = _optuna()
    defaults = DecodingRegressor.param_defaults()
    params = _fixed_params(params, defaults)
    _check_options(n_trials, timeout, eval_set, y, {**defaults, **params})
    sqlite_path(storage)
    space = resolve_space(params, search_space)
    options = {
        **{k: v for k, v in params.items() if k not in _FREE_ON_RESUME},
        "search_space": space.to_list(),
    }
    study = open_study(
        storage,
        study_name,
        resume=resume,
        fingerprint=fingerprint(X, y, eval_set, options),
        sampler=_sampler(sampler, seed, space),
        pruner=_pruner(pruner),
    )
    remaining = n_trials - _finished(study)
    notes = []
    if remaining > 0:
        study.optimize(
            lambda trial: _run_trial(trial, space, params, X, y, eval_set, source),
            n_trials=remaining,
            timeout=timeout,
            catch=(FloatingPointError,),
        )
    else:
        notes.append(f"the study already has {n_trials} finished trials: none was run")
    return _result(study, space, params, output, storage, notes, optuna)


def _run_trial(trial, space: SearchSpace, params, X, y, eval_set, source: str) -> float:
    import optuna

    from decoreg.estimator import DecodingRegressor

    estimator = DecodingRegressor(**apply_values(params, space.suggest(trial)))
    start = time.perf_counter()

    def report(step: int, metrics: dict[str, float]) -> None:
        trial.report(metrics["rmse"], step)
        if trial.should_prune():
            trial.set_user_attr("steps_run", step)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            raise optuna.TrialPruned(f"validation RMSE {metrics['rmse']:.4g} at step {step}")

    try:
        estimator.fit(X, y, eval_set=eval_set, source=source, on_evaluation=report)
    except FloatingPointError as error:
        trial.set_user_attr("error", str(error))
        raise
    result = estimator.train_result_
    trial.set_user_attr("steps_run", result.steps_run)
    trial.set_user_attr("best_step", result.best_step)
    trial.set_user_attr("seconds", time.perf_counter() - start)
    return float(result.best_validation["rmse"])


def _result(study, space, params, output, storage, notes, optuna) -> TuneResult:
    from decoreg.estimator import DecodingRegressor

    states = optuna.trial.TrialState
    counts = {
        state: len(study.get_trials(deepcopy=False, states=(state,)))
        for state in (states.COMPLETE, states.PRUNED, states.FAIL)
    }
    best_params = best_value = None
    if counts[states.COMPLETE]:
        best = study.best_trial
        best_value = float(best.value)
        best_params = outputs.best_params(
            apply_values(params, best.params), DecodingRegressor.param_defaults()
        )
    files: list[Path] = []
    if output is not None:
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        if best_params is None:
            notes.append(f"skipped {outputs.PARAMS_FILE}: no trial completed")
        else:
            header = (
                f"decoreg tune: the best of {len(study.trials)} trials "
                f"({counts[states.COMPLETE]} complete, {counts[states.PRUNED]} pruned): trial "
                f"{best.number}, validation RMSE {best_value:.6g}\n"
                f"study {study.study_name!r} in {storage}\n"
                "train with: decoreg train DATA --target-column COLUMN --output MODEL "
                f"--config {folder / outputs.PARAMS_FILE}"
            )
            files.append(outputs.write_params(folder, best_params, header))
        files.append(outputs.write_trials(folder, study))
        plots, plot_notes = outputs.write_plots(folder, study)
        files.extend(plots)
        notes.extend(plot_notes)
    return TuneResult(
        study=study,
        space=space,
        best_params=best_params,
        best_value=best_value,
        complete=counts[states.COMPLETE],
        pruned=counts[states.PRUNED],
        failed=counts[states.FAIL],
        files=tuple(files),
        notes=tuple(notes),
    )


def _fixed_params(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown DecodingRegressor parameter(s) {unknown}; valid: {sorted(defaults)}"
        )
    refused = [name for name in _REFUSED if params.get(name) not in (None, False)]
    if refused:
        raise ConfigError(
            f"{refused} are not tuning options: a study resumes by trials (resume=True of "
            "tune, `decoreg tune --resume`), not from checkpoints inside a trial"
        )
    return {"verbose": False, **params}


def _check_options(n_trials, timeout, eval_set, y, params) -> None:
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise ConfigError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
    if params.get("max_steps") == 0:
        raise ConfigError("max_steps=0 trains nothing: there is nothing to tune")
    if eval_set is None and (params["validation_fraction"] <= 0 or len(y) < 10):
        raise ConfigError(
            "trials are scored on validation rows: give eval_set (--validation), or "
            "validation_fraction > 0 with at least 10 rows"
        )


def _finished(study) -> int:
    """Trials that ended (complete, pruned, or failed by their own loss), not killed ones."""
    import optuna

    states = optuna.trial.TrialState
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state in (states.COMPLETE, states.PRUNED)
        or (t.state == states.FAIL and "error" in t.user_attrs)
    )


def _pruner(pruner: Any):
    import optuna

    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    if pruner == "none" or pruner is None:
        return optuna.pruners.NopPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    raise ConfigError(f"pruner must be one of {PRUNERS} or an Optuna pruner, got {pruner!r}")


def _sampler(sampler: Any, seed: int, space: SearchSpace):
    import optuna

    if sampler == "grid":
        return optuna.samplers.GridSampler(grid_values(space), seed=seed)
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    raise ConfigError(f"sampler must be one of {SAMPLERS} or an Optuna sampler, got {sampler!r}")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "decoreg tune needs Optuna: pip install 'optuna>=4' (a dependency of decoreg)"
        ) from None
    return optuna
