"""Model families: what each can train with, how it decodes, how it loads.

`FAMILIES` maps a family name to its `Family` record; the estimator and the CLI check names
against these registries before any data is read or any model loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from decoreg.decoding import DECODERS
from decoreg.decoding.head import HeadDecoder
from decoreg.errors import ConfigError
from decoreg.models.causal_lm import CausalLMRegressor
from decoreg.objectives import OBJECTIVES


@dataclass(frozen=True)
class Family:
    """A model family's registries and loader.

    Attributes:
        name: The family's name (`--family`).
        objectives: Objective name -> factory.
        decoders: Decoder name -> factory taking a `DecodeConfig`.
        load: Reads a saved model folder back.
        default_objective: Used when the user names none.
        default_decoder: Used when the user names none.
    """

    name: str
    objectives: Mapping[str, Callable]
    decoders: Mapping[str, Callable]
    load: Callable
    default_objective: str
    default_decoder: str


FAMILIES: dict[str, Family] = {
    "causal-lm": Family(
        name="causal-lm",
        objectives=OBJECTIVES,
        decoders={**DECODERS, "head": HeadDecoder},  # "head" reads a predictive head
        load=CausalLMRegressor.load,
        default_objective="raft",
        default_decoder="grid-mean",
    ),
}


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
