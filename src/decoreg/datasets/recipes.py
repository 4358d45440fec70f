"""How a registry entry is built: the package files it reads and the function that parses them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from decoreg.datasets.base import DatasetInfo
from decoreg.datasets.fetch import PackageFile, Reader

Build = Callable[[Reader], tuple[pd.DataFrame, int]]
"""Returns the parsed frame and the number of source rows its documented filtering dropped."""


@dataclass(frozen=True)
class Recipe:
    files: tuple[PackageFile, ...]  # empty for synthetic data, which is not cached
    build: Build


def table(reader: Callable, file: PackageFile, columns: tuple[str, ...]) -> Build:
    """A build that reads `columns` of one package file with `reader` and drops no rows."""
    return lambda read: (reader(read, file, columns), 0)


@dataclass(frozen=True)
class TableFacts:
    """What a tabular entry states besides its name and description.

    Attributes:
        license: Licence of the data and of the package that ships it.
        features: Input columns.
        target: Target column.
        target_range: Documented (min, max) of the target.
        dropped_columns: Source columns left out -> why.
        max_train_rows: Cap on the training split (None: none).
    """

    license: str
    features: tuple[str, ...]
    target: str
    target_range: tuple[float, float]
    dropped_columns: Mapping[str, str] = field(default_factory=dict)
    max_train_rows: int | None = None


def tabular_entry(
    name: str, description: str, file: PackageFile | None, facts: TableFacts, build: Build
) -> tuple[DatasetInfo, Recipe]:
    """The registry record of a tabular dataset read from `file` (None: a generator)."""
    info = DatasetInfo(
        name,
        description,
        file.label if file else "scikit-learn generator",
        facts.license,
        "tabular",
        facts.target,
        None,
        facts.features,
        None,
        facts.target_range,
        dropped_columns=facts.dropped_columns,
        max_train_rows=facts.max_train_rows,
    )
    return info, Recipe((file,) if file else (), build)
