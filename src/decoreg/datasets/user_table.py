"""A user's own data file as a dataset, split like the built-in ones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from decoreg.causal_lm.prompts import DEFAULT_TEMPLATE
from decoreg.data import numeric_targets, read_table, require_columns
from decoreg.datasets.base import DatasetInfo, LoadedDataset
from decoreg.errors import ConfigError
from decoreg.rows import reset_rows


def load_table_dataset(
    path: str | Path,
    *,
    target_column: str,
    text_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    template: str | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> LoadedDataset:
    """Read a CSV, TSV, JSONL or Parquet file and split it like `load_dataset`.

    Args:
        path: The data file.
        target_column: Numeric column to predict (every value must be finite).
        text_column: The input text column (a text dataset), or
        feature_columns: the input columns (a tabular dataset); exactly one of the two.
        template: Prompt template for a text dataset (default: decoreg's default template).
        max_rows: Keep at most this many rows (seeded).
        seed: Seed of the subsample and of the splits.
        fractions: Train, validation and test fractions.

    Returns:
        The dataset; its `info.name` is the file name and its target range the observed one.

    Raises:
        ConfigError: If the column options are inconsistent.
        DataError: If the file cannot be read, a column is missing or a target is not finite.
    """
    if (text_column is None) == (not feature_columns):
        raise ConfigError(f"{path}: give exactly one of text_column or feature_columns")
    frame = read_table(path)
    inputs = [text_column] if text_column is not None else list(feature_columns)
    require_columns(frame, [*inputs, target_column], str(path))
    targets = numeric_targets(frame, target_column, str(path))
    frame = reset_rows(frame.loc[:, inputs])
    frame[target_column] = targets
    if text_column is not None:
        frame[text_column] = frame[text_column].astype(str)
    info = DatasetInfo(
        name=Path(path).name,
        description=f"user data file {path} ({len(frame):,} rows)",
        source=str(path),
        license="provided by the user",
        kind="text" if text_column is not None else "tabular",
        target_column=target_column,
        text_column=text_column,
        feature_columns=tuple(feature_columns or ()),
        template=(template or DEFAULT_TEMPLATE) if text_column is not None else None,
        target_range=(float(np.min(targets)), float(np.max(targets))),
    )
    return LoadedDataset.from_frame(info, frame, max_rows=max_rows, seed=seed, fractions=fractions)
