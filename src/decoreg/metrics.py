"""Regression metrics in pure numpy."""

from __future__ import annotations

import numpy as np
from scipy import stats

METRIC_NAMES = ("rmse", "mae", "r2", "pearson", "spearman", "unparseable_share")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination; 0.0 for the mean predictor, can be negative."""
    y_true = np.asarray(y_true, dtype=np.float64)
    residual = np.sum((y_true - np.asarray(y_pred)) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0.0:
        return 0.0 if residual == 0.0 else float("-inf")
    return float(1.0 - residual / total)


def _correlation(fn, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if np.std(y_true) == 0.0 or np.std(y_pred) == 0.0:
        return float("nan")  # undefined for a constant input
    return float(fn(y_true, y_pred)[0])


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _correlation(stats.pearsonr, np.asarray(y_true), np.asarray(y_pred))


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _correlation(stats.spearmanr, np.asarray(y_true), np.asarray(y_pred))


def regression_report(
    y_true: np.ndarray, y_pred: np.ndarray, parsed: np.ndarray | None = None
) -> dict[str, float]:
    """All metrics at once.

    Args:
        y_true: [N] targets.
        y_pred: [N] predictions, already filled with a fallback where unparseable.
        parsed: [N] bool, False where the model's output could not be parsed.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"shapes differ or are not 1-D: {y_true.shape} vs {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero rows")
    unparseable = 0.0 if parsed is None else float(1.0 - np.mean(parsed))
    return {
        "rmse": rmse(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "r2": r2(y_true, y_pred),
        "pearson": pearson(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
        "unparseable_share": unparseable,
        "n": float(len(y_true)),
    }
