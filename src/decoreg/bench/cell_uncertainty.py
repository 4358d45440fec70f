"""A cell's distribution scores: CRPS, NLL, and the 90% interval before and after conformal
calibration on the cell's validation rows.

Decoding cells whose decoder gives a distribution (grid-*, sample-*) are scored on the test
rows: CRPS (exact for a grid, the empirical-distribution estimator for samples), NLL (grids
only), the empirical coverage and mean width of the model's own central 90% interval
("before"), and of the split-conformal CQR interval calibrated on the validation rows'
distributions ("after", `decoreg.uncertainty.conformal`), plus the coverage of the model's
central intervals at every nominal level of the reliability plot. Interval baselines (MAPIE)
give only the conformal interval. What a row records is `UncertaintyScores.to_row`; the
per-row columns (PIT values and interval ends) go to the cell's predictions CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from decoreg.bench.baselines import INTERVAL_COVERAGE
from decoreg.errors import ConfigError
from decoreg.uncertainty import Predictive, conformal_interval, crps, interval_scores, nll, pit
from decoreg.uncertainty.plots import NOMINAL_LEVELS, coverage_curve

LEVEL = round(100 * INTERVAL_COVERAGE)
SCORE_NAMES = ("crps", "nll", f"coverage_{LEVEL}", f"width_{LEVEL}",
               f"conformal_coverage_{LEVEL}", f"conformal_width_{LEVEL}")  # fmt: skip
"""The fields of a row's ``uncertainty`` (None where a method does not give one)."""


@dataclass(frozen=True)
class UncertaintyScores:
    """A cell's scores and the per-row columns of its predictions CSV.

    Attributes:
        scores: `SCORE_NAMES` -> value, None where it does not apply.
        reliability: Coverage of the model's central interval at each of `NOMINAL_LEVELS`
            (empty for a baseline).
        columns: Per-row arrays for the CSV: ``pit``, ``lower``/``upper`` (the model's own
            interval) and ``conformal_lower``/``conformal_upper``.
        note: Why a score is missing (e.g. too few validation rows), or None.
    """

    scores: dict[str, float | None]
    reliability: list[float] = field(default_factory=list)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    note: str | None = None

    def to_row(self) -> dict[str, object]:
        row: dict[str, object] = {**self.scores, "coverage_level": INTERVAL_COVERAGE}
        if self.reliability:
            row["reliability"] = {"nominal": list(NOMINAL_LEVELS), "coverage": self.reliability}
        if self.note:
            row["note"] = self.note
        return row


def distribution_scores(
    test: Predictive,
    y_test: np.ndarray,  # [N]
    calibration: Predictive | None,
    y_calibration: np.ndarray | None,  # [n]
) -> UncertaintyScores:
    """The scores of a decoding cell from its test and validation rows' distributions."""
    y_test = np.asarray(y_test, dtype=np.float64)
    lower, upper = test.interval(INTERVAL_COVERAGE)
    coverage, width = interval_scores(lower, upper, y_test)
    scores: dict[str, float | None] = dict.fromkeys(SCORE_NAMES)
    scores.update(
        {
            "crps": float(np.mean(crps(test, y_test))),
            "nll": float(np.mean(nll(test, y_test))) if test.kind == "grid" else None,
            f"coverage_{LEVEL}": coverage,
            f"width_{LEVEL}": width,
        }
    )
    columns = {"pit": pit(test, y_test), "lower": lower, "upper": upper}
    note = None
    try:
        if calibration is None or not len(calibration):
            raise ConfigError("no validation rows to calibrate on")
        conformal = conformal_interval(test, calibration, y_calibration, INTERVAL_COVERAGE)
    except ConfigError as error:  # too few rows: the "after" columns stay empty, and say why
        note = f"no conformal interval: {error}"
    else:
        columns |= interval_columns(conformal)
        scores |= conformal_scores(conformal, y_test)
    return UncertaintyScores(scores, coverage_curve(test, y_test), columns, note)


def baseline_interval_scores(
    intervals: np.ndarray,  # [N, 2] conformal lower, upper
    y_test: np.ndarray,  # [N]
) -> UncertaintyScores:
    """The scores of an interval baseline: its conformal interval only (no distribution, so
    CRPS and NLL stay None; see docs/benchmarks.md on why no CRPS is estimated)."""
    scores: dict[str, float | None] = dict.fromkeys(SCORE_NAMES)
    scores |= conformal_scores(intervals, y_test)
    return UncertaintyScores(scores, columns=interval_columns(intervals))


def conformal_scores(intervals: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    coverage, width = interval_scores(intervals[:, 0], intervals[:, 1], y_test)
    return {f"conformal_coverage_{LEVEL}": coverage, f"conformal_width_{LEVEL}": width}


def interval_columns(intervals: np.ndarray) -> dict[str, np.ndarray]:
    return {"conformal_lower": intervals[:, 0], "conformal_upper": intervals[:, 1]}
