"""Samples -> one number per row: the rule both model families aggregate samples by.

A sampling decoder writes S numbers per row; `aggregate` turns the [B, S] array into [B]
predictions. A non-finite sample (an unparseable output, a NaN or inf token) is unusable and
skipped; a row with no usable sample gets NaN, which the caller counts as unparsed.

    mean: the mean of the usable samples.
    median: the 0.5 quantile, by the quantile rule below.
    quantile: the q quantile by the inverted empirical CDF (numpy's `inverted_cdf`): the
        smallest sample x with #{samples <= x} >= q * n. For q in (0, 1] that is the
        ceil(q * n)-th smallest; q = 0 gives the smallest.
    clipped-mean, clipped-median: the same after clipping each sample into `bounds` (the
        tabular family's target range widened by its clip margin).

Why the inverted CDF rather than linear interpolation: it always returns a number the model
actually wrote (interpolation can land between two samples on a value no sample has, e.g. a
number the grammar cannot write), it is the same rule as the grid decoders' `grid-quantile`
(the smallest grid value whose cumulative probability reaches q), and it commutes with any
increasing map of the samples, so the quantile of the raw-scale numbers is the raw-scale image
of the target-space quantile. For the same reason `median` is the 0.5 quantile, not the
midpoint of the two middle samples: with samples [1, 2, 3, 4] the median is 2.
"""

from __future__ import annotations

import numpy as np

from decoreg.errors import ConfigError

AGGREGATES = ("mean", "median", "clipped-mean", "clipped-median", "quantile")
QUANTILE_METHOD = "inverted_cdf"
QUANTILE_SLACK = 1e-7
"""`weighted_quantile` takes the first value whose cumulative probability reaches q less this:
it keeps an exact boundary (q = 0.5 with p = (0.5, 0.5)) on the lower value despite rounding."""


def sample_quantile(
    samples: np.ndarray,  # [B, S], NaN = unusable; every row has a usable sample
    q: float,
) -> np.ndarray:  # [B]
    """The q quantile of each row's usable samples by the inverted empirical CDF.

    Rows without a NaN take numpy's `quantile` (the same numbers as `nanquantile`, which
    loops over rows in Python and is ~10x slower); only rows with one take `nanquantile`.
    """
    if not 0.0 <= q <= 1.0:
        raise ConfigError(f"quantile must be in [0, 1], got {q}")
    samples = np.asarray(samples, dtype=np.float64)
    gaps = np.isnan(samples).any(axis=1)
    out = np.empty(len(samples))
    out[~gaps] = np.quantile(samples[~gaps], q, axis=1, method=QUANTILE_METHOD)
    if gaps.any():
        out[gaps] = np.nanquantile(samples[gaps], q, axis=1, method=QUANTILE_METHOD)
    return out


def weighted_quantile(
    values: np.ndarray,  # [B, K], each row ascending
    probs: np.ndarray,  # [B, K], each row summing to 1
    q: float,
) -> np.ndarray:  # [B]
    """The q quantile of each row's discrete distribution: the smallest value whose cumulative
    probability reaches q (less `QUANTILE_SLACK`), the inverted CDF of a weighted support.

    The grid decoders' rule (`decoreg.causal_lm.grid.grid_quantile`) and that of
    `decoreg.uncertainty.Predictive` for grid distributions.
    """
    if not 0.0 <= q <= 1.0:
        raise ConfigError(f"quantile must be in [0, 1], got {q}")
    cumulative = np.cumsum(probs, axis=1)
    index = np.minimum((cumulative < q - QUANTILE_SLACK).sum(axis=1), values.shape[1] - 1)
    return np.take_along_axis(values, index[:, None], axis=1)[:, 0]


def aggregate(
    samples: np.ndarray,  # [B, S] sample values; non-finite = unusable
    statistic: str,
    *,
    quantile: float = 0.5,
    bounds: tuple[float, float] | None = None,
) -> np.ndarray:  # [B] float64, NaN where a row has no usable sample
    """Aggregate each row's usable samples (see the module docstring for each statistic).

    Args:
        samples: [B, S] numbers; NaN and +-inf are skipped.
        statistic: One of `AGGREGATES`.
        quantile: The quantile for statistic "quantile", in [0, 1].
        bounds: (low, high) the clipped statistics clip samples into; required by them.
    """
    if statistic not in AGGREGATES:
        raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {statistic!r}")
    samples = np.asarray(samples, dtype=np.float64)
    samples = np.where(np.isfinite(samples), samples, np.nan)
    if statistic.startswith("clipped-"):
        if bounds is None:
            raise ConfigError(f"aggregate {statistic!r} needs the bounds to clip samples into")
        samples = np.clip(samples, *bounds)
    out = np.full(len(samples), np.nan)
    usable = ~np.isnan(samples).all(axis=1)
    if not usable.any():
        return out
    kept = samples[usable]
    if statistic.endswith("mean"):
        out[usable] = np.nanmean(kept, axis=1)
    else:
        out[usable] = sample_quantile(kept, 0.5 if statistic.endswith("median") else quantile)
    return out
