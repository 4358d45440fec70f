"""Paired bootstrap over test rows: is method A's RMSE below method B's beyond the noise?

Both methods predict the same test rows; with several seeds each row's squared error is
averaged over the seeds first, so seed noise and row noise both stay in the per-row errors.
Resampling rows with replacement, the same rows for both, gives the distribution of RMSE(A) -
RMSE(B); its central 95% interval decides: entirely below 0, A is better ("held" for the
ordering A < B); entirely above 0, B is better ("did not hold"); straddling 0, "not separable".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERDICTS = ("held", "did not hold", "not separable")


@dataclass(frozen=True)
class PairedDifference:
    """RMSE(A) - RMSE(B) on the test rows, with its bootstrap interval.

    Attributes:
        difference: The observed RMSE(A) - RMSE(B).
        low: The interval's lower end (the 2.5% quantile for a 95% interval).
        high: Its upper end.
        verdict: One of `VERDICTS`, for the ordering "A < B".
    """

    difference: float
    low: float
    high: float
    verdict: str

    def to_dict(self) -> dict[str, float | str]:
        return {"difference": self.difference, "low": self.low, "high": self.high,
                "verdict": self.verdict}


def paired_rmse_difference(
    y: np.ndarray,  # [N] true values
    predictions_a: np.ndarray,  # [N] or [S, N] (S seeds: squared errors averaged per row)
    predictions_b: np.ndarray,  # [N] or [S, N]
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """The bootstrap interval of RMSE(A) - RMSE(B) over the same resampled rows."""
    y = np.asarray(y, dtype=np.float64)
    squared_a = _per_row_squared_error(y, predictions_a)
    squared_b = _per_row_squared_error(y, predictions_b)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    rows = np.random.default_rng(seed).integers(0, len(y), size=(resamples, len(y)))
    differences = np.sqrt(squared_a[rows].mean(axis=1)) - np.sqrt(squared_b[rows].mean(axis=1))
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    verdict = "held" if high < 0 else "did not hold" if low > 0 else "not separable"
    observed = float(np.sqrt(squared_a.mean()) - np.sqrt(squared_b.mean()))
    return PairedDifference(observed, float(low), float(high), verdict)


def _per_row_squared_error(y: np.ndarray, predictions: np.ndarray) -> np.ndarray:  # [N]
    predictions = np.atleast_2d(np.asarray(predictions, dtype=np.float64))  # [S, N]
    if predictions.shape[1] != len(y):
        raise ValueError(f"{predictions.shape[1]} predictions per seed for {len(y)} rows")
    return ((predictions - y[None, :]) ** 2).mean(axis=0)
