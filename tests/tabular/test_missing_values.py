"""Missing values and bad input in the tabular family: the default handling (median plus an
indicator, a level of its own), the fit report, max_categories, all-missing and constant
columns, and saved descriptions from before these existed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from decoreg.errors import ConfigError, DataError
from decoreg.tabular.features import FeatureEncoder

LEGACY = Path(__file__).parents[1] / "data" / "legacy_v0_1" / "tabular-ce-greedy"


@pytest.fixture
def holes() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "c": ["u", "v", None, "u"]})


def test_default_is_median_plus_indicator_and_a_missing_level(holes: pd.DataFrame):
    """Non-missing a = [1, 3, 4]: median 3, mean 8/3, std sqrt(14/9); the NaN row becomes
    (3 - 8/3) / sqrt(14/9) = 0.2673 with indicator 1. Levels u=1, v=2, missing=3."""
    encoder = FeatureEncoder().fit(holes)
    assert encoder.nan_policy == "indicator"
    assert encoder.indicator_columns_ == ["a"] and encoder.missing_levels_ == ["c"]
    assert encoder.numeric_width == 2 and encoder.cardinalities == [4]
    encoded = encoder.transform(holes)
    assert float(encoded.numeric[1, 0]) == pytest.approx((3 - 8 / 3) / (14 / 9) ** 0.5, rel=1e-6)
    assert encoded.numeric[:, 1].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert encoded.categorical[:, 0].tolist() == [1, 2, 3, 1]
    assert encoded.imputed == {"a": 1, "c": 1} and encoded.unseen == {}
    report = encoder.fit_report_
    assert report["missing"] == {"a": 1, "c": 1} and report["rows"] == 4
    assert report["indicator_columns"] == ["a"] and report["missing_levels"] == ["c"]
    assert any("1 of 4 rows missing -> a missing level" in n for n in report["notes"])


def test_a_hole_only_at_predict_time_takes_the_median_or_unknown_and_is_counted():
    encoder = FeatureEncoder().fit(pd.DataFrame({"a": [1.0, 2.0, 6.0], "c": ["u", "v", "u"]}))
    assert encoder.numeric_width == 1 and encoder.cardinalities == [3]  # no indicator, no level
    encoded = encoder.transform(pd.DataFrame({"a": [np.nan], "c": [None]}))
    mean, std = 3.0, np.std([1.0, 2.0, 6.0])
    assert float(encoded.numeric[0, 0]) == pytest.approx((2.0 - mean) / std, rel=1e-6)
    assert encoded.categorical.tolist() == [[0]] and encoded.imputed == {"a": 1, "c": 1}


def test_impute_keeps_its_meaning_and_error_refuses(holes: pd.DataFrame):
    impute = FeatureEncoder(nan_policy="impute").fit(holes)
    assert impute.numeric_width == 1 and impute.cardinalities == [3]
    assert impute.transform(holes).categorical[:, 0].tolist() == [1, 2, 0, 1]
    with pytest.raises(DataError, match=r"column 'a', row 1 .*missing.*nan_policy='indicator'"):
        FeatureEncoder(nan_policy="error").fit(holes)


@pytest.mark.parametrize("policy", ["indicator", "impute", "error"])
def test_an_all_missing_column_is_a_clear_error_in_every_policy(policy: str):
    frame = pd.DataFrame({"a": [1.0, 2.0], "empty": [np.nan, np.nan], "c": ["x", "y"]})
    match = "missing in all 2 training rows" if policy != "error" else "'empty'.*missing"
    with pytest.raises(DataError, match=match):
        FeatureEncoder(nan_policy=policy).fit(frame)
    with pytest.raises(DataError, match=r"column 'c' is missing in all 2 training rows"):
        FeatureEncoder().fit(pd.DataFrame({"a": [1.0, 2.0], "c": [None, None]}))


def test_constant_columns_are_kept_and_reported():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "k": [7, 7, 7], "s": ["z", "z", "z"],
                          "h": ["z", None, "z"]})  # fmt: skip
    encoder = FeatureEncoder().fit(frame)
    assert encoder.fit_report_["constant_columns"] == ["k", "s"]  # "h" has a missing level
    assert encoder.transform(frame).numeric[:, 1].tolist() == [0.0, 0.0, 0.0]


def test_max_categories_keeps_the_most_frequent_levels_and_counts_the_rest():
    """Counts a:4 b:3 c:2 d:1 e:1 with max_categories=2 keep a and b; the 4 rows of c, d, e
    share index 0, which training now sees."""
    values = list("aaaabbbccde")
    encoder = FeatureEncoder(max_categories=2).fit(pd.DataFrame({"v": values}))
    assert encoder.vocabularies_ == [["a", "b"]] and encoder.cardinalities == [3]
    codes = encoder.transform(pd.DataFrame({"v": values})).categorical[:, 0].tolist()
    assert codes == [1, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0]
    assert encoder.fit_report_["rare_levels"] == {"v": {"levels": 5, "kept": 2, "rows": 4}}
    many = pd.DataFrame({"id": [f"user{i}" for i in range(3000)], "x": np.arange(3000.0)})
    assert FeatureEncoder().fit(many).cardinalities == [1001]  # default max_categories 1000
    with pytest.raises(ConfigError, match="max_categories"):
        FeatureEncoder(max_categories=0)


def test_a_description_saved_before_indicators_encodes_as_it_did():
    description = json.loads((LEGACY / "tabular.json").read_text())["features"]
    assert "indicator_columns" not in description  # written by decoreg 0.1
    encoder = FeatureEncoder.from_dict(description)
    assert encoder.nan_policy == "error" and encoder.indicator_columns_ == []
    assert encoder.numeric_width == len(description["numeric_columns"])
    assert encoder.cardinalities == [len(v) + 1 for v in description["vocabularies"]]
    assert encoder.fit_report_ == {}


def test_round_trip_keeps_indicators_levels_and_report(holes: pd.DataFrame):
    encoder = FeatureEncoder().fit(holes)
    restored = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    before, after = encoder.transform(holes), restored.transform(holes)
    assert (before.numeric == after.numeric).all()
    assert (before.categorical == after.categorical).all()
    assert restored.fit_report_ == encoder.fit_report_
