"""What a study writes: the best parameters (for `decoreg train --config`), the trial table,
and Optuna's optimization-history and parameter-importance plots."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import yaml

from decoreg.atomic_files import atomic_write_text

PARAMS_FILE = "params.yaml"
TRIALS_FILE = "trials.csv"
HISTORY_PLOT = "optimization_history.png"
IMPORTANCE_PLOT = "param_importances.png"

_NOT_SAVED = frozenset({"verbose", "checkpoint_dir", "checkpoint_every", "resume"})
"""Run-time options of a trial that a later training run sets for itself."""


def best_params(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator parameters worth writing: those away from their default, less the
    run-time ones (`_NOT_SAVED`), as plain YAML values."""
    kept = {
        name: value
        for name, value in params.items()
        if name not in _NOT_SAVED and not _same(value, defaults.get(name))
    }
    return json.loads(json.dumps(kept, default=_plain))


def write_params(folder: Path, params: Mapping[str, Any], header: str) -> Path:
    """`params.yaml`: a comment `header`, then the parameters `decoreg train --config` reads."""
    path = folder / PARAMS_FILE
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    atomic_write_text(path, comment + yaml.safe_dump(dict(params), sort_keys=False))
    return path


def write_trials(folder: Path, study) -> Path:
    """`trials.csv`: one row per trial (number, value, state, params_*, user_attrs_*, times)."""
    path = folder / TRIALS_FILE
    atomic_write_text(path, study.trials_dataframe().to_csv(index=False))
    return path


def write_plots(folder: Path, study) -> tuple[list[Path], list[str]]:
    """The two PNG plots; a plot Optuna cannot draw yet is skipped with a note."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as optuna_plots

    written, notes = [], []
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    plots = [(HISTORY_PLOT, optuna_plots.plot_optimization_history)]
    if complete >= 2:
        plots.append((IMPORTANCE_PLOT, optuna_plots.plot_param_importances))
    else:
        notes.append(
            f"skipped {IMPORTANCE_PLOT}: parameter importances need at least 2 completed "
            f"trials, the study has {complete}"
        )
    for name, plot in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            try:
                axes = plot(study)
            except (ValueError, RuntimeError) as error:
                notes.append(f"skipped {name}: Optuna could not draw it: {error}")
                continue
        figure = axes.figure
        figure.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(folder / name)
    return written, notes


def _same(value: Any, default: Any) -> bool:
    if value is None or default is None:
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)
