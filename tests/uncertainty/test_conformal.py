import math

import numpy as np
import pytest

from decoreg.errors import ConfigError
from decoreg.uncertainty import Predictive, conformal_interval, cqr_margin, required_rows
from decoreg.uncertainty.conformal import conformal_rank


@pytest.mark.parametrize(("coverage", "rows"), [(0.9, 9), (0.95, 19), (0.8, 4), (0.5, 1)])
def test_the_rows_a_coverage_needs(coverage, rows):
    """n >= ceil(1 / alpha) - 1 makes k = ceil((n + 1)(1 - alpha)) <= n."""
    assert required_rows(coverage) == rows
    assert conformal_rank(rows, coverage) <= rows
    if rows > 1:
        with pytest.raises(ConfigError, match=f"needs at least {rows}"):
            conformal_rank(rows - 1, coverage)


def test_margin_is_the_kth_smallest_score():
    """Intervals [0, 0] and y = 1..10 give scores 1..10; n = 10.

    90%: k = ceil(11 * 0.9) = 10 -> 10.  80%: k = ceil(11 * 0.8) = 9 -> 9.
    """
    zeros, y = np.zeros(10), np.arange(1.0, 11.0)
    assert cqr_margin(zeros, zeros, y, 0.9) == 10.0
    assert cqr_margin(zeros, zeros, y, 0.8) == 9.0
    # [y - 2, y + 3] scores max(-2, -3) = -2 in every row: too wide intervals are narrowed
    assert cqr_margin(y - 2, y + 3, y, 0.8) == -2.0


def gbm_quantile_models(X, y, alphas):
    from sklearn.ensemble import GradientBoostingRegressor

    return [
        GradientBoostingRegressor(loss="quantile", alpha=a, n_estimators=30, random_state=0).fit(
            X, y
        )
        for a in alphas
    ]


def test_cqr_agrees_with_mapie_on_prefit_quantile_models():
    """MAPIE's ConformalizedQuantileRegressor around the same prefit quantile models and the
    same calibration rows (its symmetric correction, the one CQR of Romano et al.)."""
    mapie = pytest.importorskip("mapie.regression")
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(1300, 3))
    y = X[:, 0] ** 2 + X[:, 1] + rng.normal(scale=0.3 + 0.3 * np.abs(X[:, 2]), size=len(X))
    train, cal, test = slice(0, 600), slice(600, 1100), slice(1100, None)
    for coverage in (0.9, 0.8):
        alpha = 1 - coverage
        lo, hi, median = gbm_quantile_models(X[train], y[train], (alpha / 2, 1 - alpha / 2, 0.5))
        theirs = mapie.ConformalizedQuantileRegressor(
            [lo, hi, median], confidence_level=coverage, prefit=True
        ).conformalize(X[cal], y[cal])
        _, bounds = theirs.predict_interval(X[test], symmetric_correction=True)
        margin = cqr_margin(lo.predict(X[cal]), hi.predict(X[cal]), y[cal], coverage)
        ours = np.stack([lo.predict(X[test]) - margin, hi.predict(X[test]) + margin], axis=1)
        np.testing.assert_allclose(ours, bounds[:, :, 0], rtol=0, atol=1e-9)


def test_conformal_interval_agrees_with_mapie_on_a_models_own_quantiles():
    """The estimator's path: quantiles read from one distribution per row; MAPIE gets them
    through prefit stand-ins that return the precomputed quantile of the row index."""
    mapie = pytest.importorskip("mapie.regression")

    class Precomputed:
        def __init__(self, table):
            self.table, self.n_features_in_ = table, 1

        def fit(self, X, y):
            return self

        def predict(self, X):
            return self.table[np.asarray(X, dtype=int)[:, 0]]

    rng = np.random.default_rng(1)
    n_cal, n_test = 300, 100
    centers = rng.normal(size=n_cal + n_test)
    samples = centers[:, None] + 0.4 * rng.normal(size=(n_cal + n_test, 64))
    y = centers + rng.normal(size=n_cal + n_test)
    pred = Predictive.from_samples(samples)
    cal, test = pred.take(np.arange(n_cal)), pred.take(np.arange(n_cal, n_cal + n_test))
    ours = conformal_interval(test, cal, y[:n_cal], 0.9)
    lower, upper = pred.interval(0.9)
    stand_ins = [Precomputed(lower), Precomputed(upper), Precomputed(pred.median())]
    index = np.arange(n_cal + n_test)[:, None]
    theirs = mapie.ConformalizedQuantileRegressor(stand_ins, confidence_level=0.9, prefit=True)
    theirs.conformalize(index[:n_cal], y[:n_cal])
    _, bounds = theirs.predict_interval(index[n_cal:], symmetric_correction=True)
    np.testing.assert_allclose(ours, bounds[:, :, 0], rtol=0, atol=1e-9)


def test_conformal_coverage_holds_where_the_models_intervals_are_too_narrow():
    """Truth y ~ N(mu(x), 1); the model's distribution is N(mu(x), 0.5^2), so its own 90%
    interval covers P(|Z| < 1.645 / 2) = 0.59. Over R draws of n calibration and m test rows,
    CQR's mean coverage is k / (n + 1) = 181 / 201 (exchangeable rows); each draw's coverage
    has variance ~ c(1 - c) / (n + 2) from the calibration rows plus c(1 - c) / m from the test
    rows, so the mean of R draws lies within 4 of its standard errors."""
    rng = np.random.default_rng(2)
    n, m, draws, samples = 200, 200, 120, 40
    before, after = [], []
    for _ in range(draws):
        mu = rng.uniform(-3, 3, size=n + m)
        y = mu + rng.normal(size=n + m)
        pred = Predictive.from_samples(mu[:, None] + 0.5 * rng.normal(size=(n + m, samples)))
        cal, test = pred.take(np.arange(n)), pred.take(np.arange(n, n + m))
        lower, upper = test.interval(0.9)
        before.append(np.mean((lower <= y[n:]) & (y[n:] <= upper)))
        bounds = conformal_interval(test, cal, y[:n], 0.9)
        after.append(np.mean((bounds[:, 0] <= y[n:]) & (y[n:] <= bounds[:, 1])))
    expected = math.ceil((n + 1) * 0.9) / (n + 1)
    c = expected
    error = math.sqrt(c * (1 - c) / (n + 2) + c * (1 - c) / m) / math.sqrt(draws)
    assert abs(np.mean(after) - expected) < 4 * error
    assert np.mean(before) < 0.65


def test_too_few_calibration_rows_say_how_many_are_needed():
    pred = Predictive.from_samples(np.zeros((5, 3)))
    with pytest.raises(ConfigError, match=r"5 calibration row.*needs at least 9"):
        conformal_interval(pred, pred, np.zeros(5), 0.9)
    with pytest.raises(ConfigError, match="coverage must be strictly between"):
        conformal_interval(pred, pred, np.zeros(5), 1.2)
