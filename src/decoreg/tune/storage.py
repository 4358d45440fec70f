"""Where a study lives: a writable SQLite file, opened new or resumed after a kill.

Optuna commits each trial to the database as it finishes, so a killed `tune` loses at most the
trial that was running; `open_study(resume=True)` marks that one failed and queues it again
with the same parameters (Optuna's retry callback), so no point of a study is lost. A
study records a fingerprint of its data and options (a study user attribute), and a resume
with other data or options is refused, naming what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.errors import ConfigError

SQLITE_PREFIX = "sqlite:///"
FINGERPRINT_ATTR = "decoreg_fingerprint"
_SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_path(storage: str) -> Path:
    """The database file of a ``sqlite:///PATH`` URL, checked to be writable.

    Raises:
        ConfigError: Naming the storage: not a SQLite URL, in memory, a missing folder, a
            folder or a file that is not a SQLite database, or no permission to write.
    """
    where = f"storage {storage!r}"
    if not isinstance(storage, str) or not storage.startswith(SQLITE_PREFIX):
        raise ConfigError(
            f"{where} is not a SQLite URL: give {SQLITE_PREFIX}study.db (a file the study is "
            f"kept in, relative to the current folder; {SQLITE_PREFIX}/abs/path for an "
            "absolute path)"
        )
    raw = storage[len(SQLITE_PREFIX) :].split("?", 1)[0]
    if raw in ("", ":memory:"):
        raise ConfigError(f"{where}: an in-memory database cannot be resumed; name a file")
    path = Path(raw)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{where}: the folder {str(folder)!r} does not exist")
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"{where}: {str(path)!r} is not a file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"{where}: {str(path)!r} is not writable")
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if header and header != _SQLITE_HEADER:
            raise ConfigError(f"{where}: {str(path)!r} is not a SQLite database")
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: cannot create a file in {str(folder)!r} (not writable)")
    return path


def data_digest(X, y) -> str:
    """SHA-256 of the rows and targets (any input the estimator takes: frames, arrays, lists)."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(np.asarray(y, dtype=np.float64)).tobytes())
    return digest.hexdigest()


def fingerprint(X, y, eval_set, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a resumed study must share with the study it continues (JSON values only)."""
    return {
        "data": data_digest(X, y),
        "validation": None if eval_set is None else data_digest(*eval_set),
        "options": json.loads(json.dumps(dict(options), sort_keys=True, default=str)),
    }


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between two fingerprints, in words ('' when nothing does)."""
    found = []
    if stored.get("data") != current["data"]:
        found.append("the training data (rows or targets) differ")
    if stored.get("validation") != current["validation"]:
        found.append("the validation data differ")
    old, new = stored.get("options", {}), current["options"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            found.append(f"{key}: {old.get(key)!r} in the study, {new.get(key)!r} now")
    return found


def open_study(
    storage: str,
    study_name: str,
    *,
    resume: bool,
    fingerprint: Mapping[str, Any],
    sampler,
    pruner,
):
    """A new study in `storage`, or with `resume` the stored one (a new one if none).

    Raises:
        ConfigError: A study of that name exists and `resume` is off; or `resume` of a study
            with another fingerprint (naming what differs).
    """
    import optuna

    sqlite_path(storage)
    exists = study_name in optuna.study.get_all_study_names(storage)
    if exists and not resume:
        raise ConfigError(
            f"storage {storage!r} already holds the study {study_name!r}: resume it (--resume, "
            "resume=True), or give another storage or study name"
        )
    if exists:
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        stored = study.user_attrs.get(FINGERPRINT_ATTR, {})
        changed = differences(stored, fingerprint)
        if changed:
            raise ConfigError(
                f"cannot resume the study {study_name!r} in {storage!r}: it was made with other "
                f"data or options: {'; '.join(changed)}"
            )
        retry = _retry_callback(optuna)
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)  # killed mid-trial
            # Queued again with its parameters and system attributes (a grid sampler's grid id
            # included), else a grid study counts the killed point as visited and skips it.
            retry(study, study.get_trials(deepcopy=False)[trial.number])
        return study
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="minimize",
        sampler=sampler,
        pruner=pruner,
    )
    study.set_user_attr(FINGERPRINT_ATTR, dict(fingerprint))
    return study


def _retry_callback(optuna):
    """Optuna's callback that queues a failed trial again: `RetryHeartbeatStaleTrialCallback`
    from Optuna 4.9 (experimental there), `RetryFailedTrialCallback` (deprecated in 4.9)
    before."""
    import warnings

    kind = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if kind is None:
        return optuna.storages.RetryFailedTrialCallback(max_retry=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return kind(max_retry=None)
