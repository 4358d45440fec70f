"""The small interfaces every model family, objective and decoder agrees on.

Data flows one way: rows become a `Batch` (model-specific inputs plus targets in the model's
target space), an `Objective` turns a model and a batch into a loss, and a `Decoder` turns a
model and a batch into `Predictions` (numbers in the model's target space plus raw text).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from decoreg.errors import ConfigError

if TYPE_CHECKING:
    from decoreg.uncertainty.distribution import Predictive


@dataclass(frozen=True)
class Batch:
    """A mini-batch as the model family consumes it.

    Attributes:
        inputs: Family-specific inputs: rendered prompt strings for causal LMs, a dict of
            feature tensors for the tabular encoder-decoder.
        targets: [B] float32 targets in the model's target space (after scaling), or None at
            prediction time.
    """

    inputs: Any
    targets: Tensor | None = None

    def __len__(self) -> int:
        return (
            len(self.inputs) if not isinstance(self.inputs, dict) else _dict_batch_len(self.inputs)
        )


def _dict_batch_len(inputs: dict[str, Tensor]) -> int:
    first = next(iter(inputs.values()))
    return int(first.shape[0])


@dataclass(frozen=True)
class Predictions:
    """What a decoder returns for one batch.

    Attributes:
        values: [B] float64 predictions in the model's target space; NaN where nothing could be
            parsed (the caller decides on a fallback and counts it).
        texts: The raw text the model wrote for each row (for sampling decoders: the first
            sample; for grid decoders: a summary of the distribution).
        parsed: [B] bool, False where the model's output could not be read as a number.
    """

    values: np.ndarray
    texts: list[str]
    parsed: np.ndarray

    @staticmethod
    def concatenate(parts: Sequence[Predictions]) -> Predictions:
        return Predictions(
            values=np.concatenate([p.values for p in parts]) if parts else np.zeros(0),
            texts=[t for p in parts for t in p.texts],
            parsed=np.concatenate([p.parsed for p in parts]) if parts else np.zeros(0, bool),
        )

    def take(self, rows: np.ndarray) -> Predictions:
        """The predictions of `rows` (positions), in that order."""
        return Predictions(
            values=self.values[rows], texts=[self.texts[i] for i in rows], parsed=self.parsed[rows]
        )


@runtime_checkable
class RegressionModel(Protocol):
    """A trainable network with everything objectives and decoders need.

    Implementations are `torch.nn.Module`s (so the training loop can take their parameters and
    state dicts) that also know how to turn raw rows into a `Batch` and how to save themselves.
    """

    family: str

    def make_batch(self, inputs: Sequence[Any], targets: np.ndarray | None) -> Batch:
        """Turn raw inputs (and raw-space targets) into a batch in the model's target space."""
        ...

    def input_lengths(self, inputs: Sequence[Any]) -> np.ndarray:
        """[N] a cost proxy per input (token count) used to group batches by length."""
        ...

    def input_report(self) -> dict[str, Any]:
        """What fitting found in the inputs and how it handled it (the tabular family's
        missing values, constant columns, ...); JSON-ready, with "notes", a list of lines to
        show the user; empty when there is nothing."""
        ...

    def to_target_space(self, y: np.ndarray) -> np.ndarray:
        """Raw targets -> the space the model writes numbers in."""
        ...

    def from_target_space(self, z: np.ndarray) -> np.ndarray:
        """Inverse of `to_target_space`."""
        ...

    def shard_units(self) -> list[Any]:
        """The submodules FSDP shards one by one (`decoreg.engine.Sharded`): blocks that are
        only ever entered through their own `forward`; the rest forms one unit."""
        ...

    def save(self, directory: str) -> None:
        """Write weights (safetensors) and a JSON description that `load` reads back."""
        ...


class Objective(ABC):
    """A training loss: `(model, batch) -> (scalar loss, detached float metrics)`.

    The training loop (`decoreg.training.fit`) calls every hook below, never probing for one:
    `prepare` once before the first step, `begin_step` before each optimizer step, the
    objective itself on each micro-batch, `validation_metrics` at each evaluation, and
    `state_dict` / `load_state_dict` when it writes and restores a checkpoint. The defaults do
    nothing, so an objective overrides only the hooks it needs.

    Attributes:
        allowed_decoders: The only decoders that can read what this objective trains, the
            first being the default (a head objective's numbers are read, not decoded); None:
            any decoder of the family that no objective reserves this way. The rule is
            applied in one place, `decoreg.family_record.Family.resolve_decoder`.
        uses_grid: Whether the loss scores the model's grid of numbers (so the model must be
            able to write every grid value).
        validation_metric_names: The metrics `validation_metrics` adds to each validation
            report (the RL objectives: "reward", which `select_by="reward"` needs).
    """

    allowed_decoders: ClassVar[tuple[str, ...] | None] = None
    uses_grid: ClassVar[bool] = False
    validation_metric_names: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def __call__(self, model: Any, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """The scalar loss of `batch` (with grad) and detached float metrics ("loss" among
        them)."""

    def prepare(self, model: Any) -> None:  # noqa: B027 - a hook that does nothing by default
        """Called once before the first step, and before a resumed run restores its checkpoint
        (so it sees the starting weights)."""

    def begin_step(self, step: int) -> None:  # noqa: B027 - a hook that does nothing by default
        """Called before the micro-batches of optimizer step `step` (counted from 1)."""

    def validation_metrics(
        self,
        model: Any,
        targets: np.ndarray,  # [N] on the user's scale
        predictions: np.ndarray,  # [N] decoded, NaN where unparseable
    ) -> dict[str, float]:
        """Metrics of the objective's own added to each validation report (none by default);
        their names are `validation_metric_names`."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep for the run to continue bit for bit (tensors and plain
        values only); empty for objectives without state of their own."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - no state by default
        """Restore what `state_dict` returned."""


class Decoder(ABC):
    """Turns a model and a batch into numbers in the model's target space.

    Sampling decoders draw each row's noise from `generator.initial_seed()` and the row's own
    content (`decoreg.rl.rollout.input_uniforms`), never from the generator's running state,
    so a row's prediction depends neither on its position nor on the other rows of its batch.

    Attributes:
        uses_grid: Whether the decoder scores the model's grid of numbers.
        gives_distribution: Whether `distribution` returns each row's predictive distribution
            (the grid and sampling decoders); the others give one number per row.
    """

    uses_grid: ClassVar[bool] = False
    gives_distribution: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, model: Any, batch: Batch, *, generator: torch.Generator) -> Predictions:
        """One prediction per row of `batch`; `generator` seeds any sampling."""

    def distribution(self, model: Any, batch: Batch, *, generator: torch.Generator) -> Predictive:
        """Each row's predictive distribution in the model's target space: the grid values and
        their probabilities, or the samples the decoder aggregates (the same samples for the
        same seed). Decoders that give one number per row refuse."""
        raise ConfigError(
            f"decoder {type(self).__name__} gives one number per row, not a distribution; "
            "distributions, CRPS and intervals need a grid-* or sample-* decoder"
        )

    def decode_with_distribution(
        self, model: Any, batch: Batch, *, generator: torch.Generator
    ) -> tuple[Predictions, Predictive]:
        """Both `__call__`'s predictions and `distribution`'s distributions of `batch`, the
        numbers bit for bit those of `__call__`. This default decodes twice; the grid and
        sampling decoders override it to score the grid, or draw the samples, once."""
        return self(model, batch, generator=generator), self.distribution(
            model, batch, generator=generator
        )
