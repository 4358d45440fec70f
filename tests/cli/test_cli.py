import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from decoreg.cli import build_parser, main

ROWS = pd.DataFrame(
    {
        "review": [f"review number {i}, {'great' if i % 2 else 'poor'}" for i in range(20)],
        "stars": [5 if i % 2 else 2 for i in range(20)],
    }
)


def tiny_train_args(data, model_dir, out, *extra):
    return [
        "train",
        str(data),
        "--text-column",
        "review",
        "--target-column",
        "stars",
        "--model",
        str(model_dir),
        "--output",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--eval-every",
        "1",
        "--no-bf16",
        "--template",
        "R: {text}\nS: ",
        *extra,
    ]


@pytest.mark.parametrize(("objective", "decoder"), [("raft", "grid-mean"), ("ce", "greedy")])
def test_train_predict_evaluate_round_trip(tmp_path, tiny_model_dir, capsys, objective, decoder):
    data = tmp_path / "reviews.csv"
    ROWS.to_csv(data, index=False)
    out = tmp_path / "model"
    args = tiny_train_args(
        data, tiny_model_dir, out, "--objective", objective, "--decoder", decoder
    )
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_run"] == 2 and metrics["best_validation"]["n"] == 2

    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out), str(data), "--output", str(preds)]) == 0
    frame = pd.read_csv(preds)
    assert list(frame.columns) == ["row", "prediction", "parsed", "text"]
    assert frame["row"].tolist() == list(range(20))

    capsys.readouterr()
    assert main(["evaluate", str(out), str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 20 and report["rmse"] >= 0
    assert main(["evaluate", str(out), str(data)]) == 0
    assert "rmse" in capsys.readouterr().out


def test_bad_target_is_reported_with_file_row_and_column(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "bad.csv"
    ROWS.assign(stars=["4"] * 5 + ["four"] + ["3"] * 14).to_csv(data, index=False)
    assert main(tiny_train_args(data, tiny_model_dir, tmp_path / "m")) == 2
    err = capsys.readouterr().err
    assert "bad.csv, line 7, column 'stars': 'four' is not a number" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--objective", "mse"], "unknown objective 'mse'"),
        (["--decoder", "beam"], "unknown decoder 'beam'"),
        (["--template", "no placeholder: "], "placeholder"),
    ],
)
def test_bad_options_stop_before_training(tmp_path, tiny_model_dir, capsys, extra, message):
    data = tmp_path / "d.csv"
    ROWS.to_csv(data, index=False)
    assert main(tiny_train_args(data, tiny_model_dir, tmp_path / "m", *extra)) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_unknown_column(tmp_path, tiny_model_dir, capsys):
    assert main(tiny_train_args(tmp_path / "none.csv", tiny_model_dir, tmp_path / "m")) == 2
    assert "none.csv: no such file" in capsys.readouterr().err
    data = tmp_path / "d.csv"
    ROWS.rename(columns={"review": "body"}).to_csv(data, index=False)
    assert main(tiny_train_args(data, tiny_model_dir, tmp_path / "m")) == 2
    assert "no column(s) ['review']" in capsys.readouterr().err


def test_predict_refuses_a_folder_that_is_not_a_model(tmp_path, capsys):
    data = tmp_path / "d.csv"
    ROWS.to_csv(data, index=False)
    assert main(["predict", str(tmp_path), str(data), "--output", str(tmp_path / "p.csv")]) == 2
    assert "not a decoreg model folder" in capsys.readouterr().err


def test_models_lists_the_builtins(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m (default)" in out and "gemma3-270m" in out


@pytest.mark.parametrize(
    "command", ["train", "predict", "evaluate", "models", "quickstart", "tune"]
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: decoreg" in capsys.readouterr().out


REQUIRED = {  # the positionals and options each command needs
    "train": ["d.csv", "--target-column", "y", "--output", "o"],
    "bench": [],
    "quickstart": [],
    "merge": ["in", "out"],
    "tune": ["d.csv", "--target-column", "y", "--storage", "sqlite:///s.db", "--output", "o"],
}


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_a_commands_description_is_its_handlers_docstring(command, capsys):
    # The paragraph under `usage:` comes from the handler's docstring; it must not go missing.
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    handler = parser.parse_args([command, *REQUIRED[command]]).handler
    first_words = " ".join(handler.__doc__.split()[:6])
    assert first_words in " ".join(capsys.readouterr().out.split())


def test_python_dash_m_runs_the_same_command_line():
    # torchrun launches `-m decoreg.cli train ...`: the package must run as a module.
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        [sys.executable, "-m", "decoreg.cli", "datasets", "fetch", "no-such-dataset"],
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "decoreg: error: dataset 'no-such-dataset' is unknown" in done.stderr
