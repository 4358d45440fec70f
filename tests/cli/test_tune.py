"""`decoreg tune` and what it hands `decoreg train`: --config, --epochs, resume after SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from decoreg.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_OPTIONS = ["d_model=8", "heads=2", "ff_size=16"]


def table(tmp_path: Path, n: int = 50) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = 2.0 * frame["a"] - frame["b"] + 5.0
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def tiny(*extra: str) -> list[str]:
    options = [arg for option in TINY_OPTIONS for arg in ("--tabular-option", option)]
    return [
        "--target-column", "y", "--family", "tabular", "--batch-size", "16", "--eval-every",
        "2", "--early-stopping-patience", "0", "--num-samples", "2", *options, *extra,
    ]  # fmt: skip


def tune_args(tmp_path: Path, data: Path, *extra: str) -> list[str]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    return [
        "tune", str(data), "--storage", storage, "--output", str(tmp_path / "best"),
        "--n-trials", "3", *tiny("--max-steps", "6", *extra),
    ]  # fmt: skip


def test_a_study_writes_its_outputs_and_its_params_train(tmp_path, capsys):
    data = table(tmp_path)
    assert main(tune_args(tmp_path, data)) == 0
    out = capsys.readouterr().out
    assert "3 trials: 3 complete, 0 pruned, 0 failed" in out
    best = tmp_path / "best"
    for name in ("params.yaml", "trials.csv", "optimization_history.png", "param_importances.png"):
        assert (best / name).is_file(), name
    params = yaml.safe_load((best / "params.yaml").read_text())
    assert params["family"] == "tabular" and params["max_steps"] == 6
    assert "learning_rate" in params and "layers" in params["tabular_options"]
    model = tmp_path / "model"
    argv = ["train", str(data), "--target-column", "y", "--output", str(model)]
    assert main([*argv, "--config", str(best / "params.yaml")]) == 0
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["steps_run"] == 6
    saved = json.loads((model / "decoreg.json").read_text())["params"]
    assert saved["learning_rate"] == params["learning_rate"]
    assert saved["tabular_options"] == params["tabular_options"]


def test_options_given_override_the_config_file(tmp_path):
    data = table(tmp_path)
    config = tmp_path / "params.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "family": "tabular",
                "max_steps": 6,
                "learning_rate": 0.003,
                "tabular_options": {"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
            }
        )
    )
    model = tmp_path / "model"
    argv = ["train", str(data), "--config", str(config), "--output", str(model)]
    extra = ["--epochs", "1", "--tabular-option", "layers=2", "--learning-rate", "0.001"]
    assert main([*argv, *tiny(*extra)]) == 0
    saved = json.loads((model / "decoreg.json").read_text())["params"]
    assert saved["epochs"] == 1 and saved["max_steps"] is None  # --epochs replaced max_steps
    assert saved["learning_rate"] == 0.001
    assert saved["tabular_options"] == {"d_model": 8, "heads": 2, "layers": 2, "ff_size": 16}
    # 50 rows, 5 held out (validation fraction 0.1): ceil(45 / 16) = 3 steps for one epoch
    assert json.loads((model / "metrics.json").read_text())["steps_run"] == 3


def test_a_config_file_with_an_unknown_parameter_names_it(tmp_path, capsys):
    config = tmp_path / "params.yaml"
    config.write_text("learning_rat: 0.01\n")
    argv = ["train", str(table(tmp_path)), "--config", str(config), "--output", "m", *tiny()]
    assert main(argv) == 2
    assert f"--config {config}: unknown parameter(s) ['learning_rat']" in capsys.readouterr().err


def test_epochs_with_max_steps_is_refused_naming_both(tmp_path, capsys):
    argv = ["train", str(table(tmp_path)), "--output", "m", *tiny("--epochs", "1")]
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--max-steps", "4"])
    assert caught.value.code == 2
    assert "argument --max-steps: not allowed with argument --epochs" in capsys.readouterr().err


def test_a_bad_storage_is_refused_naming_it(tmp_path, capsys):
    argv = tune_args(tmp_path, table(tmp_path))
    argv[argv.index("--storage") + 1] = "postgresql://db/optuna"
    assert main(argv) == 2
    assert "storage 'postgresql://db/optuna' is not a SQLite URL" in capsys.readouterr().err


def test_a_bad_search_space_is_refused_naming_the_file_and_parameter(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  lora_rank: {choices: [0, 8]}\n")
    assert main(tune_args(tmp_path, table(tmp_path), "--search-space", str(space))) == 2
    err = capsys.readouterr().err
    assert f"search space {space}: parameter 'lora_rank' is not one the tabular family" in err


def test_resume_of_a_study_with_other_options_names_what_differs(tmp_path, capsys):
    data = table(tmp_path)
    argv = tune_args(tmp_path, data)
    argv[argv.index("--n-trials") + 1] = "1"
    assert main(argv) == 0
    assert main([*argv, "--resume", "--learning-rate", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume the study 'decoreg'" in err and "learning_rate: None" in err


# ------------------------------------------------------------------ SIGKILL and --resume
def child_env() -> dict:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}


def finished(database: Path) -> dict[int, float]:
    """Number -> value of the completed trials, read-only straight from Optuna's tables (none
    while the child is still creating them)."""
    query = (
        "SELECT t.number, v.value FROM trials t JOIN trial_values v ON v.trial_id = t.trial_id "
        "WHERE t.state = 'COMPLETE'"
    )
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return dict(db.execute(query).fetchall())
    except sqlite3.OperationalError:  # no such table yet, or locked mid-write
        return {}


def test_sigkill_during_a_study_then_resume_keeps_every_finished_trial(tmp_path):
    data = table(tmp_path, n=200)
    argv = tune_args(tmp_path, data, "--pruner", "none")
    argv[argv.index("--n-trials") + 1] = "4"
    argv[argv.index("--max-steps") + 1] = "40"  # long enough to be killed mid-trial
    storage = argv[argv.index("--storage") + 1]
    command = [sys.executable, "-m", "decoreg.cli", *argv]
    victim = subprocess.Popen(
        command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    database = tmp_path / "study.db"
    while not database.exists() or not finished(database):
        assert victim.poll() is None, "the study ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    kept = finished(database)
    assert 1 <= len(kept) < 4
    subprocess.run([*command, "--resume"], env=child_env(), check=True, capture_output=True)
    after = finished(database)
    assert {n: after[n] for n in kept} == kept  # every finished trial is still there
    study = optuna.load_study(study_name="decoreg", storage=storage)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(after) == 4 and len(failed) <= 1  # the killed trial, if one was running
    assert (tmp_path / "best" / "params.yaml").is_file()
