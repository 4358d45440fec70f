"""Model families: what each can train with, how it decodes, how it loads.

`FAMILIES` maps a family name to its `Family` record; the estimator and the CLI check names
against these registries before any data is read or any model loaded.
"""

from __future__ import annotations

from collections.abc import Mapping

from decoreg.causal_lm.family import FAMILY as CAUSAL_LM
from decoreg.errors import ConfigError
from decoreg.family_record import Family
from decoreg.tabular.family import FAMILY as TABULAR

FAMILIES: dict[str, Family] = {family.name: family for family in (CAUSAL_LM, TABULAR)}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family {name!r}; choose from {sorted(FAMILIES)}")
    return FAMILIES[name]


def check_choice(kind: str, name: str, choices: Mapping[str, object], family: str) -> None:
    """Raise a ConfigError naming the valid choices when `name` is not one of them."""
    if name not in choices:
        raise ConfigError(
            f"unknown {kind} {name!r} for the {family} family; choose from {sorted(choices)}"
        )
