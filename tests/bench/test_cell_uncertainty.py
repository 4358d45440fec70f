"""A cell's distribution scores, from distributions whose answers are derived by hand."""

import math

import numpy as np
import pytest

from decoreg.bench.cell_uncertainty import baseline_interval_scores, distribution_scores
from decoreg.uncertainty import Predictive
from decoreg.uncertainty.plots import NOMINAL_LEVELS


def _uniform_grid(rows: int) -> Predictive:
    """Each row uniform on {1, 2, 3, 4}: its 5% and 95% quantiles are 1 and 4."""
    return Predictive.from_grid(np.array([1.0, 2, 3, 4]), np.full((rows, 4), 0.25))


def test_scores_before_and_after_calibration_by_hand():
    """Targets 2, 4.4, 5 against uniform {1..4}.

    CRPS = mean |x - y| - 1/2 mean |x - x'| with mean |x - x'| = 20 / 16 = 1.25:
    y = 2: 1 - 0.625 = 0.375; y = 4.4: 1.9 - 0.625 = 1.275; y = 5: 2.5 - 0.625 = 1.875;
    mean 1.175. NLL: the nearest grid values (2, 4, 4) each have p = 1/4: log 4.
    Before: [1, 4] covers only y = 2 (1/3), width 3. Calibration: 9 rows, k = ceil(10 * 0.9)
    = 9, so the margin is the largest score max(1 - y, y - 4): 0.5 (y = 4.5; y = 2 scores
    -1). After: [0.5, 4.5] covers 2 and 4.4 (2/3), width 4.
    """
    y_cal = np.array([2.0] * 8 + [4.5])
    result = distribution_scores(_uniform_grid(3), np.array([2.0, 4.4, 5.0]), _uniform_grid(9),
                                 y_cal)  # fmt: skip
    scores = result.scores
    assert scores["crps"] == pytest.approx(1.175)
    assert scores["nll"] == pytest.approx(math.log(4))
    assert scores["coverage_90"] == pytest.approx(1 / 3) and scores["width_90"] == 3.0
    assert scores["conformal_coverage_90"] == pytest.approx(2 / 3)
    assert scores["conformal_width_90"] == pytest.approx(4.0)
    np.testing.assert_allclose(result.columns["conformal_lower"], 0.5)
    np.testing.assert_allclose(result.columns["conformal_upper"], 4.5)
    np.testing.assert_array_equal(result.columns["lower"], 1.0)
    # F(y-) and F(y): y = 5 is above the support, PIT 1 exactly
    assert result.columns["pit"][2] == 1.0 and 0.25 <= result.columns["pit"][0] <= 0.5
    assert len(result.reliability) == len(NOMINAL_LEVELS)
    row = result.to_row()
    assert row["coverage_level"] == 0.9 and row["reliability"]["coverage"] == result.reliability
    assert "note" not in row


def test_too_few_validation_rows_leave_after_empty_and_say_why():
    result = distribution_scores(_uniform_grid(3), np.array([2.0, 4.4, 5.0]), _uniform_grid(8),
                                 np.full(8, 2.0))  # fmt: skip
    assert result.scores["conformal_coverage_90"] is None
    assert result.scores["coverage_90"] == pytest.approx(1 / 3)
    assert "needs at least 9" in result.note and "conformal_lower" not in result.columns
    assert distribution_scores(_uniform_grid(1), [2.0], None, None).note.endswith(
        "no validation rows to calibrate on"
    )


def test_samples_have_no_nll_and_baselines_only_an_interval():
    samples = Predictive.from_samples(np.array([[0.0, 1.0], [0.0, 1.0]]))
    result = distribution_scores(samples, np.array([0.0, 1.0]), None, None)
    # CRPS of {0, 1} at 0: mean |x| = 0.5, minus 1/2 * mean |x - x'| = 0.25: 0.25 (both rows)
    assert result.scores["crps"] == pytest.approx(0.25) and result.scores["nll"] is None
    intervals = np.array([[0.0, 2.0], [0.0, 1.0], [3.0, 4.0]])
    baseline = baseline_interval_scores(intervals, np.array([1.0, 1.0, 1.0]))
    assert baseline.scores["conformal_coverage_90"] == pytest.approx(2 / 3)
    assert baseline.scores["conformal_width_90"] == pytest.approx(4 / 3)
    assert baseline.scores["crps"] is None and baseline.scores["coverage_90"] is None
    assert "reliability" not in baseline.to_row()
