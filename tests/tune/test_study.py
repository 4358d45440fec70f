"""`decoreg.tune.tune`: a study on a tiny tabular set, its outputs, pruning, resume, storage."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from decoreg.errors import ConfigError
from decoreg.tune import ParamSpec, SearchSpace, tune
from decoreg.tune.storage import FINGERPRINT_ATTR

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    family="tabular",
    max_steps=6,
    eval_every=2,
    early_stopping_patience=0,
    batch_size=16,
    num_samples=2,
    tabular_options={"d_model": 8, "heads": 2, "ff_size": 16},
)
SPACE = SearchSpace(
    (
        ParamSpec("learning_rate", "float", 1e-3, 1e-2, log=True),
        ParamSpec("tabular_options.layers", "int", 1, 2),
    )
)


def rows(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return frame, (2.0 * frame["a"] - frame["b"] + 5.0).to_numpy()


def study(tmp_path, n_trials=3, **options):
    X, y = options.pop("data", rows())
    settings = dict(storage=f"sqlite:///{tmp_path / 'study.db'}", search_space=SPACE, **TINY)
    return tune(X, y, n_trials=n_trials, **{**settings, **options})


def test_a_three_trial_study_writes_its_outputs(tmp_path):
    result = study(tmp_path, output=tmp_path / "best")
    assert (result.complete, result.pruned, result.failed) == (3, 0, 0)
    best = tmp_path / "best"
    written = sorted(p.name for p in best.iterdir())
    assert written == [
        "optimization_history.png",
        "param_importances.png",
        "params.yaml",
        "trials.csv",
    ]
    trials = pd.read_csv(best / "trials.csv")
    assert len(trials) == 3 and set(trials["state"]) == {"COMPLETE"}
    assert {"params_learning_rate", "params_tabular_options.layers"} <= set(trials.columns)
    params = yaml.safe_load((best / "params.yaml").read_text())
    winner = result.study.best_trial
    assert params["learning_rate"] == winner.params["learning_rate"]
    assert params["tabular_options"]["layers"] == winner.params["tabular_options.layers"]
    assert params["tabular_options"]["d_model"] == 8 and params["max_steps"] == 6  # fixed ones
    assert result.best_params == params and result.best_value == winner.value
    assert "verbose" not in params  # run-time options are left to the training run
    assert min(trials["value"]) == pytest.approx(result.best_value)


def test_a_trials_value_is_the_validation_rmse_of_the_kept_weights(tmp_path):
    from decoreg.estimator import DecodingRegressor

    X, y = rows()
    result = study(tmp_path, n_trials=1, data=(X, y))
    again = DecodingRegressor(**{**result.best_params, "verbose": False}).fit(X, y)
    assert again.train_result_.best_validation["rmse"] == result.best_value


class PruneAfterTheFirstTrial(optuna.pruners.BasePruner):
    """Prunes every report once one trial has completed."""

    def prune(self, study, trial) -> bool:
        states = (optuna.trial.TrialState.COMPLETE,)
        return len(study.get_trials(deepcopy=False, states=states)) >= 1


def test_pruned_trials_stop_at_their_first_evaluation(tmp_path):
    result = study(tmp_path, n_trials=4, pruner=PruneAfterTheFirstTrial())
    states = [t.state for t in result.study.trials]
    assert states[0] == optuna.trial.TrialState.COMPLETE
    assert states[1:] == [optuna.trial.TrialState.PRUNED] * 3
    assert result.study.trials[0].user_attrs["steps_run"] == TINY["max_steps"]
    for trial in result.study.trials[1:]:
        assert trial.user_attrs["steps_run"] == TINY["eval_every"] < TINY["max_steps"]
        assert list(trial.intermediate_values) == [TINY["eval_every"]]
    assert (result.complete, result.pruned) == (1, 3)


def test_the_importance_plot_is_skipped_with_one_completed_trial(tmp_path):
    result = study(tmp_path, n_trials=2, pruner=PruneAfterTheFirstTrial(), output=tmp_path / "o")
    assert not (tmp_path / "o" / "param_importances.png").exists()
    assert (tmp_path / "o" / "optimization_history.png").exists()
    assert any("param_importances.png" in note and "2 completed" in note for note in result.notes)


def test_resume_runs_up_to_n_trials_in_all(tmp_path):
    first = study(tmp_path, n_trials=2)
    kept = [(t.number, t.value) for t in first.study.trials]
    resumed = study(tmp_path, n_trials=3, resume=True)
    assert [(t.number, t.value) for t in resumed.study.trials][:2] == kept
    assert resumed.complete == 3
    again = study(tmp_path, n_trials=3, resume=True)
    assert again.complete == 3 and any("none was run" in note for note in again.notes)


def test_resume_marks_a_killed_trial_failed_and_does_not_count_it(tmp_path):
    first = study(tmp_path, n_trials=1)
    first.study.ask()  # a trial left running, as by a SIGKILL
    resumed = study(tmp_path, n_trials=2, resume=True)
    states = [t.state for t in resumed.study.trials]
    complete, failed = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
    assert states == [complete, failed, complete]


def test_an_existing_study_is_not_overwritten_without_resume(tmp_path):
    study(tmp_path, n_trials=1)
    with pytest.raises(ConfigError, match=r"already holds the study 'decoreg'.*--resume"):
        study(tmp_path, n_trials=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(data=rows(seed=1)), r"the training data \(rows or targets\) differ"),
        (dict(learning_rate=None, max_steps=8), r"max_steps: 6 in the study, 8 now"),
        (dict(objective="dist"), r"objective: None in the study, 'dist' now"),
        (
            dict(search_space=SearchSpace((ParamSpec("tabular_options.layers", "int", 1, 3),))),
            "search_space: ",
        ),
    ],
)
def test_resume_with_other_data_or_options_is_refused_naming_what_differs(
    tmp_path, change, message
):
    first = study(tmp_path, n_trials=1)
    assert FINGERPRINT_ATTR in first.study.user_attrs
    with pytest.raises(ConfigError, match=rf"cannot resume the study 'decoreg'.*{message}"):
        study(tmp_path, n_trials=2, resume=True, **change)


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("study.db", "is not a SQLite URL"),
        ("postgresql://localhost/optuna", "is not a SQLite URL"),
        ("sqlite:///:memory:", "an in-memory database cannot be resumed"),
        ("sqlite:///{tmp}/missing/study.db", "the folder .* does not exist"),
        ("sqlite:///{tmp}", "is not a file"),
        ("sqlite:///{tmp}/rows.csv", "is not a SQLite database"),
    ],
)
def test_a_storage_that_is_not_a_writable_sqlite_file_is_refused(tmp_path, storage, message):
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    storage = storage.format(tmp=tmp_path)
    with pytest.raises(ConfigError, match=rf"storage '{storage}'.*{message}"):
        tune(*rows(), storage=storage, n_trials=1, **TINY)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(learning_rat=0.1), r"unknown DecodingRegressor parameter\(s\) \['learning_rat'\]"),
        (dict(checkpoint_dir="ckpt"), "not tuning options"),
        (dict(validation_fraction=0.0), "trials are scored on validation rows"),
        (dict(n_trials=0), "n_trials must be an int >= 1"),
        (dict(pruner="hyperband"), "pruner must be one of"),
        (dict(max_steps=0), "nothing to tune"),
    ],
)
def test_bad_options_are_refused_before_any_trial(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        study(tmp_path, **options)
    assert not (tmp_path / "study.db").exists() or "pruner" in options


def test_an_eval_set_scores_the_trials(tmp_path):
    X, y = rows()
    result = study(tmp_path, n_trials=1, data=(X[:40], y[:40]), eval_set=(X[40:], y[40:]))
    assert result.complete == 1 and result.best_value > 0


def test_the_grid_sampler_runs_every_combination_once_then_stops(tmp_path):
    grid = SearchSpace(
        (
            ParamSpec("learning_rate", "categorical", choices=(1e-3, 1e-2)),
            ParamSpec("tabular_options.layers", "int", 1, 2),
        )
    )
    result = study(tmp_path, n_trials=10, search_space=grid, sampler="grid")
    seen = sorted(
        (t.params["learning_rate"], t.params["tabular_options.layers"]) for t in result.study.trials
    )
    assert seen == [(1e-3, 1), (1e-3, 2), (1e-2, 1), (1e-2, 2)]  # 4 of the 10 asked for


def test_a_grid_point_killed_mid_trial_is_run_again_on_resume(tmp_path):
    grid = SearchSpace((ParamSpec("learning_rate", "categorical", choices=(1e-3, 3e-3, 1e-2)),))
    first = study(tmp_path, n_trials=1, search_space=grid, sampler="grid")
    killed = first.study.ask()  # the second grid point, left running as by a SIGKILL
    killed.suggest_categorical("learning_rate", [1e-3, 3e-3, 1e-2])
    resumed = study(tmp_path, n_trials=3, search_space=grid, sampler="grid", resume=True)
    complete = resumed.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.params["learning_rate"] for t in complete) == [1e-3, 3e-3, 1e-2]
    assert resumed.complete == 3 and resumed.failed == 1


def test_the_grid_sampler_refuses_a_float_range(tmp_path):
    with pytest.raises(ConfigError, match=r"sampler 'grid'.*'learning_rate' is a float range"):
        study(tmp_path, sampler="grid")
