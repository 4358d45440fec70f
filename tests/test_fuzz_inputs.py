"""Hostile inputs: property tests over the readers and the number parsing (hypothesis).

Each property runs a fixed, derandomized budget of examples (`FUZZ`), so CI runs the same
cases every time; the contract under test is "a clean answer or a DecoregError that says what
is wrong", never another exception, a hang, a NaN passed on, or a row silently dropped.
"""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from decoreg.causal_lm.grid_values import parse_grid
from decoreg.causal_lm.numbers import AffineScaler, DecimalFormat, digit_grid
from decoreg.data import (
    frame_from_python,
    numeric_targets,
    read_table,
    targets_from_python,
    texts_from_column,
    texts_from_features,
)
from decoreg.errors import DecoregError
from decoreg.tokenizers import make_tokenizer
from tests.conftest import char_tokenizer
from tests.fakes import fixed_regressor

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text with everything a file from elsewhere may hold: any unicode (astral planes, combining
# marks, right-to-left), control characters, NUL, BOM, lone surrogates excluded (not encodable).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)
NUMBER_LIKE_TEXT = st.one_of(
    FLOATS.map(repr),
    FLOATS.map(lambda v: f"{v:.3e}" if math.isfinite(v) else str(v)),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-Infinity", "1e999", "-1e-999", "0x1p3"]),
    st.sampled_from(["1_000", "١٢٣", "½", "+.5", "5.", "--1", "1e", "⁵", "１２", "3,5", "4 "]),
    ANY_TEXT,
)
MIXED_VALUES = st.one_of(
    FLOATS,
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    NUMBER_LIKE_TEXT,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8),
    st.complex_numbers(max_magnitude=10),
    st.lists(st.integers(), max_size=2),
)


def _write(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------- readers
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"")
@example(data=b"\xef\xbb\xbftext,y\n")
@example(data=b"text,y\n\x00,1\n")
@example(data=b'text,y\n"unterminated,1\n')
@example(data=b"a,b\n1,2,3,4\n")
@example(data=b'{"text": "x", "y": 1}\n{"text": \n')
@example(data=b"PAR1\x00\x00PAR1")
def test_reading_any_bytes_gives_rows_or_a_data_error(tmp_path, suffix, data):
    path = _write(tmp_path, suffix, data)
    try:
        frame = read_table(path)
    except DecoregError as error:
        assert str(path) in str(error)
        return
    assert isinstance(frame, pd.DataFrame) and len(frame) >= 1


WORDY_TEXT = ANY_TEXT.filter(lambda t: "\x00" not in t and any(c.isalpha() for c in t))


@FUZZ
@given(
    texts=st.lists(WORDY_TEXT, min_size=1, max_size=8),
    targets=st.lists(FINITE, min_size=8, max_size=8),
)
@example(texts=["a\rb", "\ufeffx", 'say "hi", then\nleave'], targets=[1.0] * 8)
def test_csv_round_trip_keeps_every_row_text_and_number(tmp_path, texts, targets):
    """Texts with quotes, commas, CR/LF, unicode and control characters survive a quoted CSV
    (as `decoreg predict` writes one), and every finite target reads back exactly.

    Texts hold a letter: a text column whose every value looks like a number ("007") is read
    as numbers by pandas' type inference (see the report of issue 4).
    """
    frame = pd.DataFrame({"text": texts, "y": targets[: len(texts)]})
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    back = read_table(path)
    assert len(back) == len(texts)
    np.testing.assert_array_equal(numeric_targets(back, "y", str(path)), frame["y"].to_numpy())
    assert [str(v) for v in back["text"]] == texts


@FUZZ
@given(values=st.lists(MIXED_VALUES, min_size=1, max_size=6))
def test_targets_of_mixed_types_are_finite_floats_or_an_error_naming_the_row(values):
    frame = pd.DataFrame({"y": pd.Series(values, dtype=object)})
    try:
        parsed = numeric_targets(frame, "y", "t.csv")
    except DecoregError as error:
        assert "t.csv, row " in str(error) and "column 'y'" in str(error)
        return
    assert parsed.dtype == np.float64 and len(parsed) == len(values)
    assert np.isfinite(parsed).all()


@FUZZ
@given(values=st.lists(MIXED_VALUES, min_size=0, max_size=6), extra=st.integers(0, 1))
def test_python_targets_check_count_and_values(values, extra):
    try:
        parsed = targets_from_python(values, len(values) + extra)
    except DecoregError as error:
        assert "<input>" in str(error)
        return
    assert extra == 0 and np.isfinite(parsed).all() and len(parsed) == len(values)


@example(raw=10**400)
@example(raw=Decimal("1e400"))
@example(raw="1e400")
@FUZZ
@given(raw=MIXED_VALUES)
def test_huge_numbers_are_refused_as_infinite_not_crashed_on(raw):
    frame = pd.DataFrame({"y": pd.Series([raw], dtype=object)})
    try:
        value = numeric_targets(frame, "y", "f")[0]
    except DecoregError:
        return
    assert math.isfinite(value)


@FUZZ
@given(texts=st.lists(st.one_of(ANY_TEXT, st.none(), FLOATS), min_size=1, max_size=6))
def test_text_columns_keep_any_text_and_refuse_empty_ones(texts):
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    try:
        out = texts_from_column(frame, "text", "t.csv")
    except DecoregError as error:
        assert "the text is empty" in str(error)
        return
    assert len(out) == len(texts) and all(isinstance(t, str) and t.strip() for t in out)


@FUZZ
@given(rows=st.lists(st.tuples(MIXED_VALUES, ANY_TEXT), min_size=1, max_size=5))
def test_feature_rows_serialize_whatever_they_hold(rows):
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype=object)
    texts = texts_from_features(frame, ["a", "b"], "t.csv")
    assert len(texts) == len(rows) and all(t.startswith("a: ") and "; b: " in t for t in texts)


@FUZZ
@given(inputs=st.one_of(st.lists(ANY_TEXT, max_size=4), ANY_TEXT, st.integers(), st.none()))
def test_python_inputs_become_a_frame_or_a_data_error(inputs):
    try:
        frame = frame_from_python(inputs)
    except DecoregError:
        return
    assert isinstance(frame, pd.DataFrame)


# ------------------------------------------------------------------------ number parsing
@FUZZ
@given(text=NUMBER_LIKE_TEXT, decimals=st.integers(0, 8))
def test_parsing_model_output_never_raises(text, decimals):
    value = DecimalFormat(decimals).parse(text)
    assert value is None or math.isfinite(value)


@FUZZ
@given(y=FINITE, decimals=st.integers(0, 8))
@example(y=5e-324, decimals=8)
@example(y=1.7976931348623157e308, decimals=0)
@example(y=-0.0, decimals=2)
def test_written_numbers_read_back_to_within_half_a_unit(y, decimals):
    fmt = DecimalFormat(decimals)
    text = fmt.format(y)
    assert not text.startswith("-0") or float(text) != 0.0  # no negative zero written
    back = fmt.parse(text)
    assert back is not None
    assert abs(back - y) <= 0.5 * 10.0**-decimals + 1e-15 * abs(y)


@FUZZ
@given(y=st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf)))
def test_non_finite_numbers_are_not_written(y):
    with pytest.raises(ValueError, match="non-finite"):
        DecimalFormat(1).format(y)


@FUZZ
@given(option=st.one_of(NUMBER_LIKE_TEXT, st.lists(NUMBER_LIKE_TEXT, max_size=4).map(",".join)))
@example(option="0:1e300:1e-300")
@example(option="1:2:0")
@example(option="nan:1:1")
@example(option="1,1")
def test_grid_options_give_finite_distinct_values_or_a_config_error(option):
    try:
        grid = parse_grid(option)
    except DecoregError:
        return
    assert len(grid) >= 2 and len(set(grid)) == len(grid)
    assert all(math.isfinite(v) for v in grid)


@FUZZ
@given(lo=FINITE, hi=FINITE)
def test_digit_grid_and_scaler_handle_any_finite_range(lo, hi):
    assume(lo <= hi)
    grid = digit_grid(lo, hi)
    assert len(grid) >= 2 and all(0 <= v <= 9 for v in grid)
    try:
        scaler = AffineScaler.onto((lo, hi), (min(grid), max(grid)))
    except DecoregError:
        return  # degenerate or overflowing ranges are refused, not turned into NaN
    z = scaler.transform(np.array([lo, hi]))
    assert np.isfinite(z).all()


@pytest.mark.parametrize("name", ["normalized", "p10", "ieee"])
@FUZZ
@given(ids=st.lists(st.integers(min_value=0, max_value=10_000), min_size=0, max_size=24))
def test_decoding_any_token_ids_gives_a_number_or_nan(name, ids):
    tokenizer = make_tokenizer(name, special_values=True)
    width = tokenizer.num_tokens
    rows = np.asarray([i % tokenizer.vocab_size for i in ids][: width * (len(ids) // width)])
    values = tokenizer.decode(rows.reshape(-1, width))
    assert values.shape == (len(rows) // width,)
    special = rows.reshape(-1, width)[:, 0] >= tokenizer.inner.vocab_size  # <INF>... reads inf
    assert not np.isinf(values[~special]).any() or name == "ieee"


@pytest.mark.parametrize("name", ["normalized", "p10", "ieee"])
@FUZZ
@given(y=FLOATS)
def test_any_float_can_be_written_and_read_back(name, y):
    """NaN and infinities go through the special-value tokens; finite values are clamped to the
    representable range and read back within the tokenizer's resolution."""
    tokenizer = make_tokenizer(name, special_values=True)
    tokens = tokenizer.to_tokens(y)
    back = tokenizer.from_tokens(tokens)
    if math.isnan(y):
        assert math.isnan(back)
    elif math.isfinite(back) and math.isfinite(y):
        inner = make_tokenizer(name)
        clamped = inner.from_tokens(inner.to_tokens(y))
        assert back == clamped


# --------------------------------------------------------------------- prompts from text
_TOKENIZER = char_tokenizer()
_MODEL = fixed_regressor(_TOKENIZER, [{"3": 1.0}])


@FUZZ
@given(texts=st.lists(ANY_TEXT.filter(str.strip), min_size=1, max_size=4))
@example(texts=["\x00\x01\x1b[31m", "‮evil", "x" * 5000])
def test_any_text_becomes_a_prompt_that_ends_with_the_answer_cue(texts):
    """Characters the tokenizer does not know become its unknown token; long texts are cut to
    max_prompt_tokens; the template's answer cue always survives."""
    prompts = _MODEL.prepare_inputs(texts)
    suffix = _TOKENIZER("\nA: ", add_special_tokens=False)["input_ids"]
    assert len(prompts) == len(texts)
    for ids in prompts:
        assert 0 < len(ids) <= _MODEL.spec.max_prompt_tokens
        assert ids[-len(suffix) :] == suffix
        assert all(0 <= i < len(_TOKENIZER) for i in ids)
