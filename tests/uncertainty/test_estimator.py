"""The estimator's uncertainty methods on both families (small models, few steps)."""

import numpy as np
import pytest

from decoreg.errors import ConfigError, DataError
from decoreg.estimator import DecodingRegressor
from tests.conftest import tiny_lm_estimator as tiny
from tests.tabular.test_estimator import linear_rows, small

QUANTILES = (0.05, 0.3, 0.5, 0.95)


@pytest.fixture(scope="module")
def tabular():
    frame, y = linear_rows(n=200)
    return small(max_steps=30).fit(frame, y), frame, y


def test_tabular_distribution_is_the_samples_on_the_users_scale(tabular):
    est, frame, y = tabular
    pred = est.predict_distribution(frame.iloc[:12])
    assert pred.kind == "samples" and pred.values.shape == (12, 16)
    margin = 0.1 * (y.max() - y.min())  # the target transform's clip margin
    assert pred.values.min() >= y.min() - margin - 1e-9
    assert pred.values.max() <= y.max() + margin + 1e-9
    bands = est.predict_quantiles(frame.iloc[:12], QUANTILES)
    for column, q in enumerate(QUANTILES):
        np.testing.assert_array_equal(pred.quantile(q), bands[:, column])


def test_tabular_intervals_calibrate_on_the_validation_split(tabular):
    est, frame, _ = tabular
    assert est.calibration_.origin == "the validation split held out by fit"
    assert len(est.calibration_) == 20
    intervals = est.predict_interval(frame.iloc[:30], coverage=0.9)
    assert intervals.shape == (30, 2) and np.all(intervals[:, 0] <= intervals[:, 1])
    lower, upper = est.predict_distribution(frame.iloc[:30]).interval(0.9)
    widening = intervals[:, 0] - lower  # one conformal margin for every row
    np.testing.assert_allclose(widening, widening[0])
    np.testing.assert_allclose(upper - intervals[:, 1], widening)


def test_evaluate_adds_distribution_scores(tabular):
    est, frame, y = tabular
    report = est.evaluate(frame.iloc[:40], y[:40])
    assert {"rmse", "crps", "coverage_90", "width_90", "coverage_50"} <= set(report)
    assert "nll" not in report  # samples give no probabilities
    assert 0 <= report["coverage_50"] <= report["coverage_90"] <= 1


def test_bad_interval_requests_get_one_clear_message_each(tabular):
    est, frame, y = tabular
    with pytest.raises(ConfigError, match="coverage must be strictly between 0 and 1"):
        est.predict_interval(frame.iloc[:3], coverage=1.5)
    other = frame.rename(columns={"a": "alpha"})
    with pytest.raises(DataError, match=r"calibration rows: no column\(s\) \['a'\]"):
        est.calibrate(other.iloc[:20], y[:20])
    small_set = small(max_steps=30).fit(frame, y).calibrate(frame.iloc[:8], y[:8])
    with pytest.raises(ConfigError, match=r"8 calibration row.*needs at least 9"):
        small_set.predict_interval(frame.iloc[:3], coverage=0.9)
    assert small_set.predict_interval(frame.iloc[:3], coverage=0.8).shape == (3, 2)
    unheld = small(max_steps=0).fit(frame, y)
    with pytest.raises(ConfigError, match=r"no calibration rows.*calibrate\(X_cal, y_cal\)"):
        unheld.predict_interval(frame.iloc[:3])


def test_a_head_objective_gives_no_distribution():
    frame, y = linear_rows(n=60)
    est = small(objective="pointwise-mse", max_steps=5).fit(frame, y)
    with pytest.raises(ConfigError, match=r"'head-pointwise'.*not a distribution.*head objective"):
        est.predict_interval(frame.iloc[:3])
    with pytest.raises(ConfigError, match="not a distribution"):
        est.predict_distribution(frame.iloc[:3])
    assert "crps" not in est.evaluate(frame, y)


TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(24)]
TARGETS = np.array([40.0 if i % 2 else 20.0 for i in range(24)])  # scaled onto the grid


def test_causal_lm_grid_distribution_and_intervals(tiny_model_dir, tmp_path):
    est = tiny(tiny_model_dir).fit(TEXTS, TARGETS)
    pred = est.predict_distribution(TEXTS[:6])
    assert pred.kind == "grid"
    grid = np.sort(est.model_.from_target_space(np.asarray(est.model_.spec.grid)))
    np.testing.assert_allclose(pred.values[0], grid, rtol=1e-6)  # the grid, on the raw scale
    np.testing.assert_allclose(pred.weights.sum(axis=1), 1.0)
    bands = est.predict_quantiles(TEXTS[:6], QUANTILES)
    for column, q in enumerate(QUANTILES):
        np.testing.assert_array_equal(pred.quantile(q), bands[:, column])
    report = est.evaluate(TEXTS, TARGETS)
    assert {"crps", "nll", "coverage_90"} <= set(report)
    est.calibrate(TEXTS[:12], TARGETS[:12])
    intervals = est.predict_interval(TEXTS[12:], coverage=0.8)
    assert intervals.shape == (12, 2)
    loaded = DecodingRegressor.load(est.save(tmp_path / "model"))  # the texts are kept
    assert loaded.calibration_.inputs == est.calibration_.inputs
    np.testing.assert_array_equal(loaded.predict_interval(TEXTS[12:], coverage=0.8), intervals)


def test_causal_lm_samples_give_the_quantiles_of_predict_quantiles(tiny_model_dir):
    est = tiny(tiny_model_dir, max_steps=0, decoder="sample-mean", num_samples=6)
    est.fit(TEXTS, TARGETS)
    pred = est.predict_distribution(TEXTS[:5])
    assert pred.kind == "samples" and pred.values.shape == (5, 6)
    bands = est.predict_quantiles(TEXTS[:5], QUANTILES)
    for column, q in enumerate(QUANTILES):
        np.testing.assert_array_equal(pred.quantile(q), bands[:, column])


def test_calibration_rows_are_saved_with_the_model(tabular, tmp_path):
    est, frame, _ = tabular
    est.save(tmp_path / "model")
    loaded = DecodingRegressor.load(tmp_path / "model")
    assert len(loaded.calibration_) == len(est.calibration_)
    np.testing.assert_array_equal(
        loaded.predict_interval(frame.iloc[:10]), est.predict_interval(frame.iloc[:10])
    )
