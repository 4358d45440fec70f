"""What a dataset is: its description (`DatasetInfo`) and its rows with fixed splits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from decoreg.errors import ConfigError, DataError
from decoreg.rows import reset_rows

KINDS = ("text", "tabular")
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a built-in dataset.

    Attributes:
        name: Registry key, e.g. ``"clothing-reviews"``.
        description: What the rows are, how they were filtered and how many there are.
        source: Where the data comes from: ``package==version:member`` or the generator.
        license: Licence of the data and of the package that ships it.
        kind: ``"text"`` (one text column, used with a prompt template) or ``"tabular"``.
        target_column: Column holding the number to predict.
        text_column: The input text column (text datasets only).
        feature_columns: Input columns (tabular datasets only; empty for text).
        template: Default prompt template containing ``{text}`` (text datasets only). It ends
            with a space, right before where the number is written.
        target_range: Documented (min, max) of the target in the full source.
        dropped_columns: Source columns left out, each with the reason (an identifier, a
            leak of the target, a constant).
        max_train_rows: Largest training split; the seeded permutation's first rows of a
            larger one are kept and the rest left unused (counted in
            `LoadedDataset.unused_train_rows`). None: no cap.
    """

    name: str
    description: str
    source: str
    license: str
    kind: str
    target_column: str
    text_column: str | None
    feature_columns: tuple[str, ...]
    template: str | None
    target_range: tuple[float, float]
    dropped_columns: Mapping[str, str] = field(default_factory=dict)
    max_train_rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dropped_columns", dict(self.dropped_columns))
        if not self.name or not self.description or not self.source or not self.license:
            raise ConfigError(f"dataset {self.name!r}: name/description/source/license are empty")
        if self.kind not in KINDS:
            raise ConfigError(f"dataset {self.name!r}: kind={self.kind!r}, expected one of {KINDS}")
        if self.kind == "text":
            if not self.text_column or self.feature_columns:
                raise ConfigError(
                    f"dataset {self.name!r}: a text dataset needs text_column and no features"
                )
            if self.template is None or "{text}" not in self.template:
                raise ConfigError(f"dataset {self.name!r}: template must contain '{{text}}'")
        elif self.text_column is not None or self.template is not None or not self.feature_columns:
            raise ConfigError(
                f"dataset {self.name!r}: a tabular dataset needs feature_columns and no "
                "text_column or template"
            )
        if self.target_column in self.feature_columns or self.target_column == self.text_column:
            raise ConfigError(f"dataset {self.name!r}: the target is also an input column")
        low, high = self.target_range
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(f"dataset {self.name!r}: bad target_range {self.target_range}")
        kept = {self.target_column, *self.input_columns}
        if kept & set(self.dropped_columns):
            raise ConfigError(f"dataset {self.name!r}: a dropped column is also used")
        _check_cap(self.max_train_rows, f"dataset {self.name!r}: max_train_rows")

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The columns a model reads: the text column or the feature columns."""
        return (self.text_column,) if self.text_column else self.feature_columns

    def estimator_params(self) -> dict[str, Any]:
        """The `DecodingRegressor` parameters that point it at these inputs: the text column and
        prompt template of a text dataset, or the feature columns of a tabular one."""
        if self.kind == "text":
            return {"text_column": self.text_column, "template": self.template}
        return {"feature_columns": list(self.feature_columns)}


@dataclass(frozen=True)
class LoadedDataset:
    """Rows of a dataset with fixed, disjoint train/validation/test splits.

    Attributes:
        info: The dataset's description.
        frame: All rows kept after the documented filtering (and `max_rows` subsampling), with
            a fresh 0..n-1 index.
        splits: ``"train"``, ``"validation"``, ``"test"`` -> sorted row positions in `frame`.
        dropped: How many source rows the documented filtering removed (0 if none).
        unused_train_rows: Training rows left out by the training-set cap (0 if none); they
            are not in `frame`.
    """

    info: DatasetInfo
    frame: pd.DataFrame
    splits: dict[str, np.ndarray]
    dropped: int = field(default=0)
    unused_train_rows: int = field(default=0)

    def __post_init__(self) -> None:
        missing = [
            c for c in (self.info.target_column, *self.info.input_columns) if c not in self.frame
        ]
        if missing:
            raise DataError(f"dataset {self.info.name!r}: frame lacks columns {missing}")
        if set(self.splits) != set(SPLIT_NAMES):
            raise DataError(f"dataset {self.info.name!r}: splits must be exactly {SPLIT_NAMES}")
        positions = np.concatenate([np.asarray(self.splits[s]) for s in SPLIT_NAMES])
        if len(positions) != len(self.frame) or not np.array_equal(
            np.sort(positions), np.arange(len(self.frame))
        ):
            raise DataError(
                f"dataset {self.info.name!r}: splits must be disjoint and cover all rows"
            )
        if self.dropped < 0 or self.unused_train_rows < 0:
            raise DataError(f"dataset {self.info.name!r}: a negative count of left-out rows")

    def split(self, name: str) -> pd.DataFrame:
        """Return the rows of one split.

        Args:
            name: ``"train"``, ``"validation"`` or ``"test"``.

        Returns:
            The rows, keeping their labels in `frame` (which equal their positions).

        Raises:
            ConfigError: If `name` is not a split name.
        """
        if name not in self.splits:
            raise ConfigError(f"split={name!r} is unknown; valid splits: {', '.join(SPLIT_NAMES)}")
        return self.frame.iloc[self.splits[name]]

    def sample(self, name: str, rows: int, seed: int = 0) -> pd.DataFrame:
        """At most `rows` rows of one split, drawn at random, in the split's (file) order.

        The first `rows` entries of ``numpy.random.default_rng(seed).permutation`` of the
        split, so a smaller count keeps a subset of a larger one, and all rows (the split
        itself) once `rows` reaches its size. Not a prefix of the split: files sorted by the
        target (diamonds by price) would give a prefix of the cheapest rows.

        Raises:
            ConfigError: If `name` is not a split name or `rows` is not a positive integer.
        """
        _check_cap(rows, "rows")
        split = self.split(name)
        if rows >= len(split):
            return split
        chosen = np.sort(np.random.default_rng(seed).permutation(len(split))[:rows])
        return split.iloc[chosen]

    @classmethod
    def from_frame(
        cls,
        info: DatasetInfo,
        frame: pd.DataFrame,
        *,
        max_rows: int | None = None,
        seed: int = 0,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        dropped: int = 0,
        max_train_rows: int | None = None,
    ) -> LoadedDataset:
        """Subsample and split a frame deterministically.

        One permutation ``numpy.random.default_rng(seed).permutation(len(frame))`` decides
        everything: its first `max_rows` entries are the rows kept (so a smaller `max_rows`
        keeps a subset of a larger one), and consecutive runs of it are the splits, of sizes
        ``round(fraction * n)`` for train and validation and the rest for test. A training
        run longer than `max_train_rows` keeps its first `max_train_rows` rows; the others are
        left out of the frame and counted (validation and test keep their sizes).

        Args:
            info: The dataset's description.
            frame: All rows.
            max_rows: Keep at most this many rows (None keeps all).
            seed: Seed of the permutation.
            fractions: Train, validation and test fractions; non-negative, summing to 1.
            dropped: Rows removed earlier by filtering, recorded on the result.
            max_train_rows: Cap on the training split (None: `info.max_train_rows`).

        Returns:
            The dataset with its splits.

        Raises:
            ConfigError: If `max_rows`, `max_train_rows` or `fractions` are invalid.
            DataError: If the rows are too few for a split with a non-zero fraction.
        """
        _check_cap(max_rows, "max_rows")
        _check_cap(max_train_rows, "max_train_rows")
        cap = info.max_train_rows if max_train_rows is None else max_train_rows
        if len(fractions) != 3 or any(not f >= 0 for f in fractions):
            raise ConfigError(f"fractions={fractions!r}: expected three non-negative numbers")
        if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9) or fractions[0] == 0:
            raise ConfigError(f"fractions={fractions!r}: must sum to 1 with a non-zero train part")
        order = np.random.default_rng(seed).permutation(len(frame))
        if max_rows is not None:
            order = order[:max_rows]
        n = len(order)
        n_train = round(fractions[0] * n)
        n_val = min(round(fractions[1] * n), n - n_train)
        _check_split_sizes(info.name, n, (n_train, n_val, n - n_train - n_val), fractions)
        unused = 0
        if cap is not None and n_train > cap:
            unused = n_train - cap
            order = np.concatenate([order[:cap], order[n_train:]])
            n_train = cap
        kept = np.sort(order)
        subset = reset_rows(frame.iloc[kept])  # a user's file keeps its rows for errors
        # Position of each original row in `subset`, to express the permuted order there.
        new_position = np.empty(len(frame), dtype=np.int64)
        new_position[kept] = np.arange(len(kept))
        permuted = new_position[order]
        bounds = {
            "train": permuted[:n_train],
            "validation": permuted[n_train : n_train + n_val],
            "test": permuted[n_train + n_val :],
        }
        splits = {name: np.sort(bounds[name]) for name in SPLIT_NAMES}
        return cls(info, subset, splits, dropped=dropped, unused_train_rows=unused)


def _check_cap(value: int | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name}={value!r}: expected a positive integer or None")


def _check_split_sizes(
    name: str, n: int, sizes: tuple[int, int, int], fractions: tuple[float, float, float]
) -> None:
    """A split asked for (a non-zero fraction) but left empty by rounding is an error."""
    for split, size, fraction in zip(SPLIT_NAMES, sizes, fractions, strict=True):
        if fraction > 0 and size == 0:
            need = math.ceil(0.5 / min(f for f in fractions if f > 0))
            raise DataError(
                f"dataset {name!r}: {n} row(s) leave the {split} split empty with fractions "
                f"{tuple(fractions)}; it needs about {need} rows or more (or a zero {split} "
                "fraction)"
            )
