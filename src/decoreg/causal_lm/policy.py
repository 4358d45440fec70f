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
from decoreg.causal_lm.shared_prompt import SharedPromptStepper, teacher_forced_chains
from decoreg.core import Batch
from decoreg.errors import ConfigError
from decoreg.rl.loss import masked_entropy
from decoreg.rl.rollout import Rollout, choose_actions, greedy_row_mask, row_uniforms


@dataclass(frozen=True)
class PromptEncoding:
    """The prompts run once through the LM (with grad when the caller has it on).

    Attributes:
        keys_values: Per layer, the prompts' keys and values, [B, H, T, D] each.
        last_logits: [B, V] logits of the first answer token.
        mask: [B, T] attention mask of the left-padded prompts.
        positions: [B, T] their position ids.
    """

    keys_values: list[tuple[Tensor, Tensor]]
    last_logits: Tensor
    mask: Tensor
    positions: Tensor

    def cache(self, *, detach: bool):
        """A fresh KV cache holding the prompts' keys and values (one copy per prompt)."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for layer, (keys, values) in enumerate(self.keys_values):
            if detach:
                keys, values = keys.detach(), values.detach()
            cache.update(keys, values, layer)
        return cache


@functools.cache
def _allowed_row(grammar: DigitGrammar, prefix: str) -> tuple[bool, ...]:
    allowed = set(grammar.allowed(prefix))
    return tuple(symbol in allowed for symbol in ALPHABET)


@dataclass(frozen=True)
class CausalLMPolicy:
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
        spec = model.spec
        grammar = DigitGrammar.for_range(min(spec.grid), max(spec.grid), spec.decimals)
        ids = []
        for symbol in ALPHABET:
            tokens = [model.eos_id]
            if symbol != EOS:
                tokens = list(model.tokenizer(symbol, add_special_tokens=False)["input_ids"])
            if len(tokens) != 1:
                raise ConfigError(
                    f"the tokenizer writes {symbol!r} as {len(tokens)} tokens; RL rollouts need "
                    "every digit, '.' and '-' to be a single token"
                )
            ids.append(tokens[0])
        return cls(grammar, torch.tensor(ids), constrained, model.eos_id)

    # ------------------------------------------------------------------------- sampling
    def encode(self, model, batch: Batch) -> PromptEncoding:
        """Run the prompts once; the rollout and the training pass both start from this."""
        ids, mask, positions = model.pad_left(batch.inputs)
        out = model.lm(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        layers = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        return PromptEncoding(layers, out.logits[:, -1], mask, positions)

    @property
    def _eos_action(self) -> int:
        return len(ALPHABET) - 1 if self.constrained else self.eos_id

    def _step_log_probs(self, logits: Tensor, prefixes: list[str], finished: Tensor):
        """logits [N, V] -> (log-probs [N, K], allowed [N, K] or None)."""
        if not self.constrained:
            return torch.log_softmax(logits, -1), None
        allowed = torch.tensor([_allowed_row(self.grammar, p) for p in prefixes])
        allowed[finished] = False
        allowed[finished, self._eos_action] = True  # past the end: a harmless EOS-only mask
        restricted = logits[:, self.symbol_ids].masked_fill(~allowed, float("-inf"))
        return torch.log_softmax(restricted, -1), allowed

    def _token_ids(self, actions: Tensor) -> Tensor:
        return self.symbol_ids[actions] if self.constrained else actions

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
        encoding: PromptEncoding | None = None,
    ) -> Rollout:
        prompts = batch.inputs
        rows_per_prompt = num_samples + int(with_greedy)
        encoding = encoding if encoding is not None else self.encode(model, batch)
        stepper = SharedPromptStepper(
            model.lm,
            encoding.cache(detach=True),
            encoding.mask,
            encoding.positions,
            rows_per_prompt,
        )
        logits = encoding.last_logits.detach().float().repeat_interleave(rows_per_prompt, 0)
        n, length = logits.shape[0], self.grammar.max_tokens
        noise = row_uniforms(uniforms, with_greedy)  # [N, L]
        greedy = greedy_row_mask(len(prompts), num_samples, with_greedy)
        actions = torch.zeros(n, length, dtype=torch.long)
        logprobs = torch.zeros(n, length)
        step_mask = torch.zeros(n, length, dtype=torch.bool)
        allowed_steps = torch.ones(n, length, len(ALPHABET), dtype=torch.bool)
        finished = torch.zeros(n, dtype=torch.bool)
        prefixes, entropy_sum = [""] * n, 0.0
        for step in range(length):
            log_probs, allowed = self._step_log_probs(logits, prefixes, finished)
            chosen = choose_actions(log_probs, greedy, temperature, noise[:, step])
            chosen = torch.where(finished, self._eos_action, chosen)
            actions[:, step] = chosen
            step_mask[:, step] = ~finished
            picked = log_probs.gather(1, chosen[:, None]).squeeze(1)
            logprobs[:, step] = torch.where(finished, 0.0, picked)
            sampled_rows = ~finished & ~greedy
            entropy_sum += float(masked_entropy(log_probs)[sampled_rows].sum())
            if allowed is not None:
                allowed_steps[:, step] = allowed
            prefixes = self._extend(prefixes, chosen, finished)
            finished = finished | (chosen == self._eos_action)
            if bool(finished.all()):
                break
            logits = stepper.step(self._token_ids(chosen)).float()
        texts = self._texts(model, actions, step_mask)
        values = torch.tensor(_parse(model, texts), dtype=torch.float64)
        b, r = len(prompts), rows_per_prompt

        def samples(x: Tensor) -> Tensor:
            return x.view(b, r, *x.shape[1:])[:, :num_samples]

        sampled_steps = step_mask & ~greedy[:, None]
        return Rollout(
            actions=samples(actions),
            mask=samples(step_mask),
            allowed=samples(allowed_steps) if self.constrained else None,
            logprobs=samples(logprobs),
            values=samples(values),
            greedy_values=values.view(b, r)[:, -1] if with_greedy else None,
            texts=[texts[i * r : i * r + num_samples] for i in range(b)],
            entropy=entropy_sum / max(1, int(sampled_steps.sum())),
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
                own = own[: own.index(self.eos_id)] if self.eos_id in own else own
                texts.append(model.tokenizer.decode(own, skip_special_tokens=True))
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
        logits = encoding.last_logits[:, None].repeat_interleave(g, 0)  # [N, 1, V]
        if width > 1:
            rest = teacher_forced_chains(
                model.lm,
                encoding.cache(detach=False),
                encoding.mask,
                encoding.positions,
                tokens[:, :-1],
            )  # [N, L' - 1, V]
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
            truth = float(model.number_format.format(float(targets[row // rollout.num_samples])))
            own = actions[row][step_mask[row]].tolist()
            if self.constrained:
                symbols = [ALPHABET[a] for a in own]
            else:
                symbols = [token_symbol.get(a, "?") for a in own]
            for step, symbol in enumerate(expert_symbols(self.grammar, symbols, truth)):
                index = ALPHABET.index(symbol)
                experts[row, step] = index if self.constrained else int(self.symbol_ids[index])
        return experts

    def from_raw(self, model, values: Tensor) -> Tensor:
        return torch.as_tensor(model.spec.scaler.transform(values.numpy()), dtype=values.dtype)

    def to_reward_space(self, model, values: Tensor, space: str) -> Tensor:
        if space == "model":
            return values
        if space == "raw":
            scaler = model.spec.scaler
            return (values - scaler.offset) / scaler.scale
        raise ConfigError(
            f"reward space {space!r} is not available for causal LMs (they record no training "
            "mean and std); use 'model' or 'raw'"
        )


def _parse(model, texts: list[str]) -> np.ndarray:
    values = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        value = model.number_format.parse(text) if text else None
        if value is not None:
            values[i] = value
    return values
