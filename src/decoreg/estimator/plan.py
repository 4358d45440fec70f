"""The run plan: the family, objective, decoder and configs, resolved once from the parameters.

`resolve_plan` reads the estimator's parameters and checks every option before any data is
read or any model loaded; `fit` and `predict` then use the frozen `RunPlan` it returns.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import torch

from decoreg.config import DecodeConfig, TrainConfig
from decoreg.core import Decoder, Objective
from decoreg.devices import Placement, Precision
from decoreg.errors import ConfigError
from decoreg.estimator.saving import saved_family
from decoreg.families import check_choice, get_family, refuse_foreign_options
from decoreg.family_record import Family
from decoreg.reporting import ReportOptions

SHARED_PARAMS = frozenset(
    {
        "objective", "decoder", "family", "objective_options",
        "feature_columns", "init_from", "random_state", "verbose", "num_threads",
        # TrainConfig
        "learning_rate", "batch_size", "grad_accum_steps", "max_steps", "epochs", "warmup_steps",
        "schedule", "weight_decay", "max_grad_norm", "eval_every", "early_stopping_patience",
        "select_by", "max_eval_rows", "bf16", "validation_fraction", "checkpoint_dir",
        "checkpoint_every", "resume", "precision", "device", "fsdp", "report_to",
        "report_dir",
        # DecodeConfig options every family's decoders read
        "num_samples", "temperature", "quantile",
    }
)  # fmt: skip
"""Parameters every family reads; the others are owned by one family (`Family.owned_params`)."""


@dataclass(frozen=True)
class RunPlan:
    """Everything `fit` and `predict` need, resolved from the estimator's parameters.

    Attributes:
        family: The family's registry record.
        params: The estimator parameters the plan was resolved from (the family's builder and
            input reader take them).
        objective_name: The objective's name (the one given, or the family's default).
        objective: The objective, built once with `objective_options`.
        decoder_name: The decoder's name (the one given, or the default for the objective).
        decoder: The decoder, built from `decode`.
        train: Training options; its `max_steps` is at least 1, see `max_steps` (with
            `epochs`, a placeholder until `for_train_rows` sets it).
        decode: Decoder options.
        model_options: The family's validated model options (`Family.check_options`).
        max_steps: Optimizer steps; 0 fits nothing (zero-shot use of a pretrained model).
            None when `epochs` sets them, which `for_train_rows` does once the rows are known.
        epochs: Passes over the training rows that set `max_steps` (None: `max_steps` does).
        validation_fraction: Share of the training rows held out when `fit` gets no eval_set.
        threads: torch threads for fit and predict (None: torch's default).
        placement: The device and precision models are built, loaded and run with (checked
            against this machine when the plan is resolved, before any data is read).
        reporting: Where the training log goes besides `TrainResult.log` (`decoreg.reporting`).
    """

    family: Family
    params: Mapping[str, Any]
    objective_name: str
    objective: Objective
    decoder_name: str
    decoder: Decoder
    train: TrainConfig
    decode: DecodeConfig
    model_options: object
    max_steps: int | None
    validation_fraction: float
    threads: int | None
    placement: Placement
    epochs: int | None = None
    reporting: ReportOptions = field(default_factory=ReportOptions)

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.max_steps is None and self.epochs is None:
            raise ConfigError("a run plan needs max_steps or epochs")
        if self.max_steps is not None and self.max_steps < 0:
            raise ConfigError(f"max_steps must be >= 0, got {self.max_steps}")
        epochs = self.epochs
        if epochs is not None and (
            not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1
        ):
            raise ConfigError(f"epochs must be a positive int, got {self.epochs!r}")

    @property
    def fits(self) -> bool:
        """Whether `fit` trains (False for max_steps=0: the model is used as built)."""
        return self.epochs is not None or self.max_steps > 0

    @property
    def uses_grid(self) -> bool:
        """Whether the objective or the decoder scores the grid (it must then be writable)."""
        return self.objective.uses_grid or self.decoder.uses_grid

    @property
    def predict_batch_size(self) -> int:
        return self.train.batch_size * 2  # no gradients: twice the training batch fits

    def for_train_rows(self, rows: int, processes: int) -> RunPlan:
        """This plan with `max_steps` set from `epochs` for `rows` training rows split over
        `processes` data-parallel processes: ceil(rows / (batch_size * grad_accum_steps *
        processes)) * epochs, every optimizer step taking one global batch. Unchanged when
        `max_steps` is given."""
        if self.epochs is None:
            return self
        rows_per_step = self.train.batch_size * self.train.grad_accum_steps * processes
        steps = math.ceil(rows / rows_per_step) * self.epochs
        return replace(self, max_steps=steps, train=replace(self.train, max_steps=steps))

    def with_decoder(self, name: str, **decode_options: Any) -> RunPlan:
        """This plan with another decoder of the family and changed decoder options."""
        check_choice("decoder", name, self.family.decoders, self.family.name)
        decode = replace(self.decode, **decode_options)
        decoder = self.family.decoders[name](decode)
        return replace(self, decoder_name=name, decoder=decoder, decode=decode)

    @contextlib.contextmanager
    def torch_threads(self) -> Iterator[None]:
        """Run with `threads` torch threads (when set), then restore the previous number."""
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def resolve_plan(params: Mapping[str, Any], defaults: Mapping[str, Any]) -> RunPlan:
    """Check every option and build the plan; a ConfigError names the first bad option.

    Args:
        params: The estimator's parameters (`get_params()`).
        defaults: Each parameter's default, to tell an option left alone from one set.
    """
    family = get_family(params["family"])
    refuse_foreign_options(family, params, defaults)
    if params["max_steps"] is not None and params["epochs"] is not None:
        raise ConfigError(
            f"max_steps={params['max_steps']!r} and epochs={params['epochs']!r} are refused "
            "together: epochs sets the number of steps from the training rows; give one of them"
        )
    objective_name = params["objective"] or family.default_objective
    objective = _build_objective(family, objective_name, params["objective_options"])
    decoder_name = family.resolve_decoder(objective_name, params["decoder"])
    decode = DecodeConfig(
        num_samples=params["num_samples"] or family.default_num_samples,
        temperature=params["temperature"],
        normalize_grid=params["normalize_grid"],
        max_new_tokens=params["max_new_tokens"],
        quantile=params["quantile"],
    )
    if params["init_from"] is not None:
        saved_family(params["init_from"], family.name)
    train = train_config(params, family)
    return RunPlan(
        family=family,
        params=MappingProxyType(dict(params)),
        objective_name=objective_name,
        objective=objective,
        decoder_name=decoder_name,
        decoder=family.decoders[decoder_name](decode),
        train=train,
        decode=decode,
        model_options=family.check_options(params),
        max_steps=_max_steps(params, family),
        validation_fraction=params["validation_fraction"],
        threads=params["num_threads"] or family.default_threads,
        placement=Placement.resolve(params["device"], Precision(train.precision)),
        epochs=params["epochs"],
        reporting=ReportOptions(to=params["report_to"], directory=params["report_dir"]),
    )


_TRAIN_DEFAULTS = TrainConfig()
# TrainConfig fields that are estimator parameters of the same name, passed through as they are.
_PASSED_THROUGH = tuple(
    f.name
    for f in fields(TrainConfig)
    if f.name in SHARED_PARAMS
    and f.name not in {"max_steps", "bf16", "precision", "checkpoint_dir"}
)


def _max_steps(params: Mapping[str, Any], family: Family) -> int | None:
    """The steps given, else None with `epochs` (set once the rows are known), else the
    family's default."""
    if params["max_steps"] is None and params["epochs"] is not None:
        return None
    return train_option(params, family, "max_steps")


def train_option(params: Mapping[str, Any], family: Family, name: str) -> Any:
    """A training option: the value given, else the family's default for the objective
    (`Family.train_default`), else TrainConfig's."""
    value = params[name]
    if value is not None:
        return value
    default = family.train_default(params.get("objective"), name)
    return getattr(_TRAIN_DEFAULTS, name) if default is None else default


def train_config(params: Mapping[str, Any], family: Family) -> TrainConfig:
    """The `TrainConfig` of the parameters (`max_steps` at least 1: the loop needs a step;
    with `epochs`, 1 until `RunPlan.for_train_rows` sets it)."""
    option = {name: train_option(params, family, name) for name in _PASSED_THROUGH}
    precision = Precision.of(params["precision"], params["bf16"], family.default_precision)
    checkpoint_dir = params["checkpoint_dir"]
    return TrainConfig(
        **option,
        max_steps=max(_max_steps(params, family) or 1, 1),
        precision=precision.name,
        seed=params["random_state"],
        show_progress=params["verbose"],
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
    )


def _build_objective(family: Family, name: str, options: Mapping[str, Any] | None) -> Objective:
    check_choice("objective", name, family.objectives, family.name)
    try:
        return family.objectives[name](**(options or {}))
    except TypeError as error:
        raise ConfigError(f"bad objective_options {options} for {name!r}: {error}") from error
