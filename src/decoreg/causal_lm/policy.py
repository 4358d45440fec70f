"""Rollouts and training log-probabilities for causal LMs, with the prompt encoded once.

Sampling runs the prompt once and writes one token per step for the G samples (and the
greedy pass) side by side on that single copy of the prompt's KV cache
(`decoreg.causal_lm.shared_prompt`). The training pass does the same with grad: the prompt's
forward (and so its backward) runs once per prompt, and the G completions are run as one
short teacher-forced block of G chains on top of it, through which gradients reach the
prompt's keys and values.

Constrained (default), the action space is the K number symbols (digits, '.', '-', end of
sequence) and `DigitGrammar` masks the ones the number format forbids, so every sample
parses; unconstrained, it is the whole vocabulary and unreadable outputs get the penalty.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from decoreg.causal_lm.digit_grammar import ALPHABET, EOS, DigitGrammar
from decoreg.causal_lm.expert import expert_symbols
from decoreg.causal_lm.shared_prompt import PromptEncoding
from decoreg.core import Batch
from decoreg.devices import HOST
from decoreg.errors import ConfigError
from decoreg.rl.loss import masked_entropy
from decoreg.rl.rollout import Policy, Rollout, RolloutRequest, choose_actions


@functools.cache
def _allowed_row(grammar: DigitGrammar, prefix: str) -> tuple[bool, ...]:
    allowed = set(grammar.allowed(prefix))
    return tuple(symbol in allowed for symbol in ALPHABET)


@dataclass(frozen=True)
class CausalLMPolicy(Policy):
    """The causal-LM side of the RL objective.

    Attributes:
        grammar: The numbers the model may write (from its grid range and decimals).
        symbol_ids: [K] token id of each symbol of `ALPHABET` (end of sequence last).
        constrained: Sample among grammar-allowed symbols only.
        eos_id: The model's end-of-sequence token.
    """

    grammar: DigitGrammar
    symbol_ids: Tensor
    constrained: bool
    eos_id: int

    @classmethod
    def for_model(cls, model, *, constrained: bool = True) -> CausalLMPolicy:
        ids = []
        for symbol in ALPHABET:
            tokens = model.encode_text(symbol) if symbol != EOS else [model.eos_id]
            if len(tokens) != 1:
                raise ConfigError(
                    f"the tokenizer writes {symbol!r} as {len(tokens)} tokens; RL rollouts need "
                    "every digit, '.' and '-' to be a single token"
                )
            ids.append(tokens[0])
        symbol_ids = torch.tensor(ids, device=model.device)
        return cls(model.digit_grammar, symbol_ids, constrained, model.eos_id)

    # ------------------------------------------------------------------------- sampling
    def encode(self, model, batch: Batch) -> PromptEncoding:
        """Run the prompts once; the rollout and the training pass both start from this."""
        return model.encode_prompts(batch.inputs)

    @property
    def _eos_action(self) -> int:
        return len(ALPHABET) - 1 if self.constrained else self.eos_id

    def _step_log_probs(self, logits: Tensor, prefixes: list[str], finished: Tensor):
        """logits [N, V] -> (log-probs [N, K], allowed [N, K] or None)."""
        if not self.constrained:
            return torch.log_softmax(logits, -1), None
        rows = [_allowed_row(self.grammar, p) for p in prefixes]
        allowed = torch.tensor(rows, device=logits.device)
        allowed[finished] = False
        allowed[finished, self._eos_action] = True  # past the end: a harmless EOS-only mask
        restricted = logits[:, self.symbol_ids].masked_fill(~allowed, float("-inf"))
        return torch.log_softmax(restricted, -1), allowed

    def _token_ids(self, actions: Tensor) -> Tensor:
        return self.symbol_ids[actions] if self.constrained else actions

    def sample(
        self, model, batch: Batch, request: RolloutRequest, encoding: PromptEncoding | None = None
    ) -> Rollout:
        encoding = encoding if encoding is not None else self.encode(model, batch)
        encoding = encoding.copy(detach=True)  # stepping grows the cache; the update reuses it
        stepper = model.continuation_stepper(encoding, request.rows_per_input)
        logits = encoding.last_logits.float().repeat_interleave(request.rows_per_input, 0)
        n, length = logits.shape[0], self.grammar.max_tokens
        noise = request.row_uniforms()  # [N, L]
        device = logits.device
        greedy = request.greedy_rows(device)  # [N]
        actions = torch.zeros(n, length, dtype=torch.long, device=device)
        logprobs = torch.zeros(n, length, device=device)
        step_mask = torch.zeros(n, length, dtype=torch.bool, device=device)
        allowed_steps = torch.ones(n, length, len(ALPHABET), dtype=torch.bool, device=device)
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        entropies = torch.zeros(n, length, device=device)
        prefixes = [""] * n
        for step in range(length):
            log_probs, allowed = self._step_log_probs(logits, prefixes, finished)
            chosen = choose_actions(log_probs, greedy, request.temperature, noise[:, step])
            chosen = torch.where(finished, self._eos_action, chosen)
            actions[:, step] = chosen
            step_mask[:, step] = ~finished
            picked = log_probs.gather(1, chosen[:, None]).squeeze(1)
            logprobs[:, step] = torch.where(finished, 0.0, picked)
            entropies[:, step] = torch.where(finished, 0.0, masked_entropy(log_probs))
            if allowed is not None:
                allowed_steps[:, step] = allowed
            prefixes = self._extend(prefixes, chosen, finished)
            finished = finished | (chosen == self._eos_action)
            if bool(finished.all()):
                break
            logits = stepper.step(self._token_ids(chosen)).float()
        texts = self._texts(model, actions, step_mask)
        return request.collect(
            actions=actions,
            mask=step_mask,
            allowed=allowed_steps if self.constrained else None,
            logprobs=logprobs,
            values=torch.tensor(model.parse_numbers(texts), dtype=torch.float64, device=HOST),
            texts=texts,
            entropies=entropies,
        )

    def num_steps(self, model) -> int:
        return self.grammar.max_tokens

    def input_keys(self, batch: Batch) -> list[bytes]:
        return [np.asarray(prompt, dtype=np.int64).tobytes() for prompt in batch.inputs]

    def _extend(self, prefixes: list[str], chosen: Tensor, finished: Tensor) -> list[str]:
        if not self.constrained:
            return prefixes  # unconstrained samples are decoded once at the end
        return [
            p if done else p + ALPHABET[a]
            for p, a, done in zip(prefixes, chosen.tolist(), finished.tolist(), strict=True)
        ]

    def _texts(self, model, actions: Tensor, step_mask: Tensor) -> list[str]:
        texts = []
        for row, keep in zip(actions.tolist(), step_mask.tolist(), strict=True):
            own = [a for a, k in zip(row, keep, strict=True) if k]
            if self.constrained:
                texts.append("".join(ALPHABET[a] for a in own))
            else:
                texts.append(model.continuation_text(own))
        return texts

    # ---------------------------------------------------------------------- training pass
    def action_log_probs(
        self, model, batch: Batch, rollout: Rollout, encoding: PromptEncoding | None = None
    ) -> Tensor:
        g = rollout.num_samples
        step_mask = rollout.flat("mask")
        width = max(1, int(step_mask.sum(1).max()))
        tokens = self._token_ids(rollout.flat("actions")[:, :width])  # [N, L']
        encoding = encoding if encoding is not None else self.encode(model, batch)
        encoding = encoding.copy(detach=False)
        logits = encoding.last_logits[:, None].repeat_interleave(g, 0)  # [N, 1, V]
        if width > 1:
            rest = model.continuation_logits(encoding, tokens[:, :-1])  # [N, L' - 1, V]
            logits = torch.cat([logits, rest], dim=1)
        logits = logits.float()
        if self.constrained:
            allowed = rollout.flat("allowed")[:, :width]
            logits = logits[..., self.symbol_ids].masked_fill(~allowed, float("-inf"))
        return torch.log_softmax(logits, -1)

    # ---------------------------------------------------------------------------- expert
    def expert_actions(self, model, rollout: Rollout, targets: Tensor) -> Tensor:
        actions = rollout.flat("actions")
        step_mask = rollout.flat("mask")
        experts = torch.full_like(actions, -1)
        token_symbol = {int(t): s for t, s in zip(self.symbol_ids, ALPHABET, strict=True)}
        for row in range(actions.shape[0]):
            truth = float(model.format_number(float(targets[row // rollout.num_samples])))
            own = actions[row][step_mask[row]].tolist()
            if self.constrained:
                symbols = [ALPHABET[a] for a in own]
            else:
                symbols = [token_symbol.get(a, "?") for a in own]
            for step, symbol in enumerate(expert_symbols(self.grammar, symbols, truth)):
                index = ALPHABET.index(symbol)
                experts[row, step] = index if self.constrained else int(self.symbol_ids[index])
        return experts

    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        if space == "model":
            return values
        if space == "raw":
            raw = model.from_target_space(values.numpy())
            return torch.as_tensor(raw, dtype=values.dtype, device=values.device)
        raise ConfigError(
            f"reward space {space!r} is not available for causal LMs (they record no training "
            "mean and std); use 'model' or 'raw'"
        )
