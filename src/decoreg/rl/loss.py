"""The one policy-gradient loss over whole sequences, plus the pieces that ride on it.

    loss = -mean_n A_n * sum_t log pi(a_nt)                      (plain policy gradient)
    loss = -mean_n sum_t min(r_nt A_n, clip(r_nt, 1 +- eps) A_n)  (ratio clipping, r = pi/pi_old)
         + beta * mean_n sum_t KL_nt(pi || pi_ref)                (k3 estimator, beta = 0 default)
         - entropy_coef * mean_n sum_t H_nt                       (entropy bonus, default 0)

Sums run over each sequence's own tokens (`mask`); the advantage is always detached. With a
single update per rollout `pi_old = pi.detach()`, the ratio is 1 and both forms have the same
gradient, sum_t A_n grad log pi(a_nt).
"""

from __future__ import annotations

import torch
from torch import Tensor


def policy_gradient_loss(
    logprobs: Tensor,  # [N, L] log pi(a_t | prefix), with grad
    mask: Tensor,  # [N, L] bool, True on each sequence's own tokens
    advantages: Tensor,  # [N]
    *,
    old_logprobs: Tensor | None = None,  # [N, L] the rollout policy's log-probs
    clip_epsilon: float | None = None,
    ref_logprobs: Tensor | None = None,  # [N, L] a frozen reference model's log-probs
    kl_beta: float = 0.0,
    entropies: Tensor | None = None,  # [N, L] entropy of pi at each position, with grad
    entropy_coef: float = 0.0,
) -> tuple[Tensor, dict[str, float]]:
    """The sequence-level policy-gradient loss and its detached parts.

    Returns:
        (scalar loss, metrics) with metrics "pg_loss", and "clip_fraction", "kl",
        "entropy_bonus" when those terms are on.
    """
    logprobs = logprobs.double()  # sums of many opposite-signed terms: reduce in float64
    weights = mask.to(logprobs.dtype)
    advantages = advantages.detach().to(logprobs.dtype)[:, None]  # [N, 1]
    metrics: dict[str, float] = {}
    if clip_epsilon is None:
        pg = -(advantages * logprobs * weights).sum(-1).mean()
    else:
        old = logprobs.detach() if old_logprobs is None else old_logprobs.detach().double()
        ratio = torch.exp(logprobs - old)
        unclipped = ratio * advantages
        clipped = ratio.clamp(1.0 - clip_epsilon, 1.0 + clip_epsilon) * advantages
        pg = -(torch.minimum(unclipped, clipped) * weights).sum(-1).mean()
        with torch.no_grad():
            outside = ((ratio - 1.0).abs() > clip_epsilon) & mask
            metrics["clip_fraction"] = float(outside.sum() / mask.sum().clamp(min=1))
    loss = pg
    metrics["pg_loss"] = float(pg.detach())
    if kl_beta > 0:
        if ref_logprobs is None:
            raise ValueError("kl_beta > 0 needs the reference model's log-probs")
        kl = (k3_kl(logprobs, ref_logprobs.detach().double()) * weights).sum(-1).mean()
        loss = loss + kl_beta * kl
        metrics["kl"] = float(kl.detach())
    if entropy_coef > 0:
        if entropies is None:
            raise ValueError("entropy_coef > 0 needs the per-position entropies")
        bonus = (entropies.double() * weights).sum(-1).mean()
        loss = loss - entropy_coef * bonus
        metrics["entropy_bonus"] = float(bonus.detach())
    return loss, metrics


def k3_kl(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Per-token k3 estimate of KL(pi || ref) from sampled tokens: e^d - d - 1, d = ref - pi.

    Non-negative, zero where the two agree, unbiased for samples drawn from pi.
    """
    delta = ref_logprobs - logprobs
    return torch.exp(delta) - delta - 1.0


def masked_entropy(log_probs: Tensor) -> Tensor:  # [..., K] with -inf where masked -> [...]
    """Entropy of distributions given as log-probs, where -inf entries count as 0 mass.

    The -inf entries are replaced before multiplying, so the gradient stays finite.
    """
    finite = torch.isfinite(log_probs)
    safe = log_probs.masked_fill(~finite, 0.0)
    return -(safe.exp().masked_fill(~finite, 0.0) * safe).sum(-1)
