"""CRPS of a group of samples, and each sample's leave-one-out credit (the `crps` reward).

For the n samples x_1..x_n of one input and its target y, write a_i = |x_i - y|,
d_ij = |x_i - x_j|, D_i = sum_j d_ij and P = sum_{i<j} d_ij. The CRPS of the distribution F the
samples come from, CRPS(F, y) = E|X - y| - 1/2 E|X - X'|, has two usual estimators:

    empirical: CRPS(F_n, y) = (1/n) sum_i a_i - 1/(2 n^2) sum_ij d_ij = S/n - P/n^2
    fair:      fCRPS_n      = (1/n) sum_i a_i - 1/(2n(n-1)) sum_ij d_ij = S/n - P/(n(n-1))

(S = sum_i a_i). The empirical one is the exact CRPS of the empirical CDF, and its mean is
E[CRPS(F_n, y)] = CRPS(F, y) + E|X - X'| / (2n): it adds a spread penalty, so a policy
trained on it is pushed to be narrower than the truth, which is the sharpening ReMax already
shows. The fair one is a U-statistic: E[fCRPS_n] = CRPS(F, y) exactly. The reward uses it.

Leave-one-out credit. Sample i's credit is how much the group's score gets worse without it:

    c_i = fCRPS_{n \\ i} - fCRPS_n,
    fCRPS_{n \\ i} = (S - a_i)/(n - 1) - (P - D_i)/((n - 1)(n - 2)).

Subtracting,
    (S - a_i)/(n - 1) - S/n              = (S/n - a_i) / (n - 1)
    -(P - D_i)/((n-1)(n-2)) + P/(n(n-1)) = (D_i - 2P/n) / ((n - 1)(n - 2)),
and since S/n = mean_j a_j and 2P/n = mean_j D_j:

    c_i = [ (mean_j a_j - a_i) + (D_i - mean_j D_j) / (n - 2) ] / (n - 1).

A sample earns credit for being nearer the target than the group's average sample, and for
being farther from the others than average (the group's spread). The credits of a group sum
to zero (the mean of a U-statistic's leave-one-out values is the statistic itself), so they
are already centred. They give an unbiased policy gradient of -CRPS(F_theta, y): the group's
-fCRPS_n is an unbiased estimate of it whose score-function gradient is
E[sum_i -fCRPS_n grad log p(x_i)], and fCRPS_{n \\ i} does not depend on x_i, so it is a
valid baseline for sample i. Credits need n >= 3 (the leave-one-out group needs a pair).
"""

from __future__ import annotations

import torch
from torch import Tensor

MIN_GROUP = 3
"""Fewest samples a group needs for leave-one-out credits under the fair estimator."""


def _parts(samples: Tensor, targets: Tensor, mask: Tensor | None):
    """(weights [B, G], a [B, G], d [B, G, G], n [B]), masked-out samples weighted 0."""
    weights = torch.ones_like(samples) if mask is None else mask.to(samples.dtype)
    safe = torch.where(weights > 0, samples, targets[:, None].to(samples.dtype))
    a = (safe - targets[:, None]).abs()
    d = (safe[:, :, None] - safe[:, None, :]).abs() * weights[:, None, :] * weights[:, :, None]
    return weights, a, d, weights.sum(1)


def crps_empirical(
    samples: Tensor,  # [B, G]
    targets: Tensor,  # [B]
    mask: Tensor | None = None,  # [B, G] bool, the samples to use (default: all)
) -> Tensor:  # [B]
    """CRPS of each group's empirical distribution: mean |x - y| - sum_ij |x_i - x_j| / 2n^2."""
    weights, a, d, n = _parts(samples, targets, mask)
    return (weights * a).sum(1) / n - d.sum((1, 2)) / (2 * n**2)


def crps_fair(
    samples: Tensor,  # [B, G]
    targets: Tensor,  # [B]
    mask: Tensor | None = None,  # [B, G] bool, the samples to use (default: all)
) -> Tensor:  # [B]
    """The fair (unbiased) CRPS estimate: the pair term divided by 2n(n - 1), not 2n^2; with
    a single sample it is |x - y|."""
    weights, a, d, n = _parts(samples, targets, mask)
    return (weights * a).sum(1) / n - d.sum((1, 2)) / (2 * n * (n - 1)).clamp(min=1)


def crps_credits(
    samples: Tensor,  # [B, G]
    targets: Tensor,  # [B]
    mask: Tensor | None = None,  # [B, G] bool, the samples that count (e.g. parsed ones)
) -> Tensor:  # [B, G]
    """Each sample's leave-one-out credit fCRPS(group without it) - fCRPS(group).

    Computed in closed form (module docstring) from pairwise differences, so a group of equal
    samples gets credits of exactly 0. Samples outside `mask`, and every sample of a group with
    fewer than `MIN_GROUP` samples in it, get 0.
    """
    weights, a, d, n = _parts(samples, targets, mask)
    n_ = n[:, None]
    # mean_j a_j - a_i as a mean of differences: exact zeros when all a are equal
    closer = ((a[:, None, :] - a[:, :, None]) * weights[:, None, :]).sum(2) / n_.clamp(min=1)
    spread = d.sum(2)  # D_i
    wider = ((spread[:, :, None] - spread[:, None, :]) * weights[:, None, :]).sum(2)
    wider = wider / n_.clamp(min=1)
    credits = (closer + wider / (n_ - 2).clamp(min=1)) / (n_ - 1).clamp(min=1)
    usable = (weights > 0) & (n_ >= MIN_GROUP)
    return torch.where(usable, credits, torch.zeros_like(credits))
