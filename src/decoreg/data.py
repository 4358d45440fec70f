"""Reading rows from files or Python objects, and validating them before any training.

Every problem is reported with the file (or "<input>"), the row as the file counts it (the
line of a CSV, TSV or JSONL file, the 1-based row of a Parquet file or a Python input; see
`decoreg.rows`) and the column, and nothing is dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from decoreg.errors import DataError
from decoreg.rows import describe_row, reset_rows, tag_rows

READERS = {
    ".csv": lambda path: pd.read_csv(path, keep_default_na=False, na_values=[""]),
    ".tsv": lambda path: pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""]),
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".ndjson": lambda path: pd.read_json(path, lines=True),
    ".parquet": pd.read_parquet,
}
PYTHON_SOURCE = "<input>"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL or Parquet file into a DataFrame, with errors naming the file.

    The frame is tagged with its file (`decoreg.rows.tag_rows`), so that later errors about
    a value name the file and its line."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use {sorted(READERS)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        frame = reader(path)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: could not be read as {path.suffix[1:]}: {error}") from error
    if len(frame) == 0:
        raise DataError(f"{path}: the file has a header but no rows")
    return tag_rows(frame, path)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: no column(s) {missing}; the columns are {[str(c) for c in frame.columns]}"
        )


def numeric_targets(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """The target column as float64 [N]; any missing, non-numeric or infinite value stops here."""
    require_columns(frame, [column], source)
    values = np.empty(len(frame))
    for row, raw in enumerate(frame[column].tolist()):
        values[row] = _finite_number(raw, f"{describe_row(frame, row, source)}, column {column!r}")
    return values


def texts_from_column(frame: pd.DataFrame, column: str, source: str) -> list[str]:
    """The text column as strings; an empty or missing text stops here."""
    require_columns(frame, [column], source)
    texts = []
    for row, raw in enumerate(frame[column].tolist()):
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or not str(raw).strip():
            where = describe_row(frame, row, source)
            raise DataError(f"{where}, column {column!r}: the text is empty")
        texts.append(str(raw))
    return texts


def texts_from_features(frame: pd.DataFrame, columns: Sequence[str], source: str) -> list[str]:
    """Serialize tabular rows as text, "name: value; name: value"; missing values say so."""
    require_columns(frame, columns, source)
    subset = frame[list(columns)]
    return [
        "; ".join(
            f"{name}: {_feature_text(value)}" for name, value in zip(columns, row, strict=True)
        )
        for row in subset.itertuples(index=False, name=None)
    ]


def select_texts(
    frame: pd.DataFrame,
    source: str,
    *,
    text_column: str | None,
    feature_columns: Sequence[str] | None,
) -> list[str]:
    """Texts from exactly one of a text column or a list of feature columns."""
    if (text_column is None) == (not feature_columns):
        raise DataError(f"{source}: give either a text column or feature columns (exactly one)")
    if text_column is not None:
        return texts_from_column(frame, text_column, source)
    return texts_from_features(frame, list(feature_columns), source)


def frame_from_python(inputs, source: str = PYTHON_SOURCE) -> pd.DataFrame:
    """Accept a DataFrame, a Series or a list of strings; a list becomes a column "text"."""
    if isinstance(inputs, pd.DataFrame):
        return reset_rows(inputs)
    if isinstance(inputs, pd.Series):
        return inputs.reset_index(drop=True).to_frame(name=inputs.name or "text")
    if isinstance(inputs, str):
        raise DataError(f"{source}: expected a list of texts, got a single string")
    try:
        values = list(inputs)
    except TypeError as error:
        raise DataError(f"{source}: expected a list of texts or a DataFrame") from error
    array = np.asarray(values, dtype=object)
    if array.ndim == 2:
        return pd.DataFrame(values, columns=[f"x{i}" for i in range(array.shape[1])])
    return pd.DataFrame({"text": values})


def targets_from_python(y, n_rows: int, source: str = PYTHON_SOURCE) -> np.ndarray:
    """[N] float64 targets; a missing, non-numeric or infinite one, or a count unlike the
    inputs', stops here with the row named."""
    if y is None:  # scikit-learn's wording, which its estimator checks look for
        raise DataError(f"{source}: fit requires y to be passed, but the target y is None")
    values = list(np.asarray(y, dtype=object).reshape(-1))
    if len(values) != n_rows:
        raise DataError(f"{source}: {n_rows} inputs but {len(values)} targets")
    return np.array([_finite_number(v, f"{source}, row {i + 1}, column 'y'")
                     for i, v in enumerate(values)])  # fmt: skip


def _finite_number(raw, where: str) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(f"{where}: the target is missing")
    if isinstance(raw, bool):
        raise DataError(f"{where}: {raw!r} is a boolean, not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {raw!r} is not a number") from None
    except OverflowError:  # an integer (or Decimal) beyond the float range
        raise DataError(f"{where}: the target is too large for a float ({raw!r:.40})") from None
    if math.isnan(value):
        raise DataError(f"{where}: the target is missing (NaN)")
    if math.isinf(value):
        raise DataError(f"{where}: the target is infinite ({raw!r})")
    return value


def _feature_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
