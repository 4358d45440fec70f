"""Scores of predictive distributions: CRPS, negative log-likelihood, interval coverage, PIT.

All take a `Predictive` (N rows) and the N true targets on the same scale.

CRPS(F, y) = integral (F(t) - 1{t >= y})^2 dt. For a discrete distribution with values x_i and
probabilities p_i it is exactly

    CRPS(F, y) = sum_i p_i |x_i - y| - 1/2 sum_ij p_i p_j |x_i - x_j|,

which `crps` computes in O(K log K) per row (the pair sum from the sorted values and running
sums). A grid distribution is scored exactly. Samples are scored as the empirical distribution
of the usable samples (p_i = 1/S): the standard estimator, which equals the exact CRPS of the
empirical CDF. It is biased upward by the spread term's S^2 denominator; `fair=True` divides
that term by S(S - 1) instead (the "fair", unbiased estimator of the CRPS of the distribution
the samples come from).
"""

from __future__ import annotations

import numpy as np

from decoreg.uncertainty.distribution import Predictive

INTERVAL_LEVELS = (0.5, 0.8, 0.9, 0.95)
"""The central intervals `uncertainty_report` scores: their coverage and mean width."""


def crps(pred: Predictive, y, *, fair: bool = False) -> np.ndarray:
    """[N] the CRPS of each row's distribution at its target (lower is better; NaN where a
    row has no distribution).

    Args:
        pred: The distributions.
        y: [N] targets.
        fair: For samples, the unbiased ("fair") estimator: the spread term divided by
            S(S - 1) rather than S^2. Grid distributions are always scored exactly.
    """
    y = _targets(pred, y)
    values = np.nan_to_num(pred.values)
    weights = pred.weights
    error = np.sum(weights * np.abs(values - y[:, None]), axis=1)
    order = np.argsort(values, axis=1, kind="stable")
    x = np.take_along_axis(values, order, axis=1)
    p = np.take_along_axis(weights, order, axis=1)
    # sum_ij p_i p_j |x_i - x_j| = 2 sum_j p_j (x_j C_{j-1} - S_{j-1}) over the sorted support,
    # C and S the running sums of p and p * x before j.
    before_p = np.cumsum(p, axis=1) - p
    before_px = np.cumsum(p * x, axis=1) - p * x
    spread = 2.0 * np.sum(p * (x * before_p - before_px), axis=1)
    if fair and pred.kind == "samples":
        n = np.sum(weights > 0, axis=1).astype(np.float64)
        spread = np.where(n > 1, spread * n / np.maximum(n - 1, 1), 0.0)
    return np.where(pred.usable, error - 0.5 * spread, np.nan)


def nll(pred: Predictive, y) -> np.ndarray:
    """[N] -log p(the grid value nearest y): the negative log-likelihood of a grid
    distribution, read at the grid value closest to the target (ties: the lower one).

    It is the log-loss of the discrete distribution the model writes, not of a density: it
    does not divide by the grid spacing, so it compares models on the same grid. A value of
    probability 0 gives inf. Samples give no probabilities: a ValueError.
    """
    if pred.kind != "grid":
        raise ValueError("the negative log-likelihood needs grid probabilities, not samples")
    y = _targets(pred, y)
    nearest = np.argmin(np.abs(pred.values - y[:, None]), axis=1)
    prob = np.take_along_axis(pred.weights, nearest[:, None], axis=1)[:, 0]
    with np.errstate(divide="ignore"):
        return -np.log(prob)


def interval_scores(lower, upper, y) -> tuple[float, float]:
    """(empirical coverage, mean width) of intervals [lower, upper] (ends included)."""
    lower, upper, y = (np.asarray(a, dtype=np.float64) for a in (lower, upper, y))
    covered = (lower <= y) & (y <= upper)
    return float(np.mean(covered)), float(np.mean(upper - lower))


def pit(pred: Predictive, y, *, seed: int = 0) -> np.ndarray:
    """[N] probability integral transform values F(y), randomized where F jumps at y.

    For a discrete distribution u = F(y-) + V (F(y) - F(y-)), V ~ U(0, 1) seeded by `seed`:
    uniform on [0, 1] when the forecasts are calibrated (a plain F(y) piles up on the jumps).
    """
    y = _targets(pred, y)
    low, high = pred.cdf_left(y), pred.cdf(y)
    return low + np.random.default_rng(seed).uniform(size=len(y)) * (high - low)


def uncertainty_report(pred: Predictive, y) -> dict[str, float]:
    """Mean CRPS, mean NLL (grid distributions only), and the coverage and mean width of the
    central (uncalibrated) intervals at each of `INTERVAL_LEVELS`, named e.g. "coverage_90"
    and "width_90"."""
    y = _targets(pred, y)
    report = {"crps": float(np.nanmean(crps(pred, y)))}
    if pred.kind == "grid":
        report["nll"] = float(np.mean(nll(pred, y)))
    for level in INTERVAL_LEVELS:
        coverage, width = interval_scores(*pred.interval(level), y)
        name = f"{round(level * 100):d}"
        report[f"coverage_{name}"], report[f"width_{name}"] = coverage, width
    return report


def _targets(pred: Predictive, y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) != len(pred):
        raise ValueError(f"{len(y)} targets for {len(pred)} distributions")
    return y
