"""Split-conformal intervals: conformalized quantile regression (CQR) on the model's quantiles.

With coverage 1 - alpha, the model's own central interval [q_lo(x), q_hi(x)] (its alpha/2 and
1 - alpha/2 quantiles) is scored on n held-out calibration rows,

    s_i = max(q_lo(x_i) - y_i, y_i - q_hi(x_i)),

and widened on both sides by q_hat, the k-th smallest score with k = ceil((n + 1)(1 - alpha)):
[q_lo(x) - q_hat, q_hi(x) + q_hat]. When calibration and test rows are exchangeable, a new row
is covered with probability at least 1 - alpha (Romano, Patterson and Candes, 2019); q_hat is
negative, narrowing the interval, when the model's intervals are too wide. A finite q_hat needs
k <= n, that is n >= ceil(1 / alpha) - 1 calibration rows (9 for 90%, 19 for 95%).

Why this is written here rather than taken from MAPIE: MAPIE's
`ConformalizedQuantileRegressor(prefit=True)` computes the same thing (its
`symmetric_correction=True`; `tests/uncertainty/test_conformal.py` checks the two agree to
1e-9), but it takes three fitted estimators, each predicting one quantile from X, fixed at one
confidence level when it is built. Here the quantiles of every level come from one decoded
distribution per row, so wrapping them would take adapter estimators over precomputed arrays
and a new MAPIE object per level; and MAPIE reports ill-sorted bounds by calling
`logging.basicConfig`, which configures the root logger of the user's program. What remains is
the ten lines below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decoreg.errors import ConfigError
from decoreg.uncertainty.distribution import Predictive, check_coverage

CALIBRATION_FILE = "calibration.parquet"
_TARGET = "__decoreg_calibration_target__"  # the targets' column beside the inputs' columns
_TEXT = "text"  # the column of text inputs
_K_TOLERANCE = 1e-9  # (n + 1)(1 - alpha) an integer up to rounding rounds to that integer


def required_rows(coverage: float) -> int:
    """The fewest calibration rows with a finite interval at `coverage`: ceil(1 / alpha) - 1."""
    alpha = 1.0 - check_coverage(coverage)
    return max(1, math.ceil(1.0 / alpha - _K_TOLERANCE) - 1)


def conformal_rank(n: int, coverage: float) -> int:
    """k = ceil((n + 1) * coverage): the rank of q_hat among the n sorted scores.

    Raises:
        ConfigError: when k > n (the interval would be infinite), saying how many rows the
            coverage needs.
    """
    check_coverage(coverage)
    k = math.ceil((n + 1) * coverage - _K_TOLERANCE)
    if k > n:
        raise ConfigError(
            f"{n} calibration row(s) are too few for a {coverage:.0%} conformal interval: it "
            f"needs at least {required_rows(coverage)} (n >= ceil(1 / (1 - coverage)) - 1); "
            "calibrate on more rows or ask for a lower coverage"
        )
    return k


def cqr_scores(lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[n] CQR conformity scores max(lower - y, y - upper) (negative inside the interval)."""
    return np.maximum(np.asarray(lower) - y, np.asarray(y) - upper)


def cqr_margin(lower: np.ndarray, upper: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """q_hat: the k-th smallest CQR score of the calibration rows (see the module docstring)."""
    scores = np.sort(cqr_scores(lower, upper, np.asarray(y, dtype=np.float64)))
    if np.isnan(scores).any():
        raise ConfigError("calibration rows without a predictive distribution (NaN quantiles)")
    return float(scores[conformal_rank(len(scores), coverage) - 1])


def conformal_interval(
    test: Predictive, calibration: Predictive, y_calibration, coverage: float
) -> np.ndarray:
    """[N, 2] conformalized intervals for the rows of `test`, calibrated on `calibration`.

    Args:
        test: The distributions of the rows to give intervals for.
        calibration: The distributions of the held-out calibration rows (same model, decoder
            and scale).
        y_calibration: [n] their targets.
        coverage: The wanted coverage 1 - alpha, in (0, 1).
    """
    coverage = check_coverage(coverage)
    margin = cqr_margin(*calibration.interval(coverage), y_calibration, coverage)
    lower, upper = test.interval(coverage)
    return np.stack([lower - margin, upper + margin], axis=1)


@dataclass
class CalibrationRows:
    """Held-out rows an estimator calibrates its intervals on, and their distributions.

    Attributes:
        inputs: The validated inputs (texts, or a frame of feature rows).
        targets: [n] their targets on the user's scale.
        origin: Where the rows come from, for messages: "the validation split held out by
            fit" or "calibrate()".
        distributions: Their predictive distributions per decoding setting (decoder, options,
            seed), computed once each when an interval first needs them.
    """

    inputs: Any
    targets: np.ndarray
    origin: str
    distributions: dict[Any, Predictive] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.targets)

    def save(self, directory: str | Path) -> Path:
        """Write the rows (inputs and targets, not the distributions) to `CALIBRATION_FILE`
        in a model folder, so that a loaded model calibrates on them again."""
        if isinstance(self.inputs, pd.DataFrame):
            frame = self.inputs.reset_index(drop=True).copy()
        else:
            frame = pd.DataFrame({_TEXT: list(self.inputs)})
        frame[_TARGET] = self.targets
        path = Path(directory) / CALIBRATION_FILE
        frame.to_parquet(path, index=False)
        return path

    @classmethod
    def load(cls, directory: str | Path, *, table: bool) -> CalibrationRows | None:
        """The rows `save` wrote to a model folder (None if it holds none); `table`: the
        inputs are a frame of feature rows, else texts."""
        path = Path(directory) / CALIBRATION_FILE
        if not path.is_file():
            return None
        frame = pd.read_parquet(path)
        targets = frame.pop(_TARGET).to_numpy(dtype=np.float64)
        inputs = frame if table else frame[_TEXT].astype(str).tolist()
        return cls(inputs, targets, f"the calibration rows saved in {CALIBRATION_FILE}")
