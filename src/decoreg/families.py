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

INPUT_KINDS = ("text", "table")

FAMILIES: dict[str, Family] = {family.name: family for family in (CAUSAL_LM, TABULAR)}
for _family in FAMILIES.values():
    if _family.input_kind not in INPUT_KINDS:
        raise ConfigError(f"family {_family.name!r}: input_kind must be one of {INPUT_KINDS}")


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


def foreign_options(
    family: Family, params: Mapping[str, object], defaults: Mapping[str, object]
) -> dict[str, list[str]]:
    """Options `family` ignores that are set away from their default: name -> owning families.

    An option is foreign when other families own it (`Family.owned_params`) and this one
    does not; options no family owns are shared by all.
    """
    foreign = {}
    for name, value in params.items():
        owners = sorted(f.name for f in FAMILIES.values() if name in f.owned_params)
        if owners and name not in family.owned_params and not _at_default(value, defaults[name]):
            foreign[name] = owners
    return foreign


def refuse_foreign_options(
    family: Family, params: Mapping[str, object], defaults: Mapping[str, object]
) -> None:
    """A ConfigError naming every option `family` would silently ignore, if there is one."""
    foreign = foreign_options(family, params, defaults)
    if foreign:
        ignored = ", ".join(
            f"{name}={params[name]!r} (an option of family={' or '.join(map(repr, owners))}; "
            f"default {defaults[name]!r})"
            for name, owners in foreign.items()
        )
        raise ConfigError(
            f"the {family.name} family ignores {ignored}: leave "
            f"{'it' if len(foreign) == 1 else 'them'} at the default, or choose that family"
        )


def _at_default(value: object, default: object) -> bool:
    if value is None or default is None:
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # e.g. an array, compared elementwise
        return False
