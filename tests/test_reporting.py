"""Experiment tracking (`report_to`): what TensorBoard and MLflow hold, read back from their
files, equals the run's own log and evaluations; bad choices and missing packages fail with one
clear message before training."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from decoreg import reporting
from decoreg.errors import ConfigError
from decoreg.reporting import Reporter, ReportOptions, make_reporter
from tests.conftest import linear_rows as data
from tests.conftest import tiny_tabular_estimator as tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def logged_series(result, source: str) -> dict[str, list[tuple[int, float]]]:
    """The run's own numbers as `{tag: [(step, value), ...]}`, with the trackers' names."""
    entries = result.log if source == "train" else result.evaluations
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in entries:
        for name, value in entry.items():
            if name != "step":
                series.setdefault(f"{source}/{name}", []).append((entry["step"], float(value)))
    return series


def expected(result) -> dict[str, list[tuple[int, float]]]:
    return logged_series(result, "train") | logged_series(result, "eval")


def assert_same_series(read: dict, want: dict) -> None:
    assert sorted(read) == sorted(want)
    for tag, points in want.items():
        steps, values = zip(*points, strict=True)
        got_steps, got_values = zip(*read[tag], strict=True)
        assert got_steps == steps, tag
        # TensorBoard stores float32: equal to float32 rounding, no looser
        np.testing.assert_allclose(got_values, values, rtol=1e-6, atol=1e-30, err_msg=tag)


def test_tensorboard_event_files_hold_every_step_and_evaluation(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    est = tiny(report_to="tensorboard", report_dir=str(tmp_path / "tb")).fit(*data())
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    read = {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }
    want = expected(est.train_result_)
    assert {"train/loss", "train/lr", "train/grad_norm", "eval/rmse"} <= set(want)
    assert [s for s, _ in want["eval/rmse"]] == [3, 6]
    assert_same_series(read, want)


def test_mlflow_store_holds_every_step_and_evaluation(tmp_path):
    pytest.importorskip("mlflow")
    import mlflow

    store = tmp_path / "mlruns"
    est = tiny(report_to="mlflow", report_dir=str(store)).fit(*data())
    client = mlflow.tracking.MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name(reporting.MLFLOW_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    want = expected(est.train_result_)
    read = {
        tag: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, tag)]
        for tag in run.data.metrics
    }
    assert_same_series(read, want)


def test_report_to_none_writes_nothing(tmp_path):
    tiny(report_dir=str(tmp_path / "runs")).fit(*data())
    assert not (tmp_path / "runs").exists()


def test_an_unknown_tracker_is_refused_before_training():
    with pytest.raises(ConfigError, match=r"report_to must be one of \['mlflow', 'none'"):
        tiny(report_to="wandb").fit(*data())


def test_a_missing_package_names_the_pip_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"needs the 'mlflow-skinny' package.*decoreg\[logging\]"):
        tiny(report_to="mlflow").fit(*data())


def test_processes_other_than_rank_zero_report_nothing(tmp_path):
    reporter = make_reporter(ReportOptions("tensorboard", str(tmp_path / "tb")), rank=1)
    assert type(reporter) is Reporter
    assert not (tmp_path / "tb").exists()


def test_the_evaluation_hook_reports_then_calls_the_callers_hook():
    calls = []

    class Recording(Reporter):
        def log_validation(self, step, report):
            calls.append(("report", step))

    hook = Recording().evaluation_hook(lambda step, report: calls.append(("then", step)))
    hook(3, {"rmse": 1.0})
    assert calls == [("report", 3), ("then", 3)]
    Recording().evaluation_hook(None)(4, {"rmse": 1.0})  # no caller's hook: reports only
    assert calls[-1] == ("report", 4)


def test_numbers_drop_the_step_and_non_numbers():
    assert reporting._numbers({"step": 3, "loss": 1, "flag": True, "name": "x"}) == {"loss": 1.0}
