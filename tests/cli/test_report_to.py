"""`decoreg train --report-to`: the event files land in OUTPUT/runs and hold metrics.json's log."""

import json

import numpy as np
import pytest

from decoreg.cli import main
from tests.cli.test_cli import ROWS, tiny_train_args

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_reports_to_tensorboard_under_the_output_folder(tmp_path, tiny_model_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = tmp_path / "rows.csv"
    ROWS.to_csv(data, index=False)
    out = tmp_path / "model"
    assert main(tiny_train_args(data, tiny_model_dir, out, "--report-to", "tensorboard")) == 0
    log = json.loads((out / "metrics.json").read_text())["log"]
    events = EventAccumulator(str(out / "runs"))
    events.Reload()
    losses = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in losses] == [entry["step"] for entry in log] == [1, 2]
    np.testing.assert_allclose([v for _, v in losses], [e["loss"] for e in log], rtol=1e-6)
    assert [e.step for e in events.Scalars("eval/rmse")] == [1, 2]


def test_train_refuses_an_unknown_tracker(tmp_path, tiny_model_dir, capsys):
    with pytest.raises(SystemExit):
        main(
            tiny_train_args(
                tmp_path / "rows.csv", tiny_model_dir, tmp_path / "m", "--report-to", "wandb"
            )
        )
    assert "invalid choice: 'wandb'" in capsys.readouterr().err
