"""The expert of expert-guided ReMax for the decimal text a causal LM writes.

GenRe2's rule (`decoreg.rl.expert.expert_digits_fixed_length`) for variable-length numbers:
after a rollout's own prefix, the expert's symbol is the allowed one after which the closest
number the grammar can still reach is nearest the truth.
"""

from __future__ import annotations

from decoreg.causal_lm.digit_grammar import ALPHABET, EOS, DigitGrammar


def expert_symbols(grammar: DigitGrammar, sampled: list[str], truth: float) -> list[str]:
    """The expert's symbol after each prefix `sampled[:t]` of one sampled number.

    Args:
        grammar: The number grammar the LM writes under.
        sampled: The sampled symbols (digits, '.', '-', and EOS as "" if it ended).
        truth: The target as written (already rounded to the grammar's decimals).

    Returns:
        One symbol of `ALPHABET` per sampled symbol: the allowed symbol whose best completion
        is closest to `truth` (ties go to the earlier symbol of `ALPHABET`).
    """
    experts, prefix = [], ""
    for symbol in sampled:
        choices = grammar.allowed(prefix)
        experts.append(
            min(
                choices,
                key=lambda s: (grammar.distance_after(prefix, s, truth), ALPHABET.index(s)),
            )
        )
        if symbol == EOS or symbol not in choices:
            break  # nothing is conditioned on symbols past the end or off the grammar
        prefix += symbol
    return experts
