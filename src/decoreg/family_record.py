"""`Family`: the registry record a model family declares about itself (in its family.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


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
    decoder_for_objective: Callable[[str], str] | None = None
    default_num_samples: int = 32
    default_threads: int | None = None
    default_bf16: bool = True
    train_defaults: Mapping[str, float | int] = field(default_factory=dict)
    owned_params: frozenset[str] = frozenset()
    input_kind: str = "text"
