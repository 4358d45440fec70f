"""Expected value and quantiles of a distribution over grid values.

One function serves both the RAFT loss and the grid-mean decoder, so what the model is trained
to make accurate is exactly what it reports.
"""

from __future__ import annotations

import torch
from torch import Tensor


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


def grid_quantile(
    grid_logprobs: Tensor,  # [B, G]
    grid_values: Tensor,  # [G]
    quantile: float,
) -> Tensor:  # [B]
    """The smallest grid value whose cumulative (renormalized) probability reaches `quantile`."""
    order = torch.argsort(grid_values)
    probs = torch.softmax(grid_logprobs[:, order], dim=-1)
    cumulative = probs.cumsum(dim=-1)
    # Subtracting a tiny slack keeps an exact 0.5 boundary on the lower value despite rounding.
    index = torch.searchsorted(cumulative, torch.full_like(cumulative[:, :1], quantile - 1e-7))
    index = index.clamp(max=len(order) - 1).squeeze(-1)
    return grid_values[order][index]
