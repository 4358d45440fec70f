import math

import pytest
import torch

from decoreg.causal_lm.grid import expected_value, grid_quantile


def test_expected_value_unnormalized_counts_off_grid_mass_as_zero():
    """p = (0.1, 0.2, 0.5) on grid (1, 2, 3), 0.2 off the grid.

    Unnormalized: 0.1*1 + 0.2*2 + 0.5*3 = 2.0.  Normalized: 2.0 / 0.8 = 2.5.
    """
    logprobs = torch.log(torch.tensor([[0.1, 0.2, 0.5]]))
    values = torch.tensor([1.0, 2.0, 3.0])
    assert expected_value(logprobs, values, normalize=False).item() == pytest.approx(2.0)
    assert expected_value(logprobs, values, normalize=True).item() == pytest.approx(2.5)


def test_expected_value_gradient_is_value_weighted():
    """d/d logit_g of sum_g exp(l_g) g = p_g * g: with p = (0.25, 0.5), g = (4, 8): (1, 4)."""
    logprobs = torch.log(torch.tensor([[0.25, 0.5]])).requires_grad_(True)
    expected_value(logprobs, torch.tensor([4.0, 8.0]), normalize=False).sum().backward()
    torch.testing.assert_close(logprobs.grad, torch.tensor([[1.0, 4.0]]))


@pytest.mark.parametrize(
    ("quantile", "expected"), [(0.1, 1.0), (0.2, 1.0), (0.21, 2.0), (0.5, 2.0), (0.51, 5.0)]
)
def test_grid_quantile_on_hand_made_distribution(quantile, expected):
    """Grid (5, 1, 2) with p = (0.5, 0.2, 0.3): sorted 1: 0.2, 2: 0.5 cumulative, 5: 1.0."""
    logprobs = torch.log(torch.tensor([[0.5, 0.2, 0.3]]))
    values = torch.tensor([5.0, 1.0, 2.0])
    assert grid_quantile(logprobs, values, quantile).item() == expected


def test_grid_quantile_renormalizes():
    """Mass 0.1 + 0.3 on the grid renormalizes to 0.25 / 0.75: the median is the second."""
    logprobs = torch.tensor([[math.log(0.1), math.log(0.3)]])
    assert grid_quantile(logprobs, torch.tensor([0.0, 1.0]), 0.5).item() == 1.0
