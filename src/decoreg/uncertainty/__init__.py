"""Uncertainty as a measured output: predictive distributions, their scores, conformal intervals.

Modules:
    distribution: `Predictive`, each row's grid probabilities or samples, with mean, median,
        quantile and cdf.
    metrics: CRPS (exact for a grid), NLL, interval coverage and width, PIT.
    conformal: split-conformal intervals (CQR on the model's own quantiles).
    plots: PIT histogram, coverage-vs-nominal reliability and interval plots (matplotlib).
"""

from decoreg.uncertainty.conformal import (
    CalibrationRows,
    conformal_interval,
    cqr_margin,
    required_rows,
)
from decoreg.uncertainty.distribution import Predictive, check_coverage
from decoreg.uncertainty.metrics import crps, interval_scores, nll, pit, uncertainty_report

__all__ = [
    "CalibrationRows",
    "Predictive",
    "check_coverage",
    "conformal_interval",
    "cqr_margin",
    "crps",
    "interval_scores",
    "nll",
    "pit",
    "required_rows",
    "uncertainty_report",
]
