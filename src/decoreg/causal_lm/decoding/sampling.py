"""Sampling continuations from a causal LM with the prompt encoded once.

The prompt's KV cache is computed in one forward pass and shared by the samples (one copy per
prompt, `decoreg.causal_lm.shared_prompt`), so `num_samples` continuations cost one prompt pass
plus `max_new_tokens` steps of one token per sample. `SampledSequences.grouped_texts` gives
the decoded continuations, one list per prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.rl.rollout import choose_actions


@dataclass(frozen=True)
class SampledSequences:
    """Continuations sampled for a batch of prompts, `num_samples` rows per prompt.

    Row `b * num_samples + s` is sample s of prompt b.

    Attributes:
        token_ids: [N, L] sampled tokens; after a row's end-of-sequence token, EOS again.
        logprobs: [N, L] log p(token | prompt, earlier tokens) under the model at
            temperature 1 (whatever temperature was sampled with); 0 after the row's EOS.
        lengths: [N] tokens up to and including the first EOS (L when none was sampled).
        texts: N decoded continuations, cut before EOS.
        num_samples: Samples per prompt.
    """

    token_ids: Tensor
    logprobs: Tensor
    lengths: Tensor
    texts: list[str]
    num_samples: int

    def grouped_texts(self) -> list[list[str]]:
        """The texts as one list of `num_samples` per prompt."""
        n = self.num_samples
        return [self.texts[i : i + n] for i in range(0, len(self.texts), n)]


@torch.no_grad()
def sample_sequences(
    model,
    prompts: Sequence[list[int]],
    *,
    num_samples: int,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator,
    uniforms: Tensor | None = None,
) -> SampledSequences:
    """Sample `num_samples` continuations per prompt, with each token's log-probability.

    Temperature 0 takes the most likely token at every step and ignores `generator`.
    `uniforms` [N, max_new_tokens] in [0, 1), when given, drive the samples by inverse CDF
    instead of `generator` (per-prompt noise: `decoreg.rl.rollout.input_uniforms`).
    """
    encoding = model.encode_prompts(prompts)
    stepper = model.continuation_stepper(encoding, num_samples)
    logits = encoding.last_logits.float().repeat_interleave(num_samples, dim=0)  # [N, V]
    rows = logits.shape[0]
    device = logits.device
    tokens = torch.full((rows, max_new_tokens), model.eos_id, dtype=torch.long, device=device)
    logprobs = torch.zeros((rows, max_new_tokens), device=device)
    lengths = torch.full((rows,), max_new_tokens, dtype=torch.long, device=device)
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    for step in range(max_new_tokens):
        step_logprobs = torch.log_softmax(logits, -1)  # [N, V]
        noise = None if uniforms is None else uniforms[:, step]
        chosen = _choose(step_logprobs, temperature, generator, noise)  # [N]
        chosen = torch.where(finished, torch.full_like(chosen, model.eos_id), chosen)
        tokens[:, step] = chosen
        chosen_logprobs = step_logprobs.gather(-1, chosen[:, None]).squeeze(-1)
        logprobs[:, step] = torch.where(finished, 0.0, chosen_logprobs)
        ends_now = ~finished & (chosen == model.eos_id)
        lengths = torch.where(ends_now, step + 1, lengths)
        finished |= chosen == model.eos_id
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        logits = stepper.step(chosen).float()
    texts = [model.continuation_text(row) for row in tokens.tolist()]
    return SampledSequences(tokens, logprobs, lengths, texts, num_samples)


def _choose(
    logprobs: Tensor, temperature: float, generator: torch.Generator, uniforms: Tensor | None
) -> Tensor:
    """logprobs: [N, V] -> [N] token ids (argmax at temperature 0, else a seeded sample)."""
    if temperature == 0.0:
        return logprobs.argmax(dim=-1)
    if uniforms is not None:  # [N]
        no_greedy = torch.zeros(len(logprobs), dtype=torch.bool, device=logprobs.device)
        return choose_actions(logprobs, no_greedy, temperature, uniforms)
    probs = logprobs.exp() if temperature == 1.0 else torch.softmax(logprobs / temperature, -1)
    # drawn on the generator's (CPU) device: the same tokens on every device for one seed
    chosen = torch.multinomial(probs.to(generator.device), 1, generator=generator)
    return chosen.squeeze(-1).to(logprobs.device)
