"""Number tokenizers: table-driven round trips, grammar, id helpers and a round-trip property."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from decoreg.errors import ConfigError
from decoreg.tokenizers import (
    INVALID,
    NUMBER_TOKENIZERS,
    IEEETokenizer,
    NormalizedTokenizer,
    NumberTokenizer,
    P10Tokenizer,
    SpecialValues,
    make_tokenizer,
)

NORM = NormalizedTokenizer(base=10, digits=4)
P10 = P10Tokenizer(digits=4, max_exponent=10)
IEEE = IEEETokenizer(base=10, exponent_digits=1, mantissa_digits=4)


def tokens(text: str) -> list[str]:
    """'<+><1><E-3>' -> ['<+>', '<1>', '<E-3>']."""
    return [t + ">" for t in text.split(">") if t]


# (tokenizer, y, expected tokens, value read back). Derivations in the trailing comments.
ROUND_TRIPS = [
    (NORM, 0.0, "<0><0><0><0>", 0.0),
    (NORM, -0.0, "<0><0><0><0>", 0.0),  # no sign in [0, 1]
    (NORM, 0.5, "<5><0><0><0>", 0.5),
    (NORM, 0.12344, "<1><2><3><4>", 0.1234),  # 1234.4 rounds to 1234
    (NORM, 1.0, "<9><9><9><9>", 0.9999),  # largest code is 1 - 10^-4
    (NORM, 1.5, "<9><9><9><9>", 0.9999),  # overflow clamps
    (NORM, -2.0, "<0><0><0><0>", 0.0),  # underflow clamps
    (NORM, math.inf, "<9><9><9><9>", 0.9999),
    (NORM, -math.inf, "<0><0><0><0>", 0.0),
    (NormalizedTokenizer(2, 3), 0.25, "<0><1><0>", 0.25),  # power of the base: 2^-2
    (NormalizedTokenizer(2, 3), 0.0625, "<0><0><1>", 0.125),  # 8 * 2^-4 = 0.5 rounds half up
    (NormalizedTokenizer(16, 2), 255 / 256, "<15><15>", 255 / 256),
    (P10, 0.0, "<+><0><0><0><0><E0>", 0.0),
    (P10, 1000.0, "<+><1><0><0><0><E0>", 1000.0),  # 10^3 = 1000 * 10^0
    (P10, 0.01, "<+><1><0><0><0><E-5>", 0.01),  # 10^-2 = 1000 * 10^-5
    (P10, -3.75, "<-><3><7><5><0><E-3>", -3.75),
    (P10, 12345.0, "<+><1><2><3><5><E1>", 12350.0),  # 1234.5 rounds half up
    (P10, 99995.0, "<+><1><0><0><0><E2>", 100000.0),  # 9999.5 -> 10000 carries a digit
    (P10, 1e30, "<+><9><9><9><9><E10>", 9999e10),  # overflow clamps to the largest
    (P10, -math.inf, "<-><9><9><9><9><E10>", -9999e10),
    (P10, 1.23456e-7, "<+><1><2><3><5><E-10>", 1.235e-7),  # smallest normal exponent
    (P10, 1.23456e-8, "<+><0><1><2><3><E-10>", 1.23e-8),  # gradual underflow: 123.456 -> 123
    (P10, 3.7e-10, "<+><0><0><0><4><E-10>", 4e-10),
    (P10, 1e-30, "<+><0><0><0><0><E-10>", 0.0),  # underflow to zero
    (IEEE, 0.0, "<+><+><0><0><0><0><0>", 0.0),
    (IEEE, 1000.0, "<+><+><3><1><0><0><0>", 1000.0),  # 1.000 * 10^3
    (IEEE, 0.01, "<+><-><2><1><0><0><0>", 0.01),  # 1.000 * 10^-2
    (IEEE, 1.234e-5, "<+><-><5><1><2><3><4>", 1.234e-5),
    (IEEE, -12.5, "<-><+><1><1><2><5><0>", -12.5),
    (IEEE, 1e30, "<+><+><9><9><9><9><9>", 9.999e9),  # overflow: 9.999 * 10^9
    (IEEE, 5e-10, "<+><-><9><0><5><0><0>", 5e-10),  # denormal: 0.500 * 10^-9
    (IEEE, 2e-12, "<+><-><9><0><0><0><2>", 2e-12),  # smallest step: 0.001 * 10^-9
    (IEEE, 1e-30, "<+><+><0><0><0><0><0>", 0.0),
    (IEEETokenizer(2, 3, 4), 8.0, "<+><+><0><1><1><1><0><0><0>", 8.0),  # 1.000b * 2^3
    (IEEETokenizer(2, 3, 4), 0.375, "<+><-><0><1><0><1><1><0><0>", 0.375),  # 1.100b * 2^-2
]


@pytest.mark.parametrize(("tokenizer", "y", "expected", "value"), ROUND_TRIPS)
def test_round_trip_table(tokenizer: NumberTokenizer, y: float, expected: str, value: float):
    written = tokenizer.to_tokens(y)
    assert "".join(written) == expected
    assert len(written) == tokenizer.num_tokens
    assert tokenizer.from_tokens(written) == pytest.approx(value, rel=1e-15, abs=0.0)


@pytest.mark.parametrize("tokenizer", [P10, IEEE, SpecialValues(P10)])
def test_negative_zero_keeps_its_sign(tokenizer: NumberTokenizer):
    written = tokenizer.to_tokens(-0.0)
    assert written[0] == "<->"
    back = tokenizer.from_tokens(written)
    assert back == 0.0 and math.copysign(1.0, back) == -1.0


@pytest.mark.parametrize("tokenizer", [NORM, P10, IEEE])
def test_nan_needs_the_special_value_wrapper(tokenizer: NumberTokenizer):
    with pytest.raises(ValueError, match="NaN"):
        tokenizer.to_tokens(math.nan)


@pytest.mark.parametrize("inner", [NORM, P10, IEEE])
def test_special_values_round_trip(inner: NumberTokenizer):
    wrapped = SpecialValues(inner)
    length = inner.num_tokens
    assert wrapped.to_tokens(math.nan) == ["<NAN>"] * length
    assert math.isnan(wrapped.from_tokens(["<NAN>"] * length))
    assert wrapped.from_tokens(wrapped.to_tokens(math.inf)) == math.inf
    assert wrapped.from_tokens(wrapped.to_tokens(-math.inf)) == -math.inf
    invalid = wrapped.to_tokens(INVALID)
    assert invalid == ["<INVALID>"] * length
    assert math.isnan(wrapped.from_tokens(invalid))
    assert wrapped.special_value(invalid) == "INVALID"
    assert wrapped.special_value(wrapped.to_tokens(0.5)) is None
    assert wrapped.to_tokens(0.5) == inner.to_tokens(0.5)
    assert wrapped.from_tokens(wrapped.to_tokens(0.5)) == inner.from_tokens(inner.to_tokens(0.5))


def test_p10_grammar():
    assert P10.possible_next_tokens([]) == ("<+>", "<->")
    assert P10.possible_next_tokens(tokens("<+><1>")) == tuple(f"<{d}>" for d in range(10))
    last = P10.possible_next_tokens(tokens("<+><1><2><3><4>"))
    assert last[0] == "<E-10>" and last[-1] == "<E10>" and len(last) == 21
    with pytest.raises(ValueError):
        P10.possible_next_tokens(tokens("<+><1><2><3><4><E0>"))


def test_ieee_grammar_shares_sign_tokens_between_sign_and_exponent_sign():
    assert IEEE.possible_next_tokens([]) == ("<+>", "<->")
    assert IEEE.possible_next_tokens(["<->"]) == ("<+>", "<->")
    assert IEEE.possible_next_tokens(["<->", "<+>"]) == tuple(f"<{d}>" for d in range(10))
    assert IEEE.all_tokens() == ("<+>", "<->", *(f"<{d}>" for d in range(10)))


def test_special_values_grammar():
    wrapped = SpecialValues(P10)
    first = wrapped.possible_next_tokens([])
    assert set(first) == {"<+>", "<->", "<NAN>", "<INF>", "<-INF>", "<INVALID>"}
    assert wrapped.possible_next_tokens(["<NAN>", "<NAN>"]) == ("<NAN>",)
    assert "<NAN>" not in wrapped.possible_next_tokens(["<+>"])


@pytest.mark.parametrize(
    ("tokenizer", "bad"),
    [
        (P10, "<+><1><2><3><4>"),  # too short
        (P10, "<1><1><2><3><4><E0>"),  # digit where the sign goes
        (P10, "<+><1><2><3><4><5>"),  # digit where the exponent goes
        (IEEE, "<+><+><-><1><2><3><4>"),  # sign among the digits
        (SpecialValues(P10), "<NAN><NAN><NAN><1><NAN><NAN>"),  # special token not repeated
        (SpecialValues(P10), "<+><NAN><2><3><4><E0>"),  # special token after a sign
    ],
)
def test_invalid_token_strings(tokenizer: NumberTokenizer, bad: str):
    assert not tokenizer.is_valid(tokens(bad))
    with pytest.raises(ValueError, match="not a valid number"):
        tokenizer.from_tokens(tokens(bad))
    if len(tokens(bad)) == tokenizer.num_tokens:  # decode() reads NaN instead of raising
        assert np.isnan(tokenizer.decode(np.asarray([tokenizer.tokens_to_ids(tokens(bad))]))).all()


def test_id_helpers():
    ids = P10.tokens_to_ids(tokens("<+><1><0><0><0><E-5>"))
    assert ids == [0, 3, 2, 2, 2, 12 + 5]  # <+> <-> <0>..<9> then <E-10> at 12
    assert P10.ids_to_tokens(ids) == tokens("<+><1><0><0><0><E-5>")
    assert P10.vocab_size == 2 + 10 + 21
    encoded = P10.encode([0.01, -3.75])
    assert encoded.shape == (2, 6) and encoded.dtype == np.int64
    np.testing.assert_array_equal(P10.decode(encoded), [0.01, -3.75])
    with pytest.raises(ValueError, match="not a token"):
        P10.tokens_to_ids(["<X>"])


def test_digit_values_mark_only_digit_tokens():
    values = P10.digit_values()
    assert np.isnan(values[:2]).all() and np.isnan(values[12:]).all()
    np.testing.assert_array_equal(values[2:12], np.arange(10))
    np.testing.assert_array_equal(NormalizedTokenizer(16, 2).digit_values(), np.arange(16))


def _random_prefixes(tokenizer: NumberTokenizer, rng: np.random.Generator, n: int):
    """Random grammar-valid prefixes of every length, drawn token by token from the grammar."""
    for _ in range(n):
        prefix: list[str] = []
        stop = int(rng.integers(0, tokenizer.num_tokens))
        while len(prefix) < stop:
            allowed = tokenizer.possible_next_tokens(prefix)
            prefix.append(allowed[int(rng.integers(len(allowed)))])
        yield prefix


@pytest.mark.parametrize(
    "tokenizer", [NORM, P10, IEEE, SpecialValues(NORM), SpecialValues(P10), SpecialValues(IEEE)]
)
def test_vectorized_masks_and_validity_agree_with_the_grammar(tokenizer: NumberTokenizer):
    rng = np.random.default_rng(0)
    for prefix in _random_prefixes(tokenizer, rng, 60):
        prefix_ids = torch.tensor([tokenizer.tokens_to_ids(prefix)], dtype=torch.long)
        mask = tokenizer.next_token_mask(prefix_ids.view(1, len(prefix)))[0]
        expected = set(tokenizer.possible_next_tokens(prefix))
        allowed = {tokenizer.all_tokens()[i] for i in torch.nonzero(mask).flatten().tolist()}
        assert allowed == expected
    ids = rng.integers(0, tokenizer.vocab_size, size=(300, tokenizer.num_tokens))
    ids[:50] = tokenizer.encode(rng.uniform(-2, 2, size=50))
    slow = [tokenizer.is_valid(tokenizer.ids_to_tokens(row)) for row in ids]
    np.testing.assert_array_equal(tokenizer.valid_rows(ids), slow)
    assert all(slow[:50])


def _check_round_trip(tokenizer: NumberTokenizer, y: float) -> None:
    back = tokenizer.from_tokens(tokenizer.to_tokens(y))
    # resolution() is exact arithmetic; reading back into float64 adds at most a few ulps.
    slack = 4 * math.ulp(max(abs(y), abs(back)))
    assert abs(back - y) <= tokenizer.resolution(y) + slack, (y, back)


@settings(max_examples=200, deadline=None)
@given(y=st.floats(0.0, 1.0), base=st.sampled_from([2, 10, 16]), digits=st.integers(1, 6))
def test_normalized_round_trip_within_resolution(y: float, base: int, digits: int):
    _check_round_trip(NormalizedTokenizer(base, digits), y)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), digits=st.integers(1, 6), max_exponent=st.integers(0, 12))
def test_p10_round_trip_within_resolution(data: st.DataObject, digits: int, max_exponent: int):
    tokenizer = P10Tokenizer(digits, max_exponent)
    y = data.draw(st.floats(-tokenizer.max_value, tokenizer.max_value))
    _check_round_trip(tokenizer, y)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    shape=st.sampled_from([(10, 1, 4), (10, 2, 3), (2, 3, 6), (2, 4, 10), (16, 1, 3)]),
)
def test_ieee_round_trip_within_resolution(data: st.DataObject, shape: tuple[int, int, int]):
    tokenizer = IEEETokenizer(*shape)
    y = data.draw(st.floats(-tokenizer.max_value, tokenizer.max_value))
    _check_round_trip(tokenizer, y)


def test_resolution_of_the_default_formats():
    """Half a step: normalized 0.5 * 10^-4; P10 at 12.5 (mantissa exponent -2) 0.5 * 10^-2;
    IEEE at 12.5 (1.250 * 10^1, last digit 10^-2) 0.5 * 10^-2."""
    assert NORM.resolution(0.3) == pytest.approx(0.5e-4)
    assert P10.resolution(12.5) == pytest.approx(0.5e-2)
    assert IEEE.resolution(12.5) == pytest.approx(0.5e-2)


def test_registry_and_factory():
    assert set(NUMBER_TOKENIZERS) == {"normalized", "p10", "ieee"}
    assert make_tokenizer("p10", {"digits": 3}) == P10Tokenizer(digits=3)
    wrapped = make_tokenizer("normalized", special_values=True)
    assert isinstance(wrapped, SpecialValues) and wrapped.inner == NormalizedTokenizer()
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        make_tokenizer("p11")
    with pytest.raises(ConfigError, match="no option"):
        make_tokenizer("p10", {"digit": 3})
    with pytest.raises(ConfigError, match="must be an int"):
        make_tokenizer("p10", {"digits": 3.0})


@pytest.mark.parametrize(
    "build",
    [
        lambda: NormalizedTokenizer(base=1),
        lambda: NormalizedTokenizer(digits=0),
        lambda: P10Tokenizer(digits=0),
        lambda: P10Tokenizer(max_exponent=-1),
        lambda: IEEETokenizer(base=10, exponent_digits=3),  # 10^999 overflows float64
        lambda: IEEETokenizer(mantissa_digits=0),
        lambda: SpecialValues(SpecialValues(P10)),
    ],
)
def test_invalid_options_raise_config_error(build):
    with pytest.raises(ConfigError):
        build()
