"""Feature encoding for the tabular model: a fitted, serializable map from DataFrame to tensors.

Numeric columns are standardized with the training mean and standard deviation; categorical
columns map each training value to an index from 1 (index 0 is the unknown category, used for
values never seen at fit time). Missing values follow `nan_policy`: "error" (the default)
raises a `DataError` naming the row and column; "impute" fills numeric columns with the training
median and categorical ones with the unknown index, and counts each fill.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api import types as ptypes
from torch import Tensor

from decoreg.devices import HOST
from decoreg.errors import ConfigError, DataError

NAN_POLICIES = ("error", "impute")
_NUMERIC_SHARE = 0.9  # an object column this numeric is a numeric column with typos


@dataclass(frozen=True)
class EncodedFeatures:
    """Tensors for one frame, plus what had to be filled in.

    Attributes:
        numeric: [N, F_num] float32 standardized numeric features.
        categorical: [N, F_cat] int64 category indices, 0 for unknown.
        imputed: Missing values filled in, by column (only under nan_policy "impute").
        unseen: Categorical values not seen at fit time, by column.
    """

    numeric: Tensor
    categorical: Tensor
    imputed: dict[str, int]
    unseen: dict[str, int]


def as_frame(rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a sequence of row mappings; column names become str."""
    if isinstance(rows, pd.DataFrame):
        frame = rows
    elif isinstance(rows, Sequence) and all(isinstance(r, Mapping) for r in rows):
        frame = pd.DataFrame.from_records(list(rows))
    else:
        raise DataError(
            f"tabular inputs must be a pandas DataFrame or a sequence of dict rows, "
            f"got {type(rows).__name__}"
        )
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if frame.columns.has_duplicates:
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"duplicate column names: {duplicated}")
    return frame


def _where(frame: pd.DataFrame, position: int, column: str) -> str:
    label: Hashable = frame.index[position]
    if isinstance(label, np.generic):
        label = label.item()
    return f"column {column!r}, row {position} (index label {label!r})"


def _category_key(value: Any) -> str:
    """A stable string for a category: 3, 3.0 and '3' written the same way where numeric."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """[N] float64 values of a numeric column; DataError naming the first non-numeric cell."""
    series = frame[column]
    if ptypes.is_bool_dtype(series) or not ptypes.is_numeric_dtype(series):
        coerced = pd.to_numeric(series, errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & series.notna().to_numpy())
        if len(bad):
            raise DataError(
                f"{_where(frame, int(bad[0]), column)} holds {series.iloc[bad[0]]!r}, which is "
                f"not a number ({len(bad)} such row(s)); the column is numeric"
            )
        series = coerced
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise DataError(f"{_where(frame, int(infinite[0]), column)} is infinite")
    return values


def _looks_numeric(series: pd.Series) -> bool:
    """True for numeric dtypes, and for object columns whose values mostly parse as numbers."""
    if ptypes.is_bool_dtype(series):
        return False
    if ptypes.is_numeric_dtype(series):
        return True
    present = series.dropna()
    if not (ptypes.is_object_dtype(series) or ptypes.is_string_dtype(series)) or present.empty:
        return False
    share = pd.to_numeric(present, errors="coerce").notna().mean()
    return bool(share >= _NUMERIC_SHARE)


class FeatureEncoder:
    """Fits on a training DataFrame; turns frames with the same columns into tensors.

    Args:
        nan_policy: "error" (missing feature values raise `DataError`) or "impute" (numeric
            columns take the training median, categorical ones the unknown index; counted).
        categorical_columns: Columns to treat as categorical. None: columns of bool, category,
            string or object dtype are categorical, except object columns whose values are
            mostly numbers, which are numeric (a stray word in them raises `DataError`).
    """

    def __init__(
        self, nan_policy: str = "error", categorical_columns: Sequence[str] | None = None
    ) -> None:
        if nan_policy not in NAN_POLICIES:
            raise ConfigError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
        self.nan_policy = nan_policy
        self.categorical_columns = (
            None if categorical_columns is None else list(categorical_columns)
        )
        self.numeric_columns_: list[str] = []
        self.category_columns_: list[str] = []
        self.means_ = np.zeros(0)
        self.scales_ = np.ones(0)
        self.medians_ = np.zeros(0)
        self.vocabularies_: list[list[str]] = []
        self.counts: Counter[str] = Counter()
        """Running totals across `transform` calls: "imputed:<col>" and "unseen:<col>"."""

    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows per categorical column (its training values plus the unknown)."""
        return [len(v) + 1 for v in self.vocabularies_]

    @property
    def columns(self) -> list[str]:
        return self.numeric_columns_ + self.category_columns_

    def fit(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> FeatureEncoder:
        """Learn column kinds, numeric statistics and category vocabularies."""
        frame = as_frame(rows)
        if len(frame) == 0 or frame.shape[1] == 0:
            raise DataError(f"cannot fit features on a frame of shape {frame.shape}")
        declared = self.categorical_columns or []
        missing = sorted(set(declared) - set(frame.columns))
        if missing:
            raise ConfigError(f"categorical_columns {missing} are not columns of the frame")
        columns = list(frame.columns)
        self.category_columns_ = [
            c for c in columns if c in declared or not _looks_numeric(frame[c])
        ]
        self.numeric_columns_ = [c for c in columns if c not in self.category_columns_]
        means, scales, medians = [], [], []
        for column in self.numeric_columns_:
            values = _numeric_values(frame, column)
            self._check_missing(frame, column, np.isnan(values))
            if np.isnan(values).all():
                raise DataError(f"column {column!r} has no values to learn from")
            std = float(np.nanstd(values))
            means.append(float(np.nanmean(values)))
            scales.append(std if std > 0 and math.isfinite(std) else 1.0)
            medians.append(float(np.nanmedian(values)))
        self.means_, self.scales_ = np.asarray(means), np.asarray(scales)
        self.medians_ = np.asarray(medians)
        self.vocabularies_ = []
        for column in self.category_columns_:
            series = frame[column]
            self._check_missing(frame, column, series.isna().to_numpy())
            self.vocabularies_.append(sorted({_category_key(v) for v in series.dropna()}))
        return self

    def _check_missing(self, frame: pd.DataFrame, column: str, missing: np.ndarray) -> None:
        if self.nan_policy == "error" and missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"{_where(frame, first, column)} is missing (NaN; {int(missing.sum())} missing "
                "in the column); fill it, or set nan_policy='impute' to use the training median"
            )

    def transform(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> EncodedFeatures:
        """Encode a frame with the fitted columns (extra columns are ignored)."""
        if not self.columns:
            raise DataError("the feature encoder is not fitted")
        frame = as_frame(rows)
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise DataError(
                f"feature column(s) {absent} were present at fit time but are missing now"
            )
        imputed: dict[str, int] = {}
        unseen: dict[str, int] = {}
        numeric = np.zeros((len(frame), len(self.numeric_columns_)), dtype=np.float32)
        for j, column in enumerate(self.numeric_columns_):
            values = _numeric_values(frame, column)
            missing = np.isnan(values)
            self._check_missing(frame, column, missing)
            if missing.any():
                values = np.where(missing, self.medians_[j], values)
                imputed[column] = int(missing.sum())
            numeric[:, j] = (values - self.means_[j]) / self.scales_[j]
        categorical = np.zeros((len(frame), len(self.category_columns_)), dtype=np.int64)
        for j, column in enumerate(self.category_columns_):
            series = frame[column]
            missing = series.isna().to_numpy()
            self._check_missing(frame, column, missing)
            lookup = {v: i + 1 for i, v in enumerate(self.vocabularies_[j])}
            codes = np.asarray(
                [
                    0 if m else lookup.get(_category_key(v), 0)
                    for v, m in zip(series, missing, strict=True)
                ],
                dtype=np.int64,
            )
            if missing.any():
                imputed[column] = int(missing.sum())
            new = int(((codes == 0) & ~missing).sum())
            if new:
                unseen[column] = new
            categorical[:, j] = codes
        self.counts.update({f"imputed:{c}": n for c, n in imputed.items()})
        self.counts.update({f"unseen:{c}": n for c, n in unseen.items()})
        return EncodedFeatures(
            numeric=torch.as_tensor(numeric, device=HOST),  # the model moves its batches
            categorical=torch.as_tensor(categorical, device=HOST),
            imputed=imputed,
            unseen=unseen,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description that `from_dict` reads back."""
        return {
            "nan_policy": self.nan_policy,
            "categorical_columns": self.categorical_columns,
            "numeric_columns": self.numeric_columns_,
            "category_columns": self.category_columns_,
            "means": self.means_.tolist(),
            "scales": self.scales_.tolist(),
            "medians": self.medians_.tolist(),
            "vocabularies": self.vocabularies_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        encoder = cls(data["nan_policy"], data["categorical_columns"])
        encoder.numeric_columns_ = list(data["numeric_columns"])
        encoder.category_columns_ = list(data["category_columns"])
        encoder.means_ = np.asarray(data["means"], dtype=np.float64)
        encoder.scales_ = np.asarray(data["scales"], dtype=np.float64)
        encoder.medians_ = np.asarray(data["medians"], dtype=np.float64)
        encoder.vocabularies_ = [list(v) for v in data["vocabularies"]]
        return encoder
