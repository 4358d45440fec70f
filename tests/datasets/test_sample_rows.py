"""`LoadedDataset.sample`: a seeded random subset of a split, nested across sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decoreg.datasets.base import DatasetInfo, LoadedDataset
from decoreg.errors import ConfigError


def sorted_dataset() -> LoadedDataset:
    """1,000 rows sorted by their target, as the diamonds file is by price."""
    frame = pd.DataFrame({"x": np.arange(1000.0), "y": np.arange(1000.0)})
    info = DatasetInfo(
        name="sorted",
        description="rows sorted by y",
        source="test",
        license="test",
        kind="tabular",
        target_column="y",
        text_column=None,
        feature_columns=("x",),
        template=None,
        target_range=(0.0, 999.0),
    )
    return LoadedDataset.from_frame(info, frame, seed=0)


def test_a_sample_spans_the_split_not_its_first_rows():
    data = sorted_dataset()
    train = data.split("train")
    sample = data.sample("train", 100, seed=0)
    assert len(sample) == 100 and set(sample.index) <= set(train.index)
    assert sample["y"].is_monotonic_increasing  # in the split's (file) order
    # a prefix would hold the 100 smallest targets (mean ~62); a random 100 are near the mean
    assert train["y"].iloc[:100].mean() < 70
    assert abs(sample["y"].mean() - train["y"].mean()) < 60


def test_samples_are_nested_seeded_and_whole_at_full_size():
    data = sorted_dataset()
    small, large = data.sample("test", 20, seed=3), data.sample("test", 60, seed=3)
    assert set(small.index) < set(large.index)
    assert data.sample("test", 20, seed=3).equals(small)
    assert not data.sample("test", 20, seed=4).equals(small)
    assert data.sample("validation", 10_000).equals(data.split("validation"))
    with pytest.raises(ConfigError, match="rows=0"):
        data.sample("train", 0)
    with pytest.raises(ConfigError, match="split='dev' is unknown"):
        data.sample("dev", 5)
