"""Embeddings of the standardized numeric features, before the encoder MLP.

An MLP fed raw standardized numbers learns step-like functions of a feature slowly; mapping
each number to periodic features first lets it fit them (Gorishniy, Rubachev and Babenko, "On
Embeddings for Numerical Features in Tabular Deep Learning", NeurIPS 2022, the "PLR" embedding).
Two embeddings, chosen by `TabularModelConfig.numeric_embedding`:

- "linear": the standardized values as they are ([B, F] -> [B, F]).
- "periodic": per feature, k trainable frequencies c (initialized from N(0, scale^2)), then
  [cos(2 pi c x), sin(2 pi c x)] through a per-feature linear map and a ReLU
  ([B, F] -> [B, F * dim]).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from decoreg.devices import HOST


class NumericEmbedding(nn.Module, ABC):
    """Contract: [B, F] standardized features -> [B, output_width]."""

    output_width: int

    @abstractmethod
    def forward(self, numeric: Tensor) -> Tensor: ...


class LinearNumericEmbedding(NumericEmbedding):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.output_width = features

    def forward(self, numeric: Tensor) -> Tensor:  # [B, F] -> [B, F]
        return numeric


class PeriodicNumericEmbedding(NumericEmbedding):
    """Periodic features with trainable frequencies, a per-feature linear map, ReLU."""

    def __init__(self, features: int, frequencies: int, scale: float, dim: int) -> None:
        super().__init__()
        self.output_width = features * dim  # built on the host, then placed with the model
        self.frequencies = nn.Parameter(torch.randn(features, frequencies, device=HOST) * scale)
        bound = 1.0 / math.sqrt(2 * frequencies)  # nn.Linear's init for 2k inputs
        self.weight = nn.Parameter(
            torch.empty(features, 2 * frequencies, dim, device=HOST).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(features, dim, device=HOST).uniform_(-bound, bound))

    def forward(self, numeric: Tensor) -> Tensor:  # [B, F] -> [B, F * dim]
        angles = 2 * math.pi * numeric.unsqueeze(-1) * self.frequencies  # [B, F, k]
        periodic = torch.cat([angles.cos(), angles.sin()], dim=-1)  # [B, F, 2k]
        embedded = torch.einsum("bfk,fkd->bfd", periodic, self.weight) + self.bias
        return torch.relu(embedded).flatten(1)


NUMERIC_EMBEDDINGS = ("linear", "periodic")


def make_numeric_embedding(
    name: str, features: int, *, frequencies: int, scale: float, dim: int
) -> NumericEmbedding:
    """The embedding `name` (one of NUMERIC_EMBEDDINGS) for `features` numeric inputs."""
    if name == "periodic" and features:
        return PeriodicNumericEmbedding(features, frequencies, scale, dim)
    return LinearNumericEmbedding(features)  # "linear", or no numeric feature to embed
