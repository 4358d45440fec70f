"""Sampling continuations from a causal LM with the prompt encoded once.

The prompt's KV cache is computed in one forward pass and repeated for the samples, so
`num_samples` continuations cost one prompt pass plus `max_new_tokens` single-token steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


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


def sample_continuations(
    model,
    prompts: Sequence[list[int]],
    *,
    num_samples: int,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator,
) -> list[list[str]]:
    """Return `num_samples` decoded continuations per prompt, cut at end-of-sequence.

    Temperature 0 takes the most likely token at every step and ignores `generator`.
    """
    return sample_sequences(
        model,
        prompts,
        num_samples=num_samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        generator=generator,
    ).grouped_texts()


@torch.no_grad()
def sample_sequences(
    model,
    prompts: Sequence[list[int]],
    *,
    num_samples: int,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator,
) -> SampledSequences:
    """Sample `num_samples` continuations per prompt, with each token's log-probability.

    Temperature 0 takes the most likely token at every step and ignores `generator`.
    """
    ids, mask, positions = model.pad_left(prompts)
    out = model.lm(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
    )
    cache = out.past_key_values
    logits = out.logits[:, -1].float()  # [B, V]
    if num_samples > 1:
        cache.batch_repeat_interleave(num_samples)
        logits = logits.repeat_interleave(num_samples, dim=0)
        mask = mask.repeat_interleave(num_samples, dim=0)
        positions = positions.repeat_interleave(num_samples, dim=0)
    next_position = positions[:, -1:] + 1  # [N, 1]
    rows = logits.shape[0]
    tokens = torch.full((rows, max_new_tokens), model.eos_id, dtype=torch.long)
    logprobs = torch.zeros((rows, max_new_tokens))
    lengths = torch.full((rows,), max_new_tokens, dtype=torch.long)
    finished = torch.zeros(rows, dtype=torch.bool)
    for step in range(max_new_tokens):
        chosen = _choose(logits, temperature, generator)  # [N]
        chosen = torch.where(finished, torch.full_like(chosen, model.eos_id), chosen)
        tokens[:, step] = chosen
        chosen_logprobs = torch.log_softmax(logits, -1).gather(-1, chosen[:, None]).squeeze(-1)
        logprobs[:, step] = torch.where(finished, 0.0, chosen_logprobs)
        ends_now = ~finished & (chosen == model.eos_id)
        lengths = torch.where(ends_now, step + 1, lengths)
        finished |= chosen == model.eos_id
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones(rows, 1, dtype=mask.dtype)], dim=1)
        out = model.lm(
            input_ids=chosen[:, None],
            attention_mask=mask,
            position_ids=next_position,
            past_key_values=cache,
            use_cache=True,
        )
        cache, logits = out.past_key_values, out.logits[:, -1].float()
        next_position = next_position + 1
    texts = [_decode(model, row) for row in tokens.tolist()]
    return SampledSequences(tokens, logprobs, lengths, texts, num_samples)


def _choose(logits: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """logits: [N, V] -> [N] token ids (argmax at temperature 0, else a seeded sample)."""
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _decode(model, token_ids: list[int]) -> str:
    if model.eos_id in token_ids:
        token_ids = token_ids[: token_ids.index(model.eos_id)]
    return model.tokenizer.decode(token_ids, skip_special_tokens=True)
