"""The default grid: all ten digits for negative or fractional targets, the paper's integers
otherwise (scaled into 0..9 when they exceed it)."""

from __future__ import annotations

import numpy as np
import pytest

from decoreg.causal_lm.build import LMOptions, choose_scaler, default_grid, scaling_policy


def resolved(y, **options):
    y = np.asarray(y, dtype=np.float64)
    opts = LMOptions(**options)
    grid = default_grid(y, opts)
    return grid, choose_scaler(y, grid, scaling_policy(y, opts))


@pytest.mark.parametrize(
    ("targets", "grid"),
    [([1, 3, 5], (1, 2, 3, 4, 5)), ([0, 9], tuple(range(10))), ([4, 4, 6], (4, 5, 6))],
)
def test_integer_targets_within_the_digits_keep_the_papers_grid_unscaled(targets, grid):
    got, scaler = resolved(targets)
    assert got == tuple(float(v) for v in grid) and scaler.is_identity


@pytest.mark.parametrize(
    ("targets", "lo", "hi"),
    [
        ([-2.7, 0.1, 2.8], -2.7, 2.8),  # the sentiment case: used to get the grid 0..3
        ([-20.0, 21.0], -20.0, 21.0),  # negative integers
        ([1.5, 2.25, 3.5], 1.5, 3.5),  # fractional inside 0..9
    ],
)
def test_other_targets_are_scaled_onto_all_ten_digits(targets, lo, hi):
    """The scaler maps the training range [lo, hi] onto [0, 9] exactly: 9 / (hi - lo) per unit."""
    grid, scaler = resolved(targets)
    assert grid == tuple(float(v) for v in range(10))
    assert scaler.scale == pytest.approx(9.0 / (hi - lo))
    np.testing.assert_allclose(scaler.transform(np.array([lo, hi])), [0.0, 9.0], atol=1e-12)


def test_a_given_grid_and_never_keep_their_meaning():
    grid, scaler = resolved([1.5, 3.5], grid=(1.0, 2.0, 3.0, 4.0))
    assert grid == (1.0, 2.0, 3.0, 4.0) and scaler.is_identity  # inside the user's grid
    grid, scaler = resolved([1.5, 3.5], scale_targets="never")
    assert grid == tuple(float(v) for v in range(10)) and scaler.is_identity


def test_non_negative_integers_above_nine_keep_the_papers_integers_scaled_into_them():
    """Complexity 1-16: the grid 1..9, and 1 -> 1, 16 -> 9 (scale 8 / 15), as before."""
    grid, scaler = resolved([1, 4, 16])
    assert grid == tuple(float(v) for v in range(1, 10))
    np.testing.assert_allclose(scaler.transform(np.array([1.0, 16.0])), [1.0, 9.0], atol=1e-12)
