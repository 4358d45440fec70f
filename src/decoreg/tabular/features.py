"""Feature encoding for the tabular model: a fitted, serializable map from DataFrame to tensors.

Numeric columns are standardized with the training mean and standard deviation; categorical
columns map each training value to an index from 1 (index 0 is the unknown category, used for
values never seen at fit time, and for the rarest levels of a column with more than
`max_categories`). Missing values follow `nan_policy`, as gradient boosting users expect by
default:

- "indicator" (the default): a numeric column missing in some training rows gets the training
  median plus a 0/1 missing-indicator feature; a categorical one gets a level of its own for
  "missing". A column with no missing training value that has one later takes the median, or
  the unknown index, counted.
- "impute": the training median for numbers and the unknown index for categories, counted, no
  indicator (what "impute" has always meant).
- "error": a missing value raises a `DataError` naming the file, row and column.

A column missing in every training row is an error in every policy (there is nothing to learn
from it); constant columns are kept and listed in `fit_report_`, which also counts the
missing values, indicators and levels folded into the unknown index.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api import types as ptypes
from torch import Tensor

from decoreg.devices import HOST
from decoreg.errors import ConfigError, DataError
from decoreg.rows import describe_row, row_source
from decoreg.tabular.feature_report import FitReport

NAN_POLICIES = ("indicator", "impute", "error")
DEFAULT_MAX_CATEGORIES = 1000
_NUMERIC_SHARE = 0.9  # an object column this numeric is a numeric column with typos


@dataclass(frozen=True)
class EncodedFeatures:
    """Tensors for one frame, plus what had to be filled in.

    Attributes:
        numeric: [N, F_num] float32 standardized numeric features, then the 0/1 missing
            indicators (`FeatureEncoder.indicator_columns_`).
        categorical: [N, F_cat] int64 category indices, 0 for unknown.
        imputed: Missing values filled in, by column (not under nan_policy "error").
        unseen: Categorical values not seen at fit time (or folded as rare), by column.
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
    """ "train.csv, line 10, column 'x'" for a frame read from a file, else the position and
    index label."""
    if row_source(frame) is not None:
        return f"{describe_row(frame, position)}, column {column!r}"
    return f"column {column!r}, {describe_row(frame, position)}"


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
    """True for numeric dtypes, and for object columns whose values mostly parse as numbers.

    A pandas `category` column is categorical whatever its labels look like: its dtype says
    so (e.g. integer codes of schools, which as numbers would mean nothing).
    """
    if ptypes.is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
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
        nan_policy: "indicator" (median plus indicator, missing as a level), "impute" (median,
            unknown index) or "error"; see the module docstring.
        categorical_columns: Columns to treat as categorical. None: columns of bool, category,
            string or object dtype are categorical, except string or object columns whose
            values are mostly numbers, which are numeric (a stray word in them raises
            `DataError`); a category column always is categorical.
        max_categories: Levels kept per categorical column, the most frequent (ties by
            value); the rows of the others share the unknown index, counted in `fit_report_`.
    """

    def __init__(
        self,
        nan_policy: str = "indicator",
        categorical_columns: Sequence[str] | None = None,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ) -> None:
        if nan_policy not in NAN_POLICIES:
            raise ConfigError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
        if isinstance(max_categories, bool) or not isinstance(max_categories, int):
            raise ConfigError(f"max_categories must be a positive int, got {max_categories!r}")
        if max_categories < 1:
            raise ConfigError(f"max_categories must be a positive int, got {max_categories!r}")
        self.nan_policy = nan_policy
        self.categorical_columns = (
            None if categorical_columns is None else list(categorical_columns)
        )
        self.max_categories = max_categories
        self.numeric_columns_: list[str] = []
        self.category_columns_: list[str] = []
        self.means_ = np.zeros(0)
        self.scales_ = np.ones(0)
        self.medians_ = np.zeros(0)
        self.vocabularies_: list[list[str]] = []
        self.indicator_columns_: list[str] = []
        """Numeric columns with a missing-indicator feature (missing in some training row)."""
        self.missing_levels_: list[str] = []
        """Categorical columns with a "missing" level (index len(vocabulary) + 1)."""
        self.fit_report_: dict[str, Any] = {}
        """What fit found: missing values per column, indicators, missing levels, constant
        columns, and levels folded into the unknown index; saved with the model."""
        self.counts: Counter[str] = Counter()
        """Running totals across `transform` calls: "imputed:<col>" and "unseen:<col>"."""

    @property
    def cardinalities(self) -> list[int]:
        """Embedding rows per categorical column: its training values, the unknown, and the
        missing level where it has one."""
        levels = set(self.missing_levels_)
        return [
            len(v) + 1 + (c in levels)
            for c, v in zip(self.category_columns_, self.vocabularies_, strict=True)
        ]

    @property
    def columns(self) -> list[str]:
        return self.numeric_columns_ + self.category_columns_

    @property
    def numeric_width(self) -> int:
        """Width of `EncodedFeatures.numeric`: the numeric columns and their indicators."""
        return len(self.numeric_columns_) + len(self.indicator_columns_)

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
        report = FitReport(len(frame))
        means, scales, medians = [], [], []
        for column in self.numeric_columns_:
            values = _numeric_values(frame, column)
            self._check_fit_missing(frame, column, np.isnan(values), report)
            std = float(np.nanstd(values))
            means.append(float(np.nanmean(values)))
            scales.append(std if std > 0 and math.isfinite(std) else 1.0)
            medians.append(float(np.nanmedian(values)))
            report.constant(column, len(np.unique(values[~np.isnan(values)])))
        self.means_, self.scales_ = np.asarray(means), np.asarray(scales)
        self.medians_ = np.asarray(medians)
        self.vocabularies_ = []
        for column in self.category_columns_:
            series = frame[column]
            self._check_fit_missing(frame, column, series.isna().to_numpy(), report)
            keys = Counter(_category_key(v) for v in series.dropna())
            report.constant(column, len(keys))
            self.vocabularies_.append(self._vocabulary(column, keys, report))
        self.indicator_columns_ = [c for c in self.numeric_columns_ if c in report.missing]
        self.missing_levels_ = [c for c in self.category_columns_ if c in report.missing]
        if self.nan_policy != "indicator":
            self.indicator_columns_, self.missing_levels_ = [], []
        self.fit_report_ = report.as_dict(
            self.nan_policy, self.indicator_columns_, self.missing_levels_
        )
        return self

    def _vocabulary(self, column: str, keys: Counter[str], report: FitReport) -> list[str]:
        """The sorted levels kept: all, or the `max_categories` most frequent."""
        if len(keys) <= self.max_categories:
            return sorted(keys)
        ranked = sorted(keys, key=lambda k: (-keys[k], k))
        kept = ranked[: self.max_categories]
        report.rare[column] = {
            "levels": len(keys),
            "kept": len(kept),
            "rows": int(sum(keys[k] for k in ranked[self.max_categories :])),
        }
        return sorted(kept)

    def _check_fit_missing(
        self, frame: pd.DataFrame, column: str, missing: np.ndarray, report: FitReport
    ) -> None:
        self._check_missing(frame, column, missing)
        if missing.all():
            raise DataError(
                f"column {column!r} is missing in all {len(frame)} training rows: there is "
                "nothing to learn from it; leave it out of the features (feature_columns)"
            )
        if missing.any():
            report.missing[column] = int(missing.sum())

    def _check_missing(self, frame: pd.DataFrame, column: str, missing: np.ndarray) -> None:
        if self.nan_policy == "error" and missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"{_where(frame, first, column)} is missing (NaN; {int(missing.sum())} missing "
                "in the column); fill it, or set nan_policy='indicator' (the default: the "
                "training median plus a missing-indicator feature, or a level of its own for a "
                "category)"
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
        numeric = np.zeros((len(frame), self.numeric_width), dtype=np.float32)
        indicators = {c: len(self.numeric_columns_) + i
                      for i, c in enumerate(self.indicator_columns_)}  # fmt: skip
        for j, column in enumerate(self.numeric_columns_):
            values = _numeric_values(frame, column)
            missing = np.isnan(values)
            self._check_missing(frame, column, missing)
            if missing.any():
                values = np.where(missing, self.medians_[j], values)
                imputed[column] = int(missing.sum())
            numeric[:, j] = (values - self.means_[j]) / self.scales_[j]
            if column in indicators:
                numeric[:, indicators[column]] = missing
        categorical = np.zeros((len(frame), len(self.category_columns_)), dtype=np.int64)
        levels = set(self.missing_levels_)
        for j, column in enumerate(self.category_columns_):
            series = frame[column]
            missing = series.isna().to_numpy()
            self._check_missing(frame, column, missing)
            lookup = {v: i + 1 for i, v in enumerate(self.vocabularies_[j])}
            missing_code = len(lookup) + 1 if column in levels else 0
            codes = np.asarray(
                [
                    missing_code if m else lookup.get(_category_key(v), 0)
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
            "max_categories": self.max_categories,
            "numeric_columns": self.numeric_columns_,
            "category_columns": self.category_columns_,
            "means": self.means_.tolist(),
            "scales": self.scales_.tolist(),
            "medians": self.medians_.tolist(),
            "vocabularies": self.vocabularies_,
            "indicator_columns": self.indicator_columns_,
            "missing_levels": self.missing_levels_,
            "fit_report": self.fit_report_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        """Read `to_dict`'s output; descriptions saved before indicators and missing levels
        existed (no such keys) encode exactly as they did."""
        max_categories = data.get("max_categories", DEFAULT_MAX_CATEGORIES)
        encoder = cls(data["nan_policy"], data["categorical_columns"], max_categories)
        encoder.numeric_columns_ = list(data["numeric_columns"])
        encoder.category_columns_ = list(data["category_columns"])
        encoder.means_ = np.asarray(data["means"], dtype=np.float64)
        encoder.scales_ = np.asarray(data["scales"], dtype=np.float64)
        encoder.medians_ = np.asarray(data["medians"], dtype=np.float64)
        encoder.vocabularies_ = [list(v) for v in data["vocabularies"]]
        encoder.indicator_columns_ = list(data.get("indicator_columns", []))
        encoder.missing_levels_ = list(data.get("missing_levels", []))
        encoder.fit_report_ = dict(data.get("fit_report", {}))
        return encoder
