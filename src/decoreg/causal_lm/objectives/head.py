"""Squared error of a predictive head (the RAFT paper's head baselines, and learnable RAFT).

The head's kind is part of the model (`--head`); the objective only says which kinds it
trains and which one to build when the user names none.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.core import Batch, Objective


@dataclass(frozen=True)
class HeadRegression(Objective):
    """mean_b (y_b - head(x_b))^2, with the LM fully fine-tuned underneath."""

    head_kinds = ("token", "mean", "mlp", "learnable-grid", "learnable-vocab")
    allowed_decoders = ("head",)  # heads do not decode: their number is read directly

    def __call__(self, model, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        predicted = model.predict_head(batch.inputs)  # [B]
        loss = torch.mean((batch.targets - predicted) ** 2)
        return loss, {"loss": float(loss.detach())}


@dataclass(frozen=True)
class LearnableRaft(HeadRegression):
    """RAFT with learned grid weights: sum_g p(g | x) w_g, w starting at the grid values.

    `learnable-grid` learns one weight per grid value; `learnable-vocab` one per vocabulary
    token (0 except on the grid's tokens at the start). At step 0 both equal RAFT.
    """

    head_kinds = ("learnable-grid", "learnable-vocab")
