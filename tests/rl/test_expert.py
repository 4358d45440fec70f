"""The expert's next token: GenRe2's rule on fixed-length digits, and the LM number grammar."""

import pytest
import torch

from decoreg.causal_lm.digit_grammar import EOS, DigitGrammar
from decoreg.causal_lm.expert import expert_symbols
from decoreg.rl.expert import expert_digits_fixed_length

# sampled digits, truth digits, expert digit after each prefix sampled[:t] (base 10)
FIXED_LENGTH_TABLE = [
    ("523", "523", "523"),  # on the truth's path all along
    ("530", "523", "520"),  # prefix 53 > 52: smallest digit
    ("499", "523", "599"),  # prefix 4 < 5: largest digits from then on
    ("600", "523", "500"),  # prefix 6 > 5: smallest digits
    ("519", "523", "529"),  # prefix 51 < 52: largest digit at the last position
    ("000", "999", "999"),
    ("999", "000", "000"),
]


@pytest.mark.parametrize(("sampled", "truth", "expected"), FIXED_LENGTH_TABLE)
def test_fixed_length_rule(sampled, truth, expected):
    def digits(text):
        return torch.tensor([[int(c) for c in text]])

    out = expert_digits_fixed_length(digits(sampled), digits(truth), 0, 9)
    assert "".join(str(d) for d in out[0].tolist()) == expected


def test_fixed_length_rule_batched_equals_row_by_row():
    sampled = torch.tensor([[int(c) for c in s] for s, _, _ in FIXED_LENGTH_TABLE])
    truth = torch.tensor([[int(c) for c in t] for _, t, _ in FIXED_LENGTH_TABLE])
    expected = [e for _, _, e in FIXED_LENGTH_TABLE]
    out = expert_digits_fixed_length(sampled, truth, 0, 9)
    assert ["".join(map(str, row)) for row in out.tolist()] == expected


def test_fixed_length_rule_in_base_4():
    out = expert_digits_fixed_length(
        torch.tensor([[1, 0], [3, 3]]), torch.tensor([[2, 2]] * 2), 0, 3
    )
    assert out.tolist() == [[2, 3], [2, 0]]


def test_lm_rule_matches_the_fixed_length_rule_on_fixed_length_numbers():
    """One decimal, integer part 0..9: the numbers d.d are fixed-length, most significant
    first, so the argmin rule must give GenRe2's table (point and EOS are forced)."""
    grammar = DigitGrammar(decimals=1, max_int_digits=1, allow_negative=False)
    for sampled, truth, expected in [("5.2", 5.2, "5.2"), ("6.0", 5.2, "5.0"), ("4.1", 5.2, "5.9")]:
        out = expert_symbols(grammar, [*sampled, EOS], truth)
        assert "".join(out) == expected  # EOS is "", so it vanishes from the join


# grammar: up to 2 integer digits, 1 decimal; (sampled text, truth, experts)
LM_TABLE = [
    ("3.4", 5.0, ["5", ".", "9", EOS]),  # from '3.' the best is 3.9
    ("12.1", 5.2, ["5", ".", ".", "0", EOS]),  # '1' -> 1.x beats 1x.x; '12.' -> 12.0
    ("12.1", 12.3, ["1", "2", ".", "3", EOS]),  # on the truth's path
    ("7.1", 75.0, ["7", "5", "9", EOS]),  # after '7' the expert wants '5'; '7.' -> 7.9
    ("0.5", 3.0, ["3", ".", "9", EOS]),  # '0' can only take a point
]


@pytest.mark.parametrize(("sampled", "truth", "expected"), LM_TABLE)
def test_lm_expert_table(sampled, truth, expected):
    grammar = DigitGrammar(decimals=1, max_int_digits=2, allow_negative=False)
    assert expert_symbols(grammar, [*sampled, EOS], truth) == expected


def test_lm_expert_with_negative_numbers():
    grammar = DigitGrammar(decimals=0, max_int_digits=1, allow_negative=True)
    # after '-' the closest reachable number to 2 is -1 (no '-0' is written with 0 decimals)
    assert expert_symbols(grammar, ["-", "3", EOS], 2.0) == ["2", "1", EOS]
    assert expert_symbols(grammar, ["-", "3", EOS], -2.0) == ["-", "2", EOS]


def test_grammar_allowed_symbols():
    grammar = DigitGrammar(decimals=1, max_int_digits=2, allow_negative=True)
    assert set(grammar.allowed("")) == set("0123456789-")
    assert grammar.allowed("0") == (".",)
    assert set(grammar.allowed("1")) == set("0123456789.")
    assert grammar.allowed("12") == (".",)
    assert grammar.allowed("12.3") == (EOS,)
    assert grammar.max_tokens == 1 + 2 + 2 + 1
    integers = DigitGrammar(decimals=0, max_int_digits=1, allow_negative=False)
    assert set(integers.allowed("")) == set("0123456789")
    assert integers.allowed("7") == (EOS,)
