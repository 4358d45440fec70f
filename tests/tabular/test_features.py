"""FeatureEncoder: standardization, categories, NaN policy and bad-input messages."""

import json

import numpy as np
import pandas as pd
import pytest

from decoreg.errors import ConfigError, DataError
from decoreg.tabular.features import FeatureEncoder, as_frame


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1.0, 2.0, 3.0, 4.0], "color": ["red", "blue", "red", "green"], "n": [1, 1, 1, 1]}
    )


def test_standardizes_with_training_statistics(train: pd.DataFrame):
    """a = [1, 2, 3, 4]: mean 2.5, population std sqrt(1.25) = 1.1180, so 1 -> -1.3416.
    n is constant: std 0 is replaced by 1, so every row encodes to 0."""
    encoder = FeatureEncoder().fit(train)
    assert encoder.numeric_columns_ == ["a", "n"]
    assert encoder.category_columns_ == ["color"]
    encoded = encoder.transform(pd.DataFrame({"a": [1.0, 5.0], "color": ["red", "red"], "n": 1}))
    np.testing.assert_allclose(encoded.numeric[:, 0], [-1.5 / 1.25**0.5, 2.5 / 1.25**0.5])
    np.testing.assert_allclose(encoded.numeric[:, 1], [0.0, 0.0])


def test_categories_index_from_one_and_unseen_map_to_zero(train: pd.DataFrame):
    """Sorted training values blue, green, red get 1, 2, 3; 'purple' was never seen: 0."""
    encoder = FeatureEncoder().fit(train)
    assert encoder.cardinalities == [4]
    rows = pd.DataFrame({"a": 1.0, "n": 1, "color": ["blue", "red", "purple", "purple"]})
    encoded = encoder.transform(rows)
    assert encoded.categorical[:, 0].tolist() == [1, 3, 0, 0]
    assert encoded.unseen == {"color": 2} and encoded.imputed == {}
    encoder.transform(rows)
    assert encoder.counts["unseen:color"] == 4  # running total over both calls


def test_non_numeric_value_in_a_numeric_column_names_row_and_column(train: pd.DataFrame):
    encoder = FeatureEncoder().fit(train)
    rows = pd.DataFrame({"a": [1.0, "abc", 2.0], "color": "red", "n": 1}, index=[10, 11, 12])
    with pytest.raises(DataError, match=r"column 'a', row 1 \(index label 11\) holds 'abc'"):
        encoder.transform(rows)


def test_a_typo_in_a_mostly_numeric_column_fails_at_fit():
    frame = pd.DataFrame({"x": [str(i) for i in range(19)] + ["oops"]})
    with pytest.raises(DataError, match=r"column 'x', row 19 .* 'oops'"):
        FeatureEncoder().fit(frame)


def test_a_category_column_of_digit_labels_is_categorical():
    """Plain strings of digits read as numbers; the same labels in a `category` column (how a
    dataset declares integer codes, e.g. school ids) are levels, 3 of them here."""
    codes = ["63", "20", "19", "63"]
    encoder = FeatureEncoder().fit(
        pd.DataFrame({"as_text": codes, "school": pd.Series(codes, dtype="category")})
    )
    assert encoder.numeric_columns_ == ["as_text"] and encoder.category_columns_ == ["school"]
    assert encoder.vocabularies_ == [["19", "20", "63"]]


def test_numeric_strings_are_numeric_and_declared_columns_categorical():
    frame = pd.DataFrame({"x": ["1.5", "2.5"], "zip": [2134, 2135]})
    encoder = FeatureEncoder(categorical_columns=["zip"]).fit(frame)
    assert encoder.numeric_columns_ == ["x"] and encoder.category_columns_ == ["zip"]
    assert encoder.vocabularies_ == [["2134", "2135"]]
    with pytest.raises(ConfigError, match="not columns"):
        FeatureEncoder(categorical_columns=["nope"]).fit(frame)


def test_missing_feature_columns_at_predict(train: pd.DataFrame):
    encoder = FeatureEncoder().fit(train)
    with pytest.raises(DataError, match=r"\['n', 'color'\] were present at fit"):
        encoder.transform(pd.DataFrame({"a": [1.0], "extra": [3]}))


def test_nan_policy_error_names_row_and_column(train: pd.DataFrame):
    with_nan = train.assign(a=[1.0, np.nan, 3.0, 4.0])
    with pytest.raises(DataError, match=r"column 'a', row 1 .* missing"):
        FeatureEncoder(nan_policy="error").fit(with_nan)
    encoder = FeatureEncoder(nan_policy="error").fit(train)
    with pytest.raises(DataError, match=r"column 'color', row 0 .* missing"):
        encoder.transform(train.assign(color=[None, "red", "red", "red"]))


def test_nan_policy_impute_uses_the_training_median_and_counts():
    """Non-missing a = [1, 3, 4]: median 3, mean 8/3, std sqrt(14/9); the NaN row becomes
    (3 - 8/3) / sqrt(14/9) = 0.2673; a missing category becomes the unknown index 0."""
    train = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "c": ["u", "v", None, "u"]})
    encoder = FeatureEncoder(nan_policy="impute").fit(train)
    assert encoder.medians_.tolist() == [3.0]
    encoded = encoder.transform(train)
    assert float(encoded.numeric[1, 0]) == pytest.approx((3 - 8 / 3) / (14 / 9) ** 0.5, rel=1e-6)
    assert encoded.categorical[:, 0].tolist() == [1, 2, 0, 1]
    assert encoded.imputed == {"a": 1, "c": 1} and encoded.unseen == {}
    assert encoder.counts == {"imputed:a": 1, "imputed:c": 1}


def test_infinite_values_are_errors(train: pd.DataFrame):
    with pytest.raises(DataError, match=r"column 'a', row 2 .* infinite"):
        FeatureEncoder(nan_policy="impute").fit(train.assign(a=[1.0, 2.0, np.inf, 4.0]))


def test_dict_rows_encode_like_a_frame(train: pd.DataFrame):
    encoder = FeatureEncoder().fit(train)
    from_frame = encoder.transform(train)
    from_rows = encoder.transform(train.to_dict("records"))
    assert (from_frame.numeric == from_rows.numeric).all()
    assert (from_frame.categorical == from_rows.categorical).all()


def test_bad_containers_and_shapes():
    with pytest.raises(DataError, match="DataFrame or a sequence of dict rows"):
        as_frame([[1, 2], [3, 4]])
    with pytest.raises(DataError, match="shape"):
        FeatureEncoder().fit(pd.DataFrame())
    with pytest.raises(DataError, match="not fitted"):
        FeatureEncoder().transform(pd.DataFrame({"a": [1]}))
    with pytest.raises(ConfigError, match="nan_policy"):
        FeatureEncoder(nan_policy="drop")


def test_integer_column_names_become_strings():
    encoder = FeatureEncoder().fit(pd.DataFrame(np.eye(3)))
    assert encoder.numeric_columns_ == ["0", "1", "2"]
    assert encoder.transform(pd.DataFrame(np.eye(3))).numeric.shape == (3, 3)


def test_serialization_round_trip(train: pd.DataFrame):
    encoder = FeatureEncoder(nan_policy="impute").fit(train)
    restored = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    rows = train.assign(color=["red", "pink", None, "blue"])
    before, after = encoder.transform(rows), restored.transform(rows)
    assert (before.numeric == after.numeric).all()
    assert (before.categorical == after.categorical).all()
