"""`Family.resolve_decoder`: the one rule for which decoder reads which objective."""

import re

import pytest

from decoreg.errors import ConfigError
from decoreg.families import FAMILIES, get_family

CAUSAL_LM, TABULAR = get_family("causal-lm"), get_family("tabular")


@pytest.mark.parametrize(
    ("family", "objective", "expected"),
    [
        (CAUSAL_LM, "raft", "grid-mean"),
        (CAUSAL_LM, "ce", "grid-mean"),
        (CAUSAL_LM, "grpo", "grid-mean"),
        (CAUSAL_LM, "head", "head"),
        (CAUSAL_LM, "learnable-raft", "head"),
        (TABULAR, "ce", "sample-mean"),
        (TABULAR, "ntl-was", "sample-mean"),
        (TABULAR, "remax", "sample-mean"),
        (TABULAR, "pointwise-mse", "head-pointwise"),
        (TABULAR, "riemann", "head-riemann"),
    ],
)
def test_the_default_decoder_of_each_objective(family, objective, expected):
    assert family.resolve_decoder(objective, None) == expected


def test_a_decoder_the_objective_allows_is_kept():
    assert CAUSAL_LM.resolve_decoder("ce", "greedy") == "greedy"
    assert CAUSAL_LM.resolve_decoder("head", "head") == "head"
    assert TABULAR.resolve_decoder("riemann", "head-riemann-median") == "head-riemann-median"
    assert TABULAR.resolve_decoder("dist", "sample-quantile") == "sample-quantile"


def test_a_head_objective_refuses_decoding():
    expected = (
        "decoder 'greedy' cannot be used with objective 'head': heads do not decode, their "
        "number is read directly (decoder 'head', the default); leave the decoder unset"
    )
    with pytest.raises(ConfigError, match=re.escape(expected)):
        CAUSAL_LM.resolve_decoder("head", "greedy")
    with pytest.raises(ConfigError, match=r"'head-riemann', the default, or \['head-riemann-m"):
        TABULAR.resolve_decoder("riemann", "head-pointwise")


def test_a_heads_readout_is_refused_for_an_objective_that_trains_none():
    with pytest.raises(ConfigError, match="'head' reads a predictive head, but objective 'raft' "):
        CAUSAL_LM.resolve_decoder("raft", "head")
    with pytest.raises(ConfigError, match="trains none; use objective 'pointwise-mse'"):
        TABULAR.resolve_decoder("ce", "head-pointwise")


def test_unknown_names_list_the_choices():
    with pytest.raises(ConfigError, match=r"unknown objective 'raf' for the causal-lm family"):
        CAUSAL_LM.resolve_decoder("raf", None)
    with pytest.raises(ConfigError, match=r"unknown decoder 'grid-mode' .*'grid-mean'"):
        CAUSAL_LM.resolve_decoder("raft", "grid-mode")


def test_every_declared_decoder_exists():
    for family in FAMILIES.values():
        for name, factory in family.objectives.items():
            allowed = factory().allowed_decoders or ()
            assert set(allowed) <= set(family.decoders), (family.name, name)
