"""The paired bootstrap's verdicts on cases whose answer is known."""

import numpy as np
import pytest

from decoreg.bench.bootstrap import paired_rmse_difference


def test_a_method_that_is_better_on_every_row_holds():
    """A errs by 0.1 on every row, B by 1.0: every resample gives RMSE(A) - RMSE(B) = -0.9."""
    y = np.zeros(50)
    result = paired_rmse_difference(y, y + 0.1, y + 1.0)
    assert result.difference == pytest.approx(-0.9)
    assert result.low == pytest.approx(-0.9) and result.high == pytest.approx(-0.9)
    assert result.verdict == "held"
    assert paired_rmse_difference(y, y + 1.0, y + 0.1).verdict == "did not hold"


def test_methods_that_differ_only_by_noise_are_not_separable():
    """A and B swap which one errs on alternate rows: same RMSE, interval around 0."""
    y = np.zeros(200)
    errors = np.where(np.arange(200) % 2 == 0, 1.0, 0.0)
    result = paired_rmse_difference(y, y + errors, y + errors[::-1])
    assert result.difference == pytest.approx(0.0)
    assert result.low < 0 < result.high and result.verdict == "not separable"


def test_squared_errors_are_averaged_over_seeds_per_row():
    """Two seeds erring by 0 and 2 on each row: mean squared error 2 per row, RMSE sqrt(2)."""
    y = np.zeros(10)
    two_seeds = np.stack([y, y + 2.0])
    result = paired_rmse_difference(y, two_seeds, y)
    assert result.difference == pytest.approx(np.sqrt(2.0))
    with pytest.raises(ValueError, match="3 predictions per seed for 10 rows"):
        paired_rmse_difference(y, np.zeros(3), y)
