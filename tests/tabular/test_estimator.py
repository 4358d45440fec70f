"""The tabular family through DecodingRegressor and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from decoreg.cli import main
from decoreg.errors import ConfigError, DataError
from decoreg.estimator import DecodingRegressor


def linear_rows(n=240, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y"], size=n)}
    )
    y = 3.0 * frame["a"] - frame["b"] + (frame["kind"] == "x") * 2.0 + 10.0
    return frame, y.to_numpy()


def small(**params):
    defaults = dict(
        family="tabular",
        max_steps=150,
        batch_size=32,
        learning_rate=3e-3,
        eval_every=50,
        verbose=False,
        num_samples=16,
        tabular_options={"d_model": 32, "heads": 2, "layers": 1, "ff_size": 64, "dropout": 0.0},
    )
    return DecodingRegressor(**{**defaults, **params})


@pytest.mark.parametrize(
    ("objective", "decoder"), [("ce", "sample-mean"), ("pointwise-mse", "head-pointwise")]
)
def test_tabular_fit_beats_the_mean_and_round_trips(tmp_path, objective, decoder):
    frame, y = linear_rows()
    est = small(objective=objective).fit(frame[:200], y[:200])
    assert est.decoder_name() == decoder
    assert est.score(frame[200:], y[200:]) > 0.5  # the mean predictor scores 0
    before = est.predict(frame[200:])
    est.save(tmp_path / "m")
    np.testing.assert_array_equal(
        DecodingRegressor.load(tmp_path / "m").predict(frame[200:]), before
    )


def test_tabular_default_samples_follow_genre2():
    assert small(num_samples=None).decode_config().num_samples == 128


def test_unknown_tabular_option_names_the_valid_ones():
    frame, y = linear_rows(20)
    with pytest.raises(
        ConfigError, match=r"unknown tabular_options \['d_modle'\].*valid:.*d_model"
    ):
        small(tabular_options={"d_modle": 8}).fit(frame, y)


def test_text_column_is_refused_for_tabular():
    frame, y = linear_rows(20)
    with pytest.raises(ConfigError, match="feature columns, not a text column"):
        small(text_column="a").fit(frame, y)


def test_missing_feature_at_predict_is_an_error():
    frame, y = linear_rows(60)
    est = small(max_steps=1).fit(frame, y)
    with pytest.raises(DataError, match="b"):
        est.predict(frame.drop(columns=["b"]))


def test_cli_trains_the_tabular_family(tmp_path, capsys):
    frame, y = linear_rows()
    data = tmp_path / "rows.csv"
    frame.assign(target=y).to_csv(data, index=False)
    out = tmp_path / "model"
    code = main(
        [
            "train",
            str(data),
            "--family",
            "tabular",
            "--target-column",
            "target",
            "--objective",
            "ce",
            "--output",
            str(out),
            "--max-steps",
            "40",
            "--batch-size",
            "32",
            "--learning-rate",
            "3e-3",
            "--num-samples",
            "8",
            "--tabular-option",
            "d_model=32",
            "--tabular-option",
            "layers=1",
        ]
    )
    assert code == 0
    assert json.loads((out / "metrics.json").read_text())["steps_run"] == 40
    capsys.readouterr()
    assert main(["evaluate", str(out), str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == len(frame)


def test_tabular_quantiles_are_quantiles_of_the_same_samples():
    frame, y = linear_rows(n=120)
    est = small(max_steps=20, decoder="sample-median").fit(frame, y)
    rows = frame.iloc[:6]
    bands = est.predict_quantiles(rows, (0.05, 0.5, 0.95))
    median = est.predict(rows)
    np.testing.assert_allclose(bands[:, 1], median, rtol=1e-9)  # same seed: same samples
    assert np.all(bands[:, 0] <= bands[:, 1]) and np.all(bands[:, 1] <= bands[:, 2])
    assert np.all(bands[:, 0] < bands[:, 2])  # 16 samples at T=1 are not all equal
