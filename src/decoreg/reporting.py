"""Experiment trackers that receive the training log: TensorBoard event files, a local MLflow
store, or nothing (the default; `metrics.json` is written either way by `decoreg train`).

The training loop calls `Reporter.log_step` after every optimizer step with that step's log
(loss, lr, grad_norm and the objective's metrics) and `Reporter.log_validation` after every
validation pass with its report. Names follow the Hugging Face Trainer's: `train/<name>` and
`eval/<name>`. The trackers' packages are imported only when one is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from decoreg.errors import ConfigError

DEFAULT_REPORT_DIR = "runs"
MLFLOW_EXPERIMENT = "decoreg"
INSTALL_HINT = "pip install 'decoreg[logging]'"
# choice -> (the module it imports, the pip package that holds it)
NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow-skinny")}


@dataclass(frozen=True)
class ReportOptions:
    """Where the training log goes besides `TrainResult.log`.

    Attributes:
        to: "none", "tensorboard" or "mlflow" (a key of `REPORTERS`).
        directory: Folder of the event files or of the MLflow file store (None: "runs" in the
            working directory; `decoreg train` uses OUTPUT/runs).
    """

    to: str = "none"
    directory: str | None = None

    def __post_init__(self) -> None:
        if self.to not in REPORTERS:
            raise ConfigError(f"report_to must be one of {sorted(REPORTERS)}, got {self.to!r}")
        if self.to in NEEDS and importlib.util.find_spec(NEEDS[self.to][0]) is None:
            raise _missing(self.to)

    @property
    def folder(self) -> Path:
        return Path(self.directory or DEFAULT_REPORT_DIR)


class Reporter:
    """The contract: told each step's log and each validation report; `close` flushes.

    The base class reports nothing (`report_to="none"`, and processes other than rank 0).
    """

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        """One optimizer step's log: `{"step", "lr", "loss", "grad_norm", ...}`."""

    def log_validation(self, step: int, report: Mapping[str, float]) -> None:
        """One validation pass's report (rmse, mae, ..., the objective's own metrics)."""

    def close(self) -> None:
        """Flush and release the files (called once, also when training fails)."""

    def evaluation_hook(self, then: Callable[[int, dict], None] | None):
        """An `on_evaluation` hook that reports the pass, then calls `then` (e.g. a pruner)."""

        def hook(step: int, report: dict) -> None:
            self.log_validation(step, report)
            if then is not None:
                then(step, report)

        return hook


class TensorBoardReporter(Reporter):
    """Scalars in TensorBoard event files under `directory` (`tensorboard --logdir DIR`)."""

    def __init__(self, directory: Path) -> None:
        summary = _import("torch.utils.tensorboard", "tensorboard")
        self.writer = summary.SummaryWriter(log_dir=str(directory))

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        self._scalars("train", step, values)

    def log_validation(self, step: int, report: Mapping[str, float]) -> None:
        self._scalars("eval", step, report)

    def close(self) -> None:
        self.writer.close()

    def _scalars(self, prefix: str, step: int, values: Mapping[str, float]) -> None:
        for name, value in _numbers(values).items():
            self.writer.add_scalar(f"{prefix}/{name}", value, global_step=step)
        self.writer.flush()


class MLflowReporter(Reporter):
    """One run of the experiment "decoreg" in a local MLflow file store at `directory`
    (`mlflow ui --backend-store-uri DIR`)."""

    def __init__(self, directory: Path) -> None:
        # MLflow 3 keeps the file store behind this switch; a user's own setting wins.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.mlflow = _import("mlflow", "mlflow")
        directory.mkdir(parents=True, exist_ok=True)
        self.client = self.mlflow.tracking.MlflowClient(tracking_uri=directory.resolve().as_uri())
        experiment = self.client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        experiment_id = (
            self.client.create_experiment(MLFLOW_EXPERIMENT)
            if experiment is None
            else experiment.experiment_id
        )
        self.run_id = self.client.create_run(experiment_id).info.run_id

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        self._metrics("train", step, values)

    def log_validation(self, step: int, report: Mapping[str, float]) -> None:
        self._metrics("eval", step, report)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)

    def _metrics(self, prefix: str, step: int, values: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        metrics = [
            self.mlflow.entities.Metric(f"{prefix}/{name}", value, now, step)
            for name, value in _numbers(values).items()
        ]
        self.client.log_batch(self.run_id, metrics=metrics)


REPORTERS: dict[str, Callable[[Path], Reporter]] = {
    "none": lambda directory: Reporter(),
    "tensorboard": TensorBoardReporter,
    "mlflow": MLflowReporter,
}


def make_reporter(options: ReportOptions, rank: int = 0) -> Reporter:
    """The reporter `options` ask for; processes other than rank 0 report nothing."""
    if rank != 0:
        return Reporter()
    return REPORTERS[options.to](options.folder)


def _numbers(values: Mapping[str, float]) -> dict[str, float]:
    """The values to plot: finite-or-not floats, without the step counter and non-numbers."""
    return {
        name: float(value)
        for name, value in values.items()
        if name != "step" and isinstance(value, int | float) and not isinstance(value, bool)
    }


def _import(module: str, choice: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _missing(choice) from error


def _missing(choice: str) -> ConfigError:
    package = NEEDS[choice][1]
    return ConfigError(
        f"report_to={choice!r} needs the {package!r} package, which is not installed: "
        f"pip install {package} (or {INSTALL_HINT})"
    )
