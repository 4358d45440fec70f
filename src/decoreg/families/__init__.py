"""Model families: what each can train with, how it decodes, how it loads.

`FAMILIES` maps a family name to its `Family` record; the estimator and the CLI check names
against these registries before any data is read or any model loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from decoreg.decoding import DECODERS
from decoreg.decoding.head import HeadDecoder
from decoreg.errors import ConfigError
from decoreg.families import causal_lm, tabular
from decoreg.models.causal_lm import CausalLMRegressor
from decoreg.objectives import OBJECTIVES
from decoreg.rl import RL_OBJECTIVES
from decoreg.tabular import TabularRegressor


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
        build: `(estimator params, raw inputs, raw targets) -> model` for a new model.
        check_options: Validates the family's model options from the estimator params.
        select_inputs: `(estimator params, frame, source) -> raw inputs` the model reads,
            validated with errors naming the source, row and column.
        decoder_for_objective: The default decoder for an objective, when it depends on it.
        default_num_samples: Samples per input of the sampling decoders by default.
        default_threads: torch threads for this family's work (None: torch's default); small
            models run faster on one thread than on two busy ones.
        default_bf16: Whether fit and predict use bf16 autocast unless the user says.
        train_defaults: `TrainConfig` values (learning_rate, batch_size, max_steps,
            warmup_steps, eval_every, early_stopping_patience) used where the user left the
            estimator's option at None; options not named here take TrainConfig's defaults.
    """

    name: str
    objectives: Mapping[str, Callable]
    decoders: Mapping[str, Callable]
    load: Callable
    default_objective: str
    default_decoder: str
    build: Callable
    select_inputs: Callable
    check_options: Callable[[dict], object]
    decoder_for_objective: Callable[[str], str] | None = None
    default_num_samples: int = 32
    default_threads: int | None = None
    default_bf16: bool = True
    train_defaults: Mapping[str, float | int] = field(default_factory=dict)


FAMILIES: dict[str, Family] = {
    "causal-lm": Family(
        name="causal-lm",
        objectives=OBJECTIVES,
        decoders={**DECODERS, "head": HeadDecoder},  # "head" reads a predictive head
        load=CausalLMRegressor.load,
        default_objective="raft",
        default_decoder="grid-mean",
        build=causal_lm.build_from_params,
        select_inputs=causal_lm.select_texts_for,
        check_options=causal_lm.lm_options_from,
    ),
    "tabular": Family(
        name="tabular",
        objectives={**tabular.OBJECTIVE_FACTORIES, **RL_OBJECTIVES},
        decoders=tabular.DECODER_FACTORIES,
        load=TabularRegressor.load,
        default_objective="ce",
        default_decoder="sample-mean",
        build=tabular.build_tabular,
        select_inputs=tabular.select_features,
        check_options=tabular.tabular_config,
        decoder_for_objective=tabular.default_decoder,
        default_num_samples=128,
        default_threads=1,
        default_bf16=False,
        train_defaults=tabular.TRAIN_DEFAULTS,
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
