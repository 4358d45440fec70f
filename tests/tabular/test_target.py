"""TargetTransform: z-score then min-max, invertible, with a clip margin."""

import json

import numpy as np
import pytest

from decoreg.errors import ConfigError, DataError
from decoreg.tabular.target import TargetTransform


def test_hand_worked_transform():
    """y = [1, 2, 3, 5]: mean 2.75, std sqrt(8.75 / 4) = 1.4790. z spans
    [(1 - 2.75) / s, (5 - 2.75) / s], and (z - z_min) / (z_max - z_min) = (y - 1) / 4,
    so u = [0, 0.25, 0.5, 1]."""
    transform = TargetTransform.fit(np.array([1.0, 2.0, 3.0, 5.0]))
    assert transform.mean == pytest.approx(2.75)
    assert transform.std == pytest.approx((8.75 / 4) ** 0.5)
    assert transform.z_min == pytest.approx(-1.75 / (8.75 / 4) ** 0.5)
    np.testing.assert_allclose(transform.forward(np.array([1.0, 2.0, 3.0, 5.0])), [0, 0.25, 0.5, 1])
    np.testing.assert_allclose(transform.inverse(np.array([0.0, 0.25, 0.5, 1.0])), [1, 2, 3, 5])


def test_clip_margin_bounds_decoded_values():
    """Margin 0.1 clips u = 1.5 to 1.1, i.e. y = 1 + 1.1 * 4 = 5.4; u = -1 clips to -0.1,
    y = 0.6. Without clipping u = 1.5 maps to 7."""
    transform = TargetTransform.fit(np.array([1.0, 2.0, 3.0, 5.0]), clip_margin=0.1)
    np.testing.assert_allclose(transform.inverse(np.array([1.5, -1.0])), [5.4, 0.6])
    np.testing.assert_allclose(transform.inverse(np.array([1.5]), clip=False), [7.0])
    unclipped = TargetTransform.fit(np.array([1.0, 2.0, 3.0, 5.0]), clip_margin=None)
    np.testing.assert_allclose(unclipped.inverse(np.array([1.5])), [7.0])
    assert np.isnan(transform.inverse(np.array([np.nan])))[0]


def test_round_trip_on_random_targets():
    rng = np.random.default_rng(0)
    y = rng.lognormal(size=200) * 1e4
    transform = TargetTransform.fit(y)
    u = transform.forward(y)
    assert u.min() == pytest.approx(0.0, abs=1e-12) and u.max() == pytest.approx(1.0)
    np.testing.assert_allclose(transform.inverse(u), y, rtol=1e-12)


def test_constant_target_is_a_data_error():
    with pytest.raises(DataError, match="constant"):
        TargetTransform.fit(np.full(10, 3.5))


def test_non_finite_and_too_few_targets():
    with pytest.raises(DataError, match="target row 2 is nan"):
        TargetTransform.fit(np.array([1.0, 2.0, np.nan, 3.0]))
    with pytest.raises(DataError, match="target row 0 is inf"):
        TargetTransform.fit(np.array([np.inf, 2.0]))
    with pytest.raises(DataError, match="at least two"):
        TargetTransform.fit(np.array([1.0]))


def test_invalid_statistics_and_margin():
    with pytest.raises(ConfigError):
        TargetTransform(mean=0.0, std=0.0, z_min=-1.0, z_max=1.0)
    with pytest.raises(ConfigError, match="clip_margin"):
        TargetTransform(mean=0.0, std=1.0, z_min=-1.0, z_max=1.0, clip_margin=-0.1)


def test_serialization_round_trip():
    transform = TargetTransform.fit(np.array([1.0, 2.0, 3.0, 5.0]), clip_margin=0.2)
    assert TargetTransform.from_dict(json.loads(json.dumps(transform.to_dict()))) == transform
