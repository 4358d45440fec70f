"""The small interfaces every model family, objective and decoder agrees on.

Data flows one way: rows become a `Batch` (model-specific inputs plus targets in the model's
target space), an `Objective` turns a model and a batch into a loss, and a `Decoder` turns a
model and a batch into `Predictions` (numbers in the model's target space plus raw text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor


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

    def to_target_space(self, y: np.ndarray) -> np.ndarray:
        """Raw targets -> the space the model writes numbers in."""
        ...

    def from_target_space(self, z: np.ndarray) -> np.ndarray:
        """Inverse of `to_target_space`."""
        ...

    def save(self, directory: str) -> None:
        """Write weights (safetensors) and a JSON description that `load` reads back."""
        ...


class Objective(Protocol):
    """A training loss: `(model, batch) -> (scalar loss, detached float metrics)`."""

    def __call__(self, model: Any, batch: Batch) -> tuple[Tensor, dict[str, float]]: ...


class Decoder(Protocol):
    """Turns a model and a batch into numbers, with an explicit random generator."""

    def __call__(self, model: Any, batch: Batch, *, generator: torch.Generator) -> Predictions: ...
