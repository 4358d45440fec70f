"""Rollouts and training log-probabilities for the tabular encoder-decoder.

Each row is encoded once: its memory is repeated for the G samples (and the greedy pass), and
the numbers are written with the model's key/value-cached `decode_step`, under the number
tokenizer's grammar (`next_token_mask`) unless unconstrained. The action space is the
tokenizer's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.core import Batch
from decoreg.errors import ConfigError
from decoreg.rl.expert import expert_digits_fixed_length
from decoreg.rl.loss import masked_entropy
from decoreg.rl.rollout import Rollout, choose_actions, greedy_row_mask, row_uniforms


@dataclass(frozen=True)
class TabularPolicy:
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

    @torch.no_grad()
    def rollout(
        self,
        model,
        batch: Batch,
        *,
        num_samples: int,
        with_greedy: bool,
        temperature: float,
        uniforms: Tensor,
        encoding: None = None,
    ) -> Rollout:
        tokenizer = model.tokenizer
        b, r = len(batch), num_samples + int(with_greedy)
        state = model.start_decoding(batch.inputs, r)
        n, length = b * r, tokenizer.num_tokens
        greedy = greedy_row_mask(b, num_samples, with_greedy)
        noise = row_uniforms(uniforms, with_greedy)  # [N, L]
        ids = torch.zeros(n, 0, dtype=torch.long)
        logprobs = torch.zeros(n, length)
        allowed_steps = torch.ones(n, length, tokenizer.vocab_size, dtype=torch.bool)
        entropy_sum, last = 0.0, None
        for step in range(length):
            logits = model.decode_step(state, last).float().cpu()  # [N, V]
            allowed = tokenizer.next_token_mask(ids)
            log_probs = self._log_probs(logits, allowed)
            chosen = choose_actions(log_probs, greedy, temperature, noise[:, step])
            logprobs[:, step] = log_probs.gather(1, chosen[:, None]).squeeze(1)
            entropy_sum += float(masked_entropy(log_probs)[~greedy].sum())
            allowed_steps[:, step] = allowed
            ids = torch.cat([ids, chosen[:, None]], dim=1)
            last = chosen.to(model.device)
        values = torch.from_numpy(tokenizer.decode(ids.numpy())).double()
        values = torch.where(torch.isfinite(values), values, torch.nan)
        texts = ["".join(tokenizer.ids_to_tokens(row)) for row in ids.tolist()]

        def samples(x: Tensor) -> Tensor:
            return x.view(b, r, *x.shape[1:])[:, :num_samples]

        return Rollout(
            actions=samples(ids),
            mask=samples(torch.ones(n, length, dtype=torch.bool)),
            allowed=samples(allowed_steps) if self.constrained else None,
            logprobs=samples(logprobs),
            values=samples(values),
            greedy_values=values.view(b, r)[:, -1] if with_greedy else None,
            texts=[texts[i * r : i * r + num_samples] for i in range(b)],
            entropy=entropy_sum / max(1, b * num_samples * length),
        )

    def num_steps(self, model) -> int:
        return model.tokenizer.num_tokens

    def input_keys(self, batch: Batch) -> list[bytes]:
        numeric = batch.inputs["numeric"].detach().cpu().numpy()
        categorical = batch.inputs["categorical"].detach().cpu().numpy()
        return [n.tobytes() + c.tobytes() for n, c in zip(numeric, categorical, strict=True)]

    def encode(self, model, batch: Batch) -> None:
        """Nothing to share: the encoder is a small MLP, cheaper to rerun than to keep."""
        return None

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
        tokenizer = model.tokenizer
        if getattr(tokenizer, "name", None) != "normalized":
            raise ConfigError(
                "expert guidance needs fixed-length most-significant-first digits: the "
                f"'normalized' tokenizer, not {tokenizer.name!r}"
            )
        truth_ids = torch.from_numpy(tokenizer.encode(targets.double().cpu().numpy()))
        truth = truth_ids.repeat_interleave(rollout.num_samples, 0)  # digit d has id d
        return expert_digits_fixed_length(rollout.flat("actions"), truth, 0, tokenizer.base - 1)

    def from_raw(self, model, values: Tensor) -> Tensor:
        return torch.as_tensor(model.target.forward(values.numpy()), dtype=values.dtype)

    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        if space == "model":
            return values
        target = model.target
        z = values * (target.z_max - target.z_min) + target.z_min
        if space == "z":
            return z
        return z * target.std + target.mean
