"""MAPIE's conformalized gradient-boosting baselines: coverage on data whose noise is known."""

import numpy as np
import pandas as pd

from decoreg.bench.baselines import BASELINES, ConformalBoostingFeatures, ConformalBoostingTfidf
from decoreg.datasets import DATASETS
from decoreg.uncertainty import interval_scores


def _friedman_like(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """y = 3 * x1 + sin(4 * x2) + N(0, 1): the best 90% interval is +-1.645 wide 3.29."""
    info = DATASETS["concrete"]
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.uniform(0, 1, n) for c in info.feature_columns})
    first, second = info.feature_columns[:2]
    y = 3 * frame[first] + np.sin(4 * frame[second]) + rng.normal(0, 1, n)
    return frame, y.to_numpy()


def test_conformal_boosting_covers_90_percent_of_new_rows():
    info = DATASETS["concrete"]
    frame, y = _friedman_like(3000, seed=0)
    train, calibration, test = slice(0, 500), slice(500, 1000), slice(1000, 3000)
    model = ConformalBoostingFeatures(info, 0).fit(frame.iloc[train], y[train])
    model.conformalize(frame.iloc[calibration], y[calibration])
    intervals = model.predict_interval(frame.iloc[test])
    coverage, width = interval_scores(intervals[:, 0], intervals[:, 1], y[test])
    # split conformal: coverage >= 0.9 in expectation, its spread over calibration draws
    # sqrt(0.9 * 0.1 / 500) = 0.013; the width cannot beat the noise's own 3.29
    assert 0.86 <= coverage <= 0.95
    assert 3.0 < width < 5.0
    point = model.predict(frame.iloc[test])
    together = model.predict_with_interval(frame.iloc[test])  # what a bench cell reads
    np.testing.assert_array_equal(together[0], point)
    np.testing.assert_array_equal(together[1], intervals)
    assert np.all((intervals[:, 0] <= point + 1e-9) | (intervals[:, 1] >= point - 1e-9))
    assert np.sqrt(np.mean((point - y[test]) ** 2)) < 1.3  # the noise alone gives 1.0


def test_conformal_boosting_on_tfidf_reads_the_words():
    info = DATASETS["clothing-reviews"]
    rng = np.random.default_rng(1)
    good = rng.integers(0, 2, 600).astype(bool)
    texts = [f"{'lovely perfect' if g else 'awful broken'} dress {i % 7}" for i, g in
             enumerate(good)]  # fmt: skip
    y = np.where(good, 4.5, 1.5) + rng.normal(0, 0.3, 600)
    frame = pd.DataFrame({info.text_column: texts})
    model = ConformalBoostingTfidf(info, 0).fit(frame.iloc[:300], y[:300])
    intervals = model.conformalize(frame.iloc[300:400], y[300:400]).predict_interval(frame[400:])
    coverage, width = interval_scores(intervals[:, 0], intervals[:, 1], y[400:])
    assert 0.8 <= coverage <= 0.99 and width < 2.0  # the classes are 3.0 apart
    assert BASELINES["gbdt-cqr-tfidf"][3] is ConformalBoostingTfidf
