"""What a family's model reads from X: texts, or feature tables taken as scikit-learn takes them.

Text families read a list of texts, a Series or a DataFrame (`decoreg.data.frame_from_python`).
Table families read a DataFrame, whose columns are matched by name (extra columns are ignored),
or any other array-like, which must be numeric and 2-D as in scikit-learn and becomes a frame
with the fit-time feature names, or x0..x{n-1}. `fit` records `n_features_in_` (and, for a
DataFrame, `feature_names_in_`), and later inputs are checked against them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import validate_data

from decoreg.data import frame_from_python, require_columns, targets_from_python
from decoreg.errors import DataError
from decoreg.estimator.plan import RunPlan
from decoreg.families import FAMILIES
from decoreg.inference import holdout, take_rows
from decoreg.rows import reset_rows

MIN_FIT_ROWS = 2  # the target transform needs a spread of targets


def read_inputs(estimator, plan: RunPlan, X, source: str, *, fitting: bool) -> Any:
    """The validated inputs the plan's family reads (errors name the source, row, column).

    Args:
        estimator: The estimator, whose fit-time input attributes are set (when `fitting`)
            or checked.
        plan: The run plan.
        X: The inputs.
        source: Name used in error messages.
        fitting: Whether X is the training input (it then sets `n_features_in_`).
    """
    if plan.family.input_kind == "table":
        frame = table_frame(estimator, X, source, fitting=fitting, columns=_fit_columns(plan))
    else:
        frame = frame_from_python(X, source)
    return plan.family.select_inputs(plan.params, frame, source)


def fit_rows(estimator, plan: RunPlan, X, y, eval_set, source: str) -> tuple[Any, Any, Any]:
    """(training inputs, targets, validation (inputs, targets) or None) of a fit: `eval_set`
    as validation, else, when the plan trains on 10 rows or more, a seeded
    `validation_fraction` of the rows held out."""
    inputs = read_inputs(estimator, plan, X, source, fitting=True)
    targets = read_targets(y, len(inputs), source)
    if eval_set is not None:
        where = f"{source} (validation)"
        val_inputs = read_inputs(estimator, plan, eval_set[0], where, fitting=False)
        return inputs, targets, (val_inputs, read_targets(eval_set[1], len(val_inputs), where))
    if plan.fits and plan.validation_fraction > 0 and len(targets) >= 10:
        train, held = holdout(len(targets), plan.validation_fraction, estimator.random_state)
        validation = (take_rows(inputs, held), targets[held])
        return take_rows(inputs, train), targets[train], validation
    return inputs, targets, None


def declare_input_tags(tags, family: str, tabular_options: dict | None) -> None:
    """Set scikit-learn's `InputTags` to what the family reads (unknown family: text)."""
    if family in FAMILIES and FAMILIES[family].input_kind == "table":
        tags.categorical = True  # DataFrame columns of strings or categories
        tags.allow_nan = (tabular_options or {}).get("nan_policy") != "error"
    else:  # a list of texts, or a DataFrame with a text column
        tags.one_d_array, tags.two_d_array, tags.string = True, False, True


def read_targets(y, n_rows: int, source: str) -> np.ndarray:
    """[N] float64 targets (`decoreg.data.targets_from_python`); a column vector [N, 1] is
    read as [N], with scikit-learn's warning."""
    if y is not None:
        y = np.asarray(y, dtype=object)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
    return targets_from_python(y, n_rows, source)


def table_frame(
    estimator, X, source: str, *, fitting: bool, columns: list[str] | None
) -> pd.DataFrame:
    """X as a DataFrame of feature columns, checked as scikit-learn checks inputs.

    Args:
        estimator: As for `read_inputs`.
        X: A DataFrame or a 2-D numeric array-like ([N, F]); sparse matrices are refused.
        source: Name used in error messages.
        fitting: Whether X is the training input.
        columns: The columns of a training DataFrame to keep (None: all of them).
    """
    if isinstance(X, pd.DataFrame):
        return _checked_frame(estimator, X, source, fitting=fitting, columns=columns)
    try:
        array = validate_data(
            estimator,
            X,
            reset=fitting,
            dtype="numeric",
            ensure_all_finite=False,  # the feature encoder names the row and column of a NaN
            ensure_min_samples=MIN_FIT_ROWS if fitting else 1,
        )
    except ValueError as error:
        hint = ""
        if "string" in str(error):
            hint = " (arrays and lists are read as numbers; pass a DataFrame for text categories)"
        raise DataError(f"{source}: {error}{hint}") from error
    return pd.DataFrame(array, columns=_array_columns(estimator, array.shape[1]))


def _checked_frame(estimator, X: pd.DataFrame, source, *, fitting, columns) -> pd.DataFrame:
    frame = X if all(isinstance(c, str) for c in X.columns) else X.rename(columns=str)
    if frame.columns.has_duplicates:
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"{source}: duplicate column names {duplicated}")
    recorded = hasattr(estimator, "n_features_in_")  # folders of the previous version lack it
    names = getattr(estimator, "feature_names_in_", None)
    wanted = columns if fitting else None if names is None else list(names)
    if wanted is not None:
        require_columns(frame, wanted, source)
        frame = frame[wanted]
    if fitting or recorded:
        try:  # with reset=True, sets n_features_in_ and feature_names_in_
            validate_data(estimator, frame, reset=fitting, skip_check_array=True)
        except ValueError as error:
            raise DataError(f"{source}: {error}") from error
    if not fitting and recorded and names is None:  # fitted on an array: columns by position
        frame = frame.set_axis(_array_columns(estimator, frame.shape[1]), axis=1)
    minimum = MIN_FIT_ROWS if fitting else 1
    if len(frame) < minimum or frame.shape[1] == 0:
        raise DataError(
            f"{source}: found {len(frame)} row(s) and {frame.shape[1]} feature(s) "
            f"(shape={frame.shape}) while a minimum of {minimum} row(s) and 1 feature is "
            "required"
        )
    return reset_rows(frame)  # a frame read from a file keeps its file rows for errors


def _array_columns(estimator, width: int) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == width:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(width)]


def _fit_columns(plan: RunPlan) -> list[str] | None:
    columns = plan.params["feature_columns"]
    return None if not columns else [str(c) for c in columns]
