"""The one sample-aggregation rule of both families, on numbers worked out by hand."""

import numpy as np
import pytest

from decoreg.aggregation import aggregate, sample_quantile
from decoreg.errors import ConfigError


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.0, 1.0), (0.1, 1.0), (0.25, 1.0), (0.26, 2.0), (0.5, 2.0), (0.51, 3.0), (0.75, 3.0),
     (0.9, 4.0), (1.0, 4.0)],
)  # fmt: skip
def test_quantiles_by_the_inverted_cdf(q, expected):
    """Samples [1, 2, 3, 4] (n = 4): the smallest x with #{samples <= x} >= 4q, i.e. the
    ceil(4q)-th smallest: q = 0.25 -> 1st (1); 0.26 -> ceil(1.04) = 2nd (2); 0.5 -> 2nd (2),
    where linear interpolation would give 2.5, a number no sample holds; 0.51 -> 3rd (3)."""
    samples = np.array([[4.0, 2.0, 1.0, 3.0]])  # order does not matter
    assert sample_quantile(samples, q)[0] == expected


def test_median_is_the_half_quantile_and_always_a_sample():
    """[1, 2, 3, 4]: median 2 (not the midpoint 2.5); [5, 1, 3]: median 3."""
    samples = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 1.0, 3.0, np.nan]])
    np.testing.assert_array_equal(aggregate(samples, "median"), [2.0, 3.0])
    np.testing.assert_array_equal(aggregate(samples, "quantile", quantile=0.5), [2.0, 3.0])


def test_unusable_samples_are_skipped():
    """[1, NaN, 3, inf]: the usable samples are 1 and 3, mean 2, median 1 (1st of 2),
    90% quantile ceil(1.8) = 2nd, 3. A row of NaN and -inf has no usable sample: NaN."""
    samples = np.array([[1.0, np.nan, 3.0, np.inf], [np.nan, -np.inf, np.nan, np.nan]])
    mean = aggregate(samples, "mean")
    assert mean[0] == 2.0 and np.isnan(mean[1])
    assert aggregate(samples, "median")[0] == 1.0
    assert aggregate(samples, "quantile", quantile=0.9)[0] == 3.0


def test_clipped_statistics_clip_first():
    """[-1, 0.2, 0.4, 3] clipped into [0, 1]: [0, 0.2, 0.4, 1]: mean 1.6 / 4 = 0.4, median
    0.2 (2nd of 4). Unclipped the mean is 2.6 / 4 = 0.65."""
    samples = np.array([[-1.0, 0.2, 0.4, 3.0]])
    assert aggregate(samples, "clipped-mean", bounds=(0.0, 1.0))[0] == pytest.approx(0.4)
    assert aggregate(samples, "clipped-median", bounds=(0.0, 1.0))[0] == pytest.approx(0.2)
    assert aggregate(samples, "mean")[0] == pytest.approx(0.65)


def test_the_quantile_commutes_with_an_increasing_map():
    """Target space -> raw scale is increasing: the raw quantile is the mapped quantile."""
    samples = np.random.default_rng(0).normal(size=(5, 17))
    for q in (0.1, 0.5, 0.83):
        np.testing.assert_array_equal(
            sample_quantile(np.exp(3 * samples + 1), q), np.exp(3 * sample_quantile(samples, q) + 1)
        )


@pytest.mark.parametrize(
    ("statistic", "options", "message"),
    [
        ("mode", {}, "aggregate must be one of"),
        ("clipped-mean", {}, "needs the bounds"),
        ("quantile", {"quantile": 1.5}, r"quantile must be in \[0, 1\]"),
    ],
)
def test_bad_options_are_refused(statistic, options, message):
    with pytest.raises(ConfigError, match=message):
        aggregate(np.ones((1, 2)), statistic, **options)
