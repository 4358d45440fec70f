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
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.core import Batch
from decoreg.devices import HOST


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
        entropies: [B, G, L] entropy (nats) of the temperature-1 distribution (grammar-masked
            when constrained) each step was sampled from; 0 past each number's end.
    """

    actions: Tensor
    mask: Tensor
    allowed: Tensor | None
    logprobs: Tensor
    values: Tensor
    greedy_values: Tensor | None
    texts: list[list[str]]
    entropies: Tensor

    @property
    def num_samples(self) -> int:
        return int(self.actions.shape[1])

    @property
    def entropy(self) -> float:
        """Mean per-step entropy over every sampled step of every sample (token-weighted)."""
        return float(self.entropies[self.mask].double().mean()) if self.mask.any() else 0.0

    @property
    def number_entropy(self) -> float:
        """Mean over samples of the sum of their steps' entropies: by the chain rule an
        unbiased estimate of the entropy (nats) of the distribution over whole numbers when
        sampled at temperature 1."""
        return float((self.entropies * self.mask).double().sum(-1).mean())

    def flat(self, name: str) -> Tensor:
        """A [B, G, ...] field as [B * G, ...] (row b * G + g)."""
        value = getattr(self, name)
        return value.reshape(-1, *value.shape[2:])


@dataclass(frozen=True)
class RolloutRequest:
    """What to sample for a batch of B inputs.

    Each input owns R rows of the sampling batch, row `b * R + r`: its G samples and, with
    the greedy pass, one last greedy row (R = G + 1; else R = G).

    Attributes:
        num_samples: G, the samples per input.
        with_greedy: Also decode each input greedily (ReMax's baseline).
        temperature: Sampling temperature (> 0); the recorded log-probs are at temperature 1.
        uniforms: [B, G, L] noise in [0, 1) that drives the samples (inverse-CDF sampling).
    """

    num_samples: int
    with_greedy: bool
    temperature: float
    uniforms: Tensor

    def __post_init__(self) -> None:
        if self.uniforms.dim() != 3 or self.uniforms.shape[1] != self.num_samples:
            raise ValueError(
                f"uniforms must be [B, G={self.num_samples}, L], got {tuple(self.uniforms.shape)}"
            )
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    @property
    def batch_size(self) -> int:
        return int(self.uniforms.shape[0])

    @property
    def rows_per_input(self) -> int:
        """R: the G samples, plus the greedy row when asked for."""
        return self.num_samples + int(self.with_greedy)

    def greedy_rows(self, device: torch.device) -> Tensor:  # [B * R] bool
        """True on each input's greedy row, made on `device`."""
        flags = torch.zeros(self.batch_size, self.rows_per_input, dtype=torch.bool, device=device)
        if self.with_greedy:
            flags[:, -1] = True
        return flags.reshape(-1)

    def row_uniforms(self) -> Tensor:  # [B * R, L]
        """The noise of each row; the greedy rows get zeros they do not use."""
        uniforms = self.uniforms
        if self.with_greedy:
            uniforms = torch.cat([uniforms, torch.zeros_like(uniforms[:, :1])], dim=1)
        return uniforms.reshape(-1, uniforms.shape[-1])

    def collect(
        self,
        *,
        actions: Tensor,  # [B * R, L]
        mask: Tensor,  # [B * R, L] bool
        allowed: Tensor | None,  # [B * R, L, K] bool, or None when nothing is masked
        logprobs: Tensor,  # [B * R, L]
        values: Tensor,  # [B * R] float64
        texts: list[str],  # B * R
        entropies: Tensor,  # [B * R, L] each step's entropy
    ) -> Rollout:
        """The rows as a `Rollout`: the G samples of each input and its greedy value."""
        b, r, g = self.batch_size, self.rows_per_input, self.num_samples

        def samples(x: Tensor) -> Tensor:  # [B * R, ...] -> [B, G, ...]
            return x.view(b, r, *x.shape[1:])[:, :g]

        return Rollout(
            actions=samples(actions),
            mask=samples(mask),
            allowed=samples(allowed) if allowed is not None else None,
            logprobs=samples(logprobs),
            values=samples(values),
            greedy_values=values.view(b, r)[:, -1] if self.with_greedy else None,
            texts=[texts[i * r : i * r + g] for i in range(b)],
            entropies=samples(entropies) * samples(mask),
        )


class Policy(ABC):
    """What the RL objective needs from a model family (its model's `rl_policy()`).

    A policy holds what is fixed for a model (grammar, action space); every method takes the
    model, so one policy serves the trained model and its frozen reference copy alike.
    """

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

        `uniforms` [B, G, num_steps] in [0, 1) drive the samples (see `RolloutRequest`);
        `encoding` from `encode` saves encoding the inputs again.
        """
        request = RolloutRequest(num_samples, with_greedy, temperature, uniforms)
        with torch.no_grad():
            return self.sample(model, batch, request, encoding)

    @abstractmethod
    def sample(self, model, batch: Batch, request: RolloutRequest, encoding=None) -> Rollout:
        """The family's sampling loop; `rollout` calls it under `torch.no_grad`."""

    def encode(self, model, batch: Batch):
        """Encode the inputs once (with grad if on) for `rollout` and `action_log_probs` to
        share; None (the default) when the family gains nothing from sharing."""
        return None

    @abstractmethod
    def num_steps(self, model) -> int:
        """Steps (tokens) of the longest number the model can write."""

    @abstractmethod
    def input_keys(self, batch: Batch) -> list[bytes]:
        """One byte string per input that identifies its content (seeds its noise)."""

    @abstractmethod
    def action_log_probs(self, model, batch: Batch, rollout: Rollout, encoding=None) -> Tensor:
        """[B * G, L', K] log-probabilities over the action space at each step of each sample,
        with grad (-inf where the grammar forbids an action); L' <= L trims steps past every
        number's end. Each input is encoded once and shared by its G samples."""

    @abstractmethod
    def expert_actions(self, model, rollout: Rollout, targets: Tensor) -> Tensor:
        """[B * G, L] the expert's action after each sampled prefix (-1 where none);
        `targets` [B] in the model's target space."""

    @abstractmethod
    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        """Target-space values (any shape, NaN kept) -> the space rewards are computed in."""

    def from_raw(self, model, values: Tensor) -> Tensor:
        """Values on the user's scale (what predictions are) -> the model's target space."""
        target = model.to_target_space(values.numpy())
        return torch.as_tensor(target, dtype=values.dtype, device=values.device)


def choose_actions(
    log_probs: Tensor,  # [N, K] log-probabilities at temperature 1 (-inf where forbidden)
    greedy_rows: Tensor,  # [N] bool
    temperature: float,
    uniforms: Tensor,  # [N] in [0, 1)
) -> Tensor:  # [N]
    """One action per row at `temperature` by inverse CDF; greedy rows take the argmax.

    The action is the first whose cumulative probability exceeds u, so a forbidden action
    (probability 0) is never chosen. `uniforms` (drawn on the CPU) move to `log_probs`'s device.
    """
    probs = torch.softmax(log_probs / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    threshold = (uniforms.to(device=cdf.device, dtype=cdf.dtype) * cdf[:, -1])[:, None]
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
        generator = torch.Generator(device=HOST)
        generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        draw = torch.rand(num_samples, num_steps, generator=generator, dtype=torch.float64,
                          device=HOST)  # fmt: skip
        rows.append(draw)
    return torch.stack(rows)
