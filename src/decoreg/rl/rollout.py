"""Rollouts: G sampled numbers per input (plus the greedy number when the advantage needs it).

Sampling noise is a pure function of (seed, step, input): `input_uniforms` draws each input's
uniform numbers from its own generator, seeded by a hash of its content, so the samples of an
input do not depend on which batch, process or resumed run it lands in.

A rollout is family-neutral: each number is a sequence of *actions*, indices into the policy's
action space of K choices per step (the K number symbols of a causal LM under its grammar, or
its whole vocabulary unconstrained; the tabular tokenizer's vocabulary). Each model family
supplies a `Policy` (its model's `rl_policy()`) that samples rollouts and recomputes their
log-probabilities with grad, sharing one encoding of each input across all its samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from decoreg.core import Batch


@dataclass(frozen=True)
class Rollout:
    """Numbers sampled for a batch of B inputs, G per input.

    Attributes:
        actions: [B, G, L] action indices (0 past each number's end).
        mask: [B, G, L] bool, True on each number's own steps (its end token included).
        allowed: [B, G, L, K] bool grammar at each step, or None when nothing is masked.
        logprobs: [B, G, L] log-probability of each action under the sampling policy at
            temperature 1 (0 past the end).
        values: [B, G] float64 numbers in the model's target space, NaN where unparseable.
        greedy_values: [B] float64 greedy-decoded numbers, or None when not decoded.
        texts: B lists of G written numbers.
        entropy: Mean entropy (nats) of the sampling distribution per sampled step.
    """

    actions: Tensor
    mask: Tensor
    allowed: Tensor | None
    logprobs: Tensor
    values: Tensor
    greedy_values: Tensor | None
    texts: list[list[str]]
    entropy: float

    @property
    def num_samples(self) -> int:
        return int(self.actions.shape[1])

    def flat(self, name: str) -> Tensor:
        """A [B, G, ...] field as [B * G, ...] (row b * G + g)."""
        value = getattr(self, name)
        return value.reshape(-1, *value.shape[2:])


class Policy(Protocol):
    """What the RL objective needs from a model family."""

    def rollout(
        self,
        model,
        batch: Batch,
        *,
        num_samples: int,
        with_greedy: bool,
        temperature: float,
        uniforms: Tensor,
        encoding=None,
    ) -> Rollout:
        """Sample without grad, encoding each input once for all its samples.

        `uniforms` [B, G, num_steps] in [0, 1) drive the samples (inverse-CDF sampling);
        `encoding` from `encode` saves encoding the inputs again.
        """
        ...

    def encode(self, model, batch: Batch):
        """Encode the inputs once (with grad if on) for `rollout` and `action_log_probs` to
        share, or None when the family gains nothing from sharing."""
        ...

    def num_steps(self, model) -> int:
        """Steps (tokens) of the longest number the model can write."""
        ...

    def input_keys(self, batch: Batch) -> list[bytes]:
        """One byte string per input that identifies its content (seeds its noise)."""
        ...

    def action_log_probs(self, model, batch: Batch, rollout: Rollout, encoding=None) -> Tensor:
        """[B * G, L', K] log-probabilities over the action space at each step of each sample,
        with grad (-inf where the grammar forbids an action); L' <= L trims steps past every
        number's end. Each input is encoded once and shared by its G samples."""
        ...

    def expert_actions(self, model, rollout: Rollout, targets: Tensor) -> Tensor:
        """[B * G, L] the expert's action after each sampled prefix (-1 where none);
        `targets` [B] in the model's target space."""
        ...

    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        """Target-space values (any shape, NaN kept) -> the space rewards are computed in."""
        ...

    def from_raw(self, model, values: Tensor) -> Tensor:
        """Values on the user's scale (what predictions are) -> the model's target space."""
        ...


def choose_actions(
    log_probs: Tensor,  # [N, K] log-probabilities at temperature 1 (-inf where forbidden)
    greedy_rows: Tensor,  # [N] bool
    temperature: float,
    uniforms: Tensor,  # [N] in [0, 1)
) -> Tensor:  # [N]
    """One action per row at `temperature` by inverse CDF; greedy rows take the argmax.

    The action is the first whose cumulative probability exceeds u, so a forbidden action
    (probability 0) is never chosen.
    """
    probs = torch.softmax(log_probs / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    threshold = (uniforms.to(cdf.dtype) * cdf[:, -1])[:, None]
    sampled = torch.searchsorted(cdf, threshold, right=True).squeeze(-1)
    sampled = sampled.clamp(max=probs.shape[-1] - 1)
    return torch.where(greedy_rows, log_probs.argmax(-1), sampled)


def input_uniforms(
    keys: Sequence[bytes], *, seed: int, step: int, num_samples: int, num_steps: int
) -> Tensor:  # [B, G, L]
    """Uniform noise for each input's samples, a pure function of (seed, step, input)."""
    rows = []
    for key in keys:
        digest = hashlib.sha256(f"{seed}:{step}:".encode() + key).digest()
        generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        rows.append(torch.rand(num_samples, num_steps, generator=generator, dtype=torch.float64))
    return torch.stack(rows)


def row_uniforms(uniforms: Tensor, with_greedy: bool) -> Tensor:
    """[B, G, L] -> [B * R, L]: the greedy row (R = G + 1) gets zeros it does not use."""
    if with_greedy:
        uniforms = torch.cat([uniforms, torch.zeros_like(uniforms[:, :1])], dim=1)
    return uniforms.reshape(-1, uniforms.shape[-1])


def greedy_row_mask(batch_size: int, num_samples: int, with_greedy: bool) -> Tensor:
    """[B * R] bool: with the greedy pass each input owns R = G + 1 rows, the last greedy."""
    rows = num_samples + int(with_greedy)
    flags = torch.zeros(batch_size, rows, dtype=torch.bool)
    if with_greedy:
        flags[:, -1] = True
    return flags.reshape(-1)
