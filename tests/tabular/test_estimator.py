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
    with pytest.raises(ConfigError, match=r"tabular family ignores text_column='a'.*causal-lm"):
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


# ---------------------------------------------------------- inputs, as scikit-learn takes them
def test_array_likes_become_frames_with_numbered_columns():
    frame, y = linear_rows(60)
    numeric = frame[["a", "b"]].to_numpy()
    est = small(max_steps=2, decoder="greedy").fit(numeric.tolist(), y)
    assert est.n_features_in_ == 2 and not hasattr(est, "feature_names_in_")
    np.testing.assert_array_equal(est.predict(numeric), est.predict(numeric.tolist()))
    assert est.model_.features.columns == ["x0", "x1"]
    with pytest.raises(DataError, match="X has 3 features, but DecodingRegressor is expecting 2"):
        est.predict(frame.assign(c=1.0)[["a", "b", "c"]].to_numpy())


def test_a_frame_fit_records_its_feature_names_and_matches_columns_by_name():
    frame, y = linear_rows(60)
    est = small(max_steps=2, decoder="greedy").fit(frame, y)
    assert est.n_features_in_ == 3 and list(est.feature_names_in_) == ["a", "b", "kind"]
    before = est.predict(frame)
    shuffled = frame[["kind", "b", "a"]].assign(extra=0.0)  # order and extra columns ignored
    np.testing.assert_array_equal(est.predict(shuffled), before)


def test_feature_columns_pick_the_recorded_features():
    frame, y = linear_rows(60)
    est = small(max_steps=2, decoder="greedy", feature_columns=["a", "b"])
    est.fit(frame.assign(target=y), y)
    assert list(est.feature_names_in_) == ["a", "b"]
    est.predict(frame[["a", "b"]])  # the unused columns need not come back


def test_sklearn_style_errors_for_bad_arrays():
    from scipy import sparse

    frame, y = linear_rows(20)
    numeric = frame[["a", "b"]].to_numpy()
    est = small(max_steps=1)
    with pytest.raises(TypeError, match="Sparse data was passed"):
        est.fit(sparse.csr_matrix(numeric), y)
    with pytest.raises(DataError, match=r"Expected 2D array"):
        est.fit(numeric[:, 0], y)
    with pytest.raises(DataError, match="pass a DataFrame for text categories"):
        est.fit(frame.to_numpy(), y)
    with pytest.raises(DataError, match=r"column 'x0', .*index label 3\) is missing \(NaN"):
        refuse = small(max_steps=1, tabular_options={**est.tabular_options, "nan_policy": "error"})
        refuse.fit(np.where(np.arange(20)[:, None] == 3, np.nan, numeric), y)
    with pytest.raises(DataError, match="1 sample"):
        est.fit(numeric[:1], y[:1])
    with pytest.raises(DataError, match=r"found 1 row\(s\)"):
        est.fit(frame[:1], y[:1])
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(numeric, None)


def test_recorded_inputs_survive_save_and_load(tmp_path):
    frame, y = linear_rows(60)
    est = small(max_steps=2, decoder="greedy").fit(frame, y)
    est.save(tmp_path / "m")
    loaded = DecodingRegressor.load(tmp_path / "m")
    assert loaded.n_features_in_ == 3 and list(loaded.feature_names_in_) == ["a", "b", "kind"]
    np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))
