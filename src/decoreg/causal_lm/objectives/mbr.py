"""The minimum-Bayes-risk loss (RAFT paper, appendix C): expected squared error over the grid.

loss = mean_b sum_g p(g | x_b) (y_b - g)^2. Unlike RAFT, which squares the error of the
distribution's mean, it charges every grid value's own error, which pulls the distribution
towards a point mass at the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.core import Batch, Objective


@dataclass(frozen=True)
class MinimumBayesRisk(Objective):
    """Attributes:
    normalize: Renormalize p over the grid (default). Off, mass off the grid counts as
        predicting 0 (as in RAFT), costing y^2 per unit of mass.
    """

    normalize: bool = True
    uses_grid = True

    def __call__(self, model, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        grid_logprobs = model.grid_logprobs(batch.inputs)  # [B, G]
        grid_values = torch.tensor(model.spec.grid, dtype=torch.float32, device=model.device)
        loss = torch.mean(
            expected_squared_error(grid_logprobs, grid_values, batch.targets, self.normalize)
        )
        grid_mass = grid_logprobs.detach().exp().sum(-1).mean()
        return loss, {"loss": float(loss.detach()), "grid_mass": float(grid_mass)}


def expected_squared_error(
    grid_logprobs: Tensor,  # [B, G]
    grid_values: Tensor,  # [G]
    targets: Tensor,  # [B]
    normalize: bool,
) -> Tensor:  # [B]
    """sum_g p(g|x) (y - g)^2 (+ off-grid mass * y^2 when not normalized)."""
    probs = torch.softmax(grid_logprobs, -1) if normalize else grid_logprobs.exp()
    errors = (targets[:, None] - grid_values[None, :].to(probs.dtype)) ** 2  # [B, G]
    risk = (probs * errors).sum(-1)
    if not normalize:
        risk = risk + (1.0 - probs.sum(-1)).clamp(min=0.0) * targets**2
    return risk
