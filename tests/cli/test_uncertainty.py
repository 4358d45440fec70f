"""`decoreg predict --interval` and `decoreg evaluate --plots` on a small tabular model."""

import json

import pandas as pd
import pytest

from decoreg.cli import main
from tests.tabular.test_estimator import linear_rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-intervals")
    frame, y = linear_rows(n=200)
    data = folder / "rows.csv"
    frame.assign(target=y).to_csv(data, index=False)
    out = folder / "model"
    options = ["--max-steps", "30", "--batch-size", "32", "--num-samples", "8"]
    model = ["--tabular-option", "d_model=32", "--tabular-option", "layers=1"]
    train = ["train", str(data), "--family", "tabular", "--target-column", "target"]
    assert main([*train, "--output", str(out), *options, *model]) == 0
    return folder, data, out


def test_predict_writes_conformal_intervals_from_the_saved_validation_rows(trained, capsys):
    folder, data, out = trained
    preds = folder / "intervals.csv"
    assert main(["predict", str(out), str(data), "--output", str(preds), "--interval", "0.9"]) == 0
    frame = pd.read_csv(preds)
    assert list(frame.columns)[-2:] == ["lower0.9", "upper0.9"]
    assert (frame["lower0.9"] <= frame["upper0.9"]).all()
    calibrated = folder / "calibrated.csv"
    args = ["predict", str(out), str(data), "--output", str(calibrated), "--interval", "0.9"]
    assert main([*args, "--calibration", str(data)]) == 0
    assert not pd.read_csv(calibrated)["upper0.9"].equals(frame["upper0.9"])


def test_evaluate_writes_plots_and_reports_distribution_scores(trained, capsys):
    folder, data, out = trained
    plots = folder / "plots"
    capsys.readouterr()
    assert main(["evaluate", str(out), str(data), "--json", "--plots", str(plots)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"crps", "coverage_90", "width_90"} <= set(report)
    assert sorted(p.name for p in plots.iterdir()) == ["rows-intervals.png", "rows-reliability.png"]
    assert main(["evaluate", str(out), str(data)]) == 0
    assert "coverage_90" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--interval", "1.5"], "coverage must be strictly between 0 and 1"),
        (["--interval", "0.9", "--decoder", "greedy"], "not a distribution"),
    ],
)
def test_bad_interval_requests_are_one_line_errors(trained, capsys, extra, message):
    folder, data, out = trained
    args = ["predict", str(out), str(data), "--output", str(folder / "bad.csv"), *extra]
    capsys.readouterr()
    assert main(args) == 2
    assert message in capsys.readouterr().err
