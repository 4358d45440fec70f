"""`Family`: the registry record a model family declares about itself (in its family.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from decoreg.errors import ConfigError


@dataclass(frozen=True)
class Family:
    """A model family's registries and loader.

    Attributes:
        name: The family's name (`--family`).
        objectives: Objective name -> factory of a `core.Objective` (called without options,
            it builds the objective with its defaults).
        decoders: Decoder name -> factory taking a `DecodeConfig`.
        load: Reads a saved model folder back.
        default_objective: Used when the user names none.
        default_decoder: Used when the user names none, for objectives that allow any
            decoder (see `resolve_decoder`).
        build: `(estimator params, raw inputs, raw targets) -> model` for a new model.
        check_options: Validates the family's model options from the estimator params.
        select_inputs: `(estimator params, frame, source) -> raw inputs` the model reads,
            validated with errors naming the source, row and column.
        default_num_samples: Samples per input of the sampling decoders by default.
        default_threads: torch threads for this family's work (None: torch's default); small
            models run faster on one thread than on two busy ones.
        default_precision: The precision of fit and predict unless the user says
            (`decoreg.devices.PRECISIONS`).
        train_defaults: `TrainConfig` values (learning_rate, batch_size, max_steps,
            warmup_steps, eval_every, early_stopping_patience) used where the user left the
            estimator's option at None; options not named here take TrainConfig's defaults.
        objective_train_defaults: Objective name -> `TrainConfig` values that replace
            `train_defaults` for that objective (e.g. a learning rate measured per objective).
        owned_params: Estimator parameters only this family reads (beyond the options every
            family shares: training, decoding, objective, seeds); the estimator refuses one
            owned by another family that is set away from its default.
        input_kind: "text" (texts, or columns serialized as text) or "table" (2-D feature
            tables, accepted as scikit-learn accepts them: DataFrames and any array-like).
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
    default_num_samples: int = 32
    default_threads: int | None = None
    default_precision: str = "bf16-mixed"
    train_defaults: Mapping[str, float | int] = field(default_factory=dict)
    objective_train_defaults: Mapping[str, Mapping[str, float | int]] = field(default_factory=dict)
    owned_params: frozenset[str] = frozenset()
    input_kind: str = "text"

    def train_default(self, objective: str | None, name: str) -> float | int | None:
        """The default of training option `name` for `objective` (None: the family's
        default objective), or None where TrainConfig's own default applies."""
        by_objective = self.objective_train_defaults.get(objective or self.default_objective, {})
        return by_objective.get(name, self.train_defaults.get(name))

    def resolve_decoder(self, objective: str, decoder: str | None) -> str:
        """The decoder to use with `objective`: `decoder`, checked, or the default.

        The one rule, from each objective's `allowed_decoders` declaration: an objective that
        names its decoders (a head objective: heads do not decode, their number is read
        directly) accepts only those, the first by default; any other objective accepts every
        decoder of the family except those some objective reserves that way (a head's
        readout), `default_decoder` by default.

        Raises:
            ConfigError: An unknown name, or a decoder the objective cannot be read with.
        """
        _check_choice("objective", objective, self.objectives, self.name)
        if decoder is not None:
            _check_choice("decoder", decoder, self.decoders, self.name)
        allowed = self._allowed_decoders[objective]
        if allowed is not None:
            if decoder in (None, *allowed):
                return decoder or allowed[0]
            others = f", or {list(allowed[1:])}" if len(allowed) > 1 else ""
            raise ConfigError(
                f"decoder {decoder!r} cannot be used with objective {objective!r}: heads do not "
                f"decode, their number is read directly (decoder {allowed[0]!r}, the "
                f"default{others}); leave the decoder unset"
            )
        declared = self._allowed_decoders.items()
        owners = [name for name, names in declared if names is not None and decoder in names]
        if owners:
            raise ConfigError(
                f"decoder {decoder!r} reads a predictive head, but objective {objective!r} trains "
                f"none; use objective {' or '.join(map(repr, owners))}, or another decoder"
            )
        return decoder or self.default_decoder

    @cached_property
    def _allowed_decoders(self) -> dict[str, tuple[str, ...] | None]:
        """Each objective's declared decoders (a class attribute: options do not change it)."""
        return {name: factory().allowed_decoders for name, factory in self.objectives.items()}


def _check_choice(kind: str, name: str, choices: Mapping[str, object], family: str) -> None:
    if name not in choices:
        raise ConfigError(
            f"unknown {kind} {name!r} for the {family} family; choose from {sorted(choices)}"
        )
