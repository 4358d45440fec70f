"""Training losses for `TabularRegressor`: `core.Objective`s, `(model, batch) -> (loss, metrics)`.

Token losses (on grammar-masked log-probabilities of the target's number tokens):
    ce: cross-entropy.
    ntl-mse / ntl-was: cross-entropy plus `weight` times the number token loss (Zausinger et
        al., "Regress, Don't Guess"): at each digit position, the squared error of the expected
        digit (MSE) or the Wasserstein-1 distance between the digit distribution and the true
        digit (WAS).
    dist: cross-entropy against distance-aware soft labels (DIST2Loss, Chung et al.): at digit
        positions the label puts mass exp(-|v - v*| / temperature) on digit v.
Non-decoding baselines on the same encoder:
    pointwise-mse: a linear head trained with MSE.
    riemann: a histogram head (`riemann_bins` equal bins of [0, 1]) trained with cross-entropy.

The pure functions (`number_token_loss`, `distance_soft_labels`, `riemann_bin_index`) take
tensors only, so tests can check them on hand-worked numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from decoreg.core import Batch, Objective
from decoreg.errors import ConfigError
from decoreg.tabular.model import TabularRegressor

NTL_KINDS = ("mse", "was")


def _targets(batch: Batch) -> Tensor:
    if batch.targets is None:
        raise ValueError("a training batch needs targets")
    return batch.targets


def number_token_loss(
    log_probs: Tensor,  # [N, V] grammar-masked log-probabilities at digit positions
    target_digits: Tensor,  # [N] the true digit value at each position
    digit_values: Tensor,  # [V] digit value per token, NaN for non-digit tokens
    kind: str,
) -> Tensor:
    """Mean number token loss over N digit positions.

    The distribution is renormalized over digit tokens. "mse": (sum_v p_v v - v*)^2;
    "was": sum_v p_v |v - v*| (Wasserstein-1 to a point mass at the true digit v*).
    """
    if kind not in NTL_KINDS:
        raise ConfigError(f"number token loss kind must be one of {NTL_KINDS}, got {kind!r}")
    is_digit = ~torch.isnan(digit_values)
    probs = log_probs.masked_fill(~is_digit, float("-inf")).softmax(-1)
    values = torch.nan_to_num(digit_values, nan=0.0)
    if kind == "mse":
        return ((probs @ values - target_digits) ** 2).mean()
    distance = (values.unsqueeze(0) - target_digits.unsqueeze(1)).abs()
    return (probs * distance).sum(-1).mean()


def distance_soft_labels(
    mask: Tensor,  # [N, V] bool, the grammar at each position
    target_ids: Tensor,  # [N] the true token at each position
    digit_values: Tensor,  # [V] digit value per token, NaN for non-digit tokens
    temperature: float,
) -> Tensor:
    """[N, V] labels: where the true token is a digit, mass proportional to
    exp(-|v - v*| / temperature) over the allowed digit tokens; elsewhere one-hot."""
    target_values = digit_values[target_ids]  # [N]
    digit_position = ~torch.isnan(target_values)
    allowed_digit = mask & ~torch.isnan(digit_values).unsqueeze(0)
    distance = (torch.nan_to_num(digit_values).unsqueeze(0) - target_values.unsqueeze(1)).abs()
    scores = (-distance / temperature).masked_fill(~allowed_digit, float("-inf"))
    one_hot = F.one_hot(target_ids, mask.shape[1]).to(scores.dtype)
    soft = torch.where(digit_position.unsqueeze(1), scores, torch.zeros_like(scores)).softmax(-1)
    return torch.where(digit_position.unsqueeze(1), soft, one_hot)


def riemann_bin_index(targets: Tensor, bins: int) -> Tensor:
    """[B] target-space values -> [B] int64 bin of `bins` equal bins over [0, 1] (clamped)."""
    return (targets * bins).floor().clamp(0, bins - 1).long()


def _token_terms(model: TabularRegressor, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(log_probs [B, L, V], mask [B, L, V], ids [B, L], target log-prob [B, L])."""
    ids = model.target_ids(_targets(batch))
    log_probs, mask = model.masked_log_probs(batch, ids)
    return log_probs, mask, ids, log_probs.gather(-1, ids.unsqueeze(-1)).squeeze(-1)


def _token_metrics(log_probs: Tensor, ids: Tensor, ce: Tensor) -> dict[str, float]:
    correct = log_probs.argmax(-1) == ids
    return {
        "ce": float(ce.detach()),
        "token_accuracy": float(correct.float().mean()),
        "sequence_accuracy": float(correct.all(-1).float().mean()),
    }


@dataclass(frozen=True)
class CrossEntropy(Objective):
    """Mean cross-entropy per number token, under the grammar mask."""

    def __call__(self, model: TabularRegressor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        log_probs, _, ids, target_log_probs = _token_terms(model, batch)
        loss = -target_log_probs.mean()
        return loss, {"loss": float(loss.detach()), **_token_metrics(log_probs, ids, loss)}


@dataclass(frozen=True)
class NumberTokenLoss(Objective):
    """Cross-entropy plus `weight` times the number token loss of `kind` ("mse" or "was")."""

    kind: str = "mse"
    weight: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in NTL_KINDS:
            raise ConfigError(f"kind must be one of {NTL_KINDS}, got {self.kind!r}")
        if self.weight < 0:
            raise ConfigError(f"weight must be >= 0, got {self.weight}")

    def __call__(self, model: TabularRegressor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        log_probs, _, ids, target_log_probs = _token_terms(model, batch)
        ce = -target_log_probs.mean()
        target_values = model.digit_values[ids]  # [B, L]
        digits = ~torch.isnan(target_values)
        ntl = (
            number_token_loss(
                log_probs[digits], target_values[digits], model.digit_values, self.kind
            )
            if digits.any()
            else ce.new_zeros(())
        )
        loss = ce + self.weight * ntl
        metrics = {"loss": float(loss.detach()), "ntl": float(ntl.detach())}
        return loss, {**metrics, **_token_metrics(log_probs, ids, ce)}


@dataclass(frozen=True)
class DistanceSoftLabels(Objective):
    """Cross-entropy against distance-aware soft labels (`distance_soft_labels`)."""

    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")

    def __call__(self, model: TabularRegressor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        log_probs, mask, ids, target_log_probs = _token_terms(model, batch)
        length, vocab = ids.shape[1], log_probs.shape[-1]
        labels = distance_soft_labels(
            mask.reshape(-1, vocab), ids.reshape(-1), model.digit_values, self.temperature
        ).view(-1, length, vocab)
        loss = -(labels * log_probs.masked_fill(~mask, 0.0)).sum(-1).mean()
        ce = -target_log_probs.mean()
        return loss, {"loss": float(loss.detach()), **_token_metrics(log_probs, ids, ce)}


@dataclass(frozen=True)
class PointwiseMSE(Objective):
    """A linear head on the encoder, trained with mean squared error in the target space."""

    allowed_decoders = ("head-pointwise",)  # a head is read, not decoded

    def __call__(self, model: TabularRegressor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        loss = F.mse_loss(model.pointwise(batch), _targets(batch))
        return loss, {"loss": float(loss.detach()), "mse": float(loss.detach())}


@dataclass(frozen=True)
class RiemannHead(Objective):
    """A histogram head on the encoder: cross-entropy on the target's bin over [0, 1]."""

    allowed_decoders = ("head-riemann", "head-riemann-median")  # its mean, or its median

    def __call__(self, model: TabularRegressor, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        logits = model.riemann_logits(batch)
        bins = riemann_bin_index(_targets(batch), logits.shape[-1])
        loss = F.cross_entropy(logits, bins)
        accuracy = float((logits.argmax(-1) == bins).float().mean())
        return loss, {"loss": float(loss.detach()), "bin_accuracy": accuracy}


TABULAR_OBJECTIVES = {
    "ce": CrossEntropy(),
    "ntl-mse": NumberTokenLoss(kind="mse"),
    "ntl-was": NumberTokenLoss(kind="was"),
    "dist": DistanceSoftLabels(),
    "pointwise-mse": PointwiseMSE(),
    "riemann": RiemannHead(),
}
"""Objectives by name with default options; `dataclasses.replace` one to change options."""
