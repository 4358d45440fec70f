"""Rollouts and training log-probabilities for the tabular encoder-decoder.

Each row is encoded once: its memory is repeated for the G samples (and the greedy pass), and
the numbers are written with the model's key/value-cached `decode_step`, under the number
tokenizer's grammar (`allowed_next_tokens`) unless unconstrained. The action space is the
tokenizer's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.core import Batch
from decoreg.devices import HOST
from decoreg.rl.expert import expert_digits_fixed_length
from decoreg.rl.loss import masked_entropy
from decoreg.rl.rollout import Policy, Rollout, RolloutRequest, choose_actions


@dataclass(frozen=True)
class TabularPolicy(Policy):
    """The tabular side of the RL objective.

    Attributes:
        constrained: Mask tokens the tokenizer's grammar forbids (every sample parses).
    """

    constrained: bool = True

    @classmethod
    def for_model(cls, model, *, constrained: bool = True) -> TabularPolicy:
        return cls(constrained)

    def _log_probs(self, logits: Tensor, allowed: Tensor) -> Tensor:
        if self.constrained:
            logits = logits.masked_fill(~allowed, float("-inf"))
        return torch.log_softmax(logits.float(), -1)

    def sample(
        self, model, batch: Batch, request: RolloutRequest, encoding: None = None
    ) -> Rollout:
        state = model.start_decoding(batch.inputs, request.rows_per_input)
        n, length = len(batch) * request.rows_per_input, model.max_number_tokens
        greedy = request.greedy_rows(HOST)  # [N]; the loop runs on the host (grammar masks)
        noise = request.row_uniforms()  # [N, L]
        ids = torch.zeros(n, 0, dtype=torch.long, device=HOST)
        logprobs = torch.zeros(n, length, device=HOST)
        allowed_steps = []  # L of [N, V]
        entropies = torch.zeros(n, length, device=HOST)
        last = None
        for step in range(length):
            logits = model.decode_step(state, last).float().cpu()  # [N, V]
            allowed = model.allowed_next_tokens(ids)
            log_probs = self._log_probs(logits, allowed)
            chosen = choose_actions(log_probs, greedy, request.temperature, noise[:, step])
            logprobs[:, step] = log_probs.gather(1, chosen[:, None]).squeeze(1)
            entropies[:, step] = masked_entropy(log_probs)
            allowed_steps.append(allowed)
            ids = torch.cat([ids, chosen[:, None]], dim=1)
            last = chosen.to(model.device)
        values = torch.as_tensor(model.decode_numbers(ids.numpy()), device=HOST).double()
        return request.collect(
            actions=ids,
            # every number has all L tokens
            mask=torch.ones(n, length, dtype=torch.bool, device=HOST),
            allowed=torch.stack(allowed_steps, dim=1) if self.constrained else None,
            logprobs=logprobs,
            values=torch.where(torch.isfinite(values), values, torch.nan),
            texts=model.number_texts(ids.tolist()),
            entropies=entropies,
        )

    def num_steps(self, model) -> int:
        return model.max_number_tokens

    def input_keys(self, batch: Batch) -> list[bytes]:
        numeric = batch.inputs["numeric"].detach().cpu().numpy()
        categorical = batch.inputs["categorical"].detach().cpu().numpy()
        return [n.tobytes() + c.tobytes() for n, c in zip(numeric, categorical, strict=True)]

    def action_log_probs(
        self, model, batch: Batch, rollout: Rollout, encoding: None = None
    ) -> Tensor:
        actions = rollout.flat("actions").to(model.device)  # [N, L]
        state = model.start_decoding(batch.inputs, rollout.num_samples)  # one encoder pass
        steps, last = [], None
        for step in range(actions.shape[1]):
            steps.append(model.decode_step(state, last))
            last = actions[:, step]
        logits = torch.stack(steps, dim=1).float().cpu()  # [N, L, V]
        if self.constrained:
            logits = logits.masked_fill(~rollout.flat("allowed"), float("-inf"))
        return torch.log_softmax(logits, -1)

    def expert_actions(self, model, rollout: Rollout, targets: Tensor) -> Tensor:
        smallest, largest = model.digit_range()  # a ConfigError unless fixed-length digits
        truth_ids = model.target_ids(targets).cpu()  # digit d has id d
        truth = truth_ids.repeat_interleave(rollout.num_samples, 0)
        return expert_digits_fixed_length(rollout.flat("actions"), truth, smallest, largest)

    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        return values if space == "model" else model.target_space_to(values, space)
