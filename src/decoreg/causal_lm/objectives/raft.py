"""RAFT (Lukasik et al., ICLR 2025): squared error of the grid expectation.

loss = mean_b (y_b - sum_g p(str(g) | x_b) * g)^2 over a grid of single-token numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.causal_lm.grid import expected_value
from decoreg.core import Batch, Objective


@dataclass(frozen=True)
class Raft(Objective):
    """Attributes:
    normalize: Renormalize the grid probabilities before the expectation (the paper's
        default is off: mass off the grid is penalized as if it predicted 0).
    """

    normalize: bool = False
    uses_grid = True

    def __call__(self, model, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        grid_logprobs = model.grid_logprobs(batch.inputs)  # [B, G]
        grid_values = torch.tensor(model.spec.grid, dtype=torch.float32, device=model.device)
        predicted = expected_value(grid_logprobs, grid_values, normalize=self.normalize)
        loss = torch.mean((batch.targets - predicted) ** 2)
        grid_mass = grid_logprobs.detach().exp().sum(-1).mean()
        return loss, {"loss": float(loss.detach()), "grid_mass": float(grid_mass)}
