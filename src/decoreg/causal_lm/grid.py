"""Expected value and quantiles of a distribution over grid values.

One function serves both the RAFT loss and the grid-mean decoder, so what the model is trained
to make accurate is exactly what it reports.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from decoreg.aggregation import weighted_quantile


def expected_value(
    grid_logprobs: Tensor,  # [B, G] log p(str(g) | x) for each grid value g
    grid_values: Tensor,  # [G]
    normalize: bool,
) -> Tensor:  # [B]
    """sum_g p(g|x) * g, with p renormalized over the grid when `normalize` is set.

    Without normalization (RAFT's default) mass outside the grid counts as predicting 0, which
    the loss then pushes back onto the grid.
    """
    probs = torch.softmax(grid_logprobs, dim=-1) if normalize else grid_logprobs.exp()
    return probs @ grid_values.to(probs.dtype)


def grid_distribution(
    grid_logprobs: Tensor,  # [B, G] log p(str(g) | x)
    grid_values: Tensor,  # [G]
) -> tuple[np.ndarray, np.ndarray]:  # [G] ascending, [B, G]
    """The grid values in ascending order and each row's probabilities of them, renormalized
    over the grid (float64): the distribution the grid decoders read quantiles from."""
    order = torch.argsort(grid_values, stable=True)
    probs = torch.softmax(grid_logprobs[:, order].double(), dim=-1)
    return grid_values[order].double().cpu().numpy(), probs.cpu().numpy()


def grid_quantile(
    grid_logprobs: Tensor,  # [B, G]
    grid_values: Tensor,  # [G]
    quantile: float,
) -> Tensor:  # [B]
    """The smallest grid value whose cumulative (renormalized) probability reaches `quantile`
    (`decoreg.aggregation.weighted_quantile`)."""
    values, probs = grid_distribution(grid_logprobs, grid_values)
    support = np.broadcast_to(values, probs.shape)
    quantiles = weighted_quantile(support, probs, quantile)
    return torch.as_tensor(quantiles, dtype=grid_values.dtype, device=grid_values.device)
