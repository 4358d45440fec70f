import math

import numpy as np
import pytest

from decoreg.causal_lm.numbers import AffineScaler, DecimalFormat, digit_grid, parse_many
from decoreg.errors import ConfigError


@pytest.mark.parametrize(
    ("decimals", "value", "text"),
    [
        (0, 4.0, "4"),
        (0, 3.6, "4"),
        (1, 3.14159, "3.1"),
        (2, -0.5, "-0.50"),
        (1, -0.04, "0.0"),
        (0, 0.0, "0"),
        (0, -0.0, "0"),
        (3, 12.0, "12.000"),
    ],
)
def test_format_writes_fixed_decimals(decimals, value, text):
    assert DecimalFormat(decimals).format(value) == text


@pytest.mark.parametrize("value", [0.0, 1.5, -2.25, 123.456, 1e-3, 4.0])
def test_format_then_parse_round_trips_within_resolution(value):
    number_format = DecimalFormat(3)
    assert abs(number_format.parse(number_format.format(value)) - value) <= 0.0005


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4.0),
        (" 4\n", 4.0),
        ("3.5 stars", 3.5),
        ("-0.25", -0.25),
        ("Rating: 5/5", 5.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("", None),
        ("five", None),
        ("-", None),
        ("inf", None),
        ("1e999", None),
        ("\x00\x01", None),
    ],
)
def test_parse_reads_first_number_and_never_raises(text, expected):
    assert DecimalFormat(0).parse(text) == expected


def test_parse_many_counts_unparseable():
    values, parsed = parse_many(DecimalFormat(0), ["1", "x", "2.5"])
    assert parsed.tolist() == [True, False, True]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == 2.5


def test_format_refuses_non_finite():
    with pytest.raises(ValueError):
        DecimalFormat(0).format(float("nan"))


def test_affine_scaler_maps_interval_and_inverts():
    scaler = AffineScaler.onto((10.0, 50.0), (0.0, 9.0))
    # scale = 9 / 40 = 0.225, offset = -2.25: 10 -> 0, 30 -> 4.5, 50 -> 9
    np.testing.assert_allclose(scaler.transform(np.array([10.0, 30.0, 50.0])), [0.0, 4.5, 9.0])
    y = np.array([-3.0, 12.5, 77.0])
    np.testing.assert_allclose(scaler.inverse(scaler.transform(y)), y)


def test_scaler_rejects_degenerate_range():
    with pytest.raises(ConfigError):
        AffineScaler.onto((2.0, 2.0), (0.0, 9.0))


@pytest.mark.parametrize(
    ("lo", "hi", "grid"),
    [
        (1, 5, (1, 2, 3, 4, 5)),
        (0.15, 5.0, (0, 1, 2, 3, 4, 5)),
        (10, 50, tuple(range(10))),
        (-5, -1, tuple(range(10))),
        (3, 3, (2, 3, 4)),
    ],
)
def test_digit_grid_spans_targets_within_digits(lo, hi, grid):
    assert digit_grid(lo, hi) == tuple(float(v) for v in grid)
