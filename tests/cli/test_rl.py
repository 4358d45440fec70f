"""RL from the command line and the estimator: CE model -> RL model -> save/load round trip."""

import json

import numpy as np
import pandas as pd
import pytest

from decoreg.cli import main
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.cli.test_cli import ROWS, tiny_train_args


@pytest.fixture
def ce_model(tmp_path, tiny_model_dir):
    data = tmp_path / "reviews.csv"
    ROWS.to_csv(data, index=False)
    out = tmp_path / "ce"
    assert main(tiny_train_args(data, tiny_model_dir, out, "--objective", "ce")) == 0
    return data, out


@pytest.mark.parametrize(
    ("objective", "reward"),
    [("remax", "absolute"), ("grpo", "absolute"), ("rloo", "absolute"), ("genre2", "absolute"),
     ("remax", "crps")],
)  # fmt: skip
def test_rl_from_a_ce_model_round_trips(tmp_path, tiny_model_dir, ce_model, objective, reward):
    data, ce_dir = ce_model
    out = tmp_path / objective
    args = tiny_train_args(data, tiny_model_dir, out, "--objective", objective)
    args += ["--init-from", str(ce_dir), "--decoder", "greedy"]
    args += ["--objective-option", "num_samples=3", "--objective-option", f"reward={reward}"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_run"] == 2
    first = metrics["log"][0]
    for name in ("reward_mean", "advantage_std", "unparseable_share", "entropy", "pg_loss",
                 "number_entropy", "tied_group_share"):  # fmt: skip
        assert np.isfinite(first[name]), name
    assert ("expert_ce" in first) == (objective == "genre2")
    assert ("greedy_reward_mean" in first) == (objective in ("remax", "genre2"))

    saved = DecodingRegressor.load(out)
    assert saved.objective == objective and saved.init_from == str(ce_dir)
    again = DecodingRegressor.load(out)
    frame = ROWS.drop(columns=["stars"])
    np.testing.assert_array_equal(saved.predict(frame), again.predict(frame))
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out), str(data), "--output", str(preds)]) == 0
    assert len(pd.read_csv(preds)) == len(ROWS)


def test_rl_starts_from_the_saved_weights(tmp_path, ce_model):
    """With a learning rate of ~0 the RL model predicts exactly what the CE model did."""
    _, ce_dir = ce_model
    frame, y = ROWS[["review"]], ROWS["stars"].to_numpy(float)
    ce = DecodingRegressor.load(ce_dir)
    rl = DecodingRegressor(
        objective="remax",
        decoder="greedy",
        init_from=str(ce_dir),
        text_column="review",
        max_steps=1,
        learning_rate=1e-30,
        warmup_steps=0,
        bf16=False,
        objective_options={"num_samples": 2},
        verbose=False,
    ).fit(frame, y)
    np.testing.assert_array_equal(rl.predict(frame), ce.set_params(decoder="greedy").predict(frame))


def test_init_from_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ConfigError, match="not a decoreg model folder"):
        DecodingRegressor(objective="remax", init_from=str(tmp_path)).fit(["a", "b"], [1, 2])


def test_cli_reports_bad_rl_options_before_training(tmp_path, tiny_model_dir, ce_model, capsys):
    data, ce_dir = ce_model
    base = tiny_train_args(data, tiny_model_dir, tmp_path / "out", "--init-from", str(ce_dir))
    assert main([*base, "--objective", "grpo", "--objective-option", "num_samples=1"]) == 2
    assert "num_samples (G) must be an int >= 2" in capsys.readouterr().err
    assert main([*base, "--objective", "remax", "--objective-option", "reward=huber"]) == 2
    assert "unknown reward 'huber'" in capsys.readouterr().err
    missing = tiny_train_args(data, tiny_model_dir, tmp_path / "o", "--init-from", str(data))
    assert main([*missing, "--objective", "remax"]) == 2
    assert "not a decoreg model folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
