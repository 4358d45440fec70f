"""Several continuations per prompt on one copy of the prompt's KV cache.

Repeating a prompt's cache for every continuation copies it R times and makes attention read
each copy separately. Instead, the R continuations of a prompt are fed side by side in one
row of the batch, after the single cached prompt, under a mask in which continuation r sees
the prompt and its own earlier tokens only: the cache grows by R columns per step and the
prompt's keys and values are stored (and read) once per prompt. `SharedPromptStepper` feeds
one step at a time (sampling); `teacher_forced_chains` feeds known continuations all at once
(training). The trie scorer
(`decoreg.causal_lm.grid_scoring`) uses the same idea with a tree instead of R chains. All
of them start from a `PromptEncoding` (`CausalLMRegressor.encode_prompts`) and feed their
tokens through `feed_after_prompts`.

Column layout after k steps: the T prompt columns, then R columns per step, the token of
continuation r at step j in column T + j * R + r.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PromptEncoding:
    """Left-padded prompts run once through the LM (with grad when the caller has it on).

    Attributes:
        cache: The LM's KV cache of the B prompts, or None when not kept. Feeding tokens after
            the prompts grows it in place, so to feed the prompts twice, feed `copy`s.
        last_logits: [B, V] logits of the first answer token.
        mask: [B, T] attention mask of the left-padded prompts.
        positions: [B, T] their position ids.
    """

    cache: object | None
    last_logits: Tensor
    mask: Tensor
    positions: Tensor

    def copy(self, *, detach: bool) -> PromptEncoding:
        """The same encoding with a fresh cache holding what this one's holds (call it before
        feeding this one); with `detach` cut from the graph, else gradients reach the prompts."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for layer, kv in enumerate(self.cache.layers):
            keys, values = (
                (kv.keys.detach(), kv.values.detach()) if detach else (kv.keys, kv.values)
            )
            cache.update(keys, values, layer)
        logits = self.last_logits.detach() if detach else self.last_logits
        return PromptEncoding(cache, logits, self.mask, self.positions)


def attention_mask_for(lm, allowed: Tensor) -> Tensor:
    """A 4D mask as the attention implementation expects: bool for SDPA, additive otherwise.

    Args:
        lm: The Hugging Face causal LM.
        allowed: [B, 1, Q, K] True where query q may attend to key k.
    """
    implementation = getattr(lm.config, "_attn_implementation", "sdpa")
    if implementation == "sdpa":
        return allowed
    dtype = next(lm.parameters()).dtype
    blocked = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return blocked.masked_fill(~allowed, torch.finfo(dtype).min)


def feed_after_prompts(
    lm,
    cache,
    tokens: Tensor,  # [B, C] fed after what the cache holds (the prompts, maybe more)
    allowed: Tensor,  # [B, 1, C, K] bool: which of the K cached + fed keys each token sees
    positions: Tensor,  # [B, C] position ids of the fed tokens
) -> Tensor:  # [B, C, V]
    """Logits of `tokens` fed after the cached prompts under a custom mask; the cache grows
    by C columns."""
    return lm(
        input_ids=tokens,
        attention_mask=attention_mask_for(lm, allowed),
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
    ).logits


def chain_mask(prompt_mask: Tensor, rows_per_prompt: int, steps: int) -> Tensor:
    """Which keys each of the R chains' tokens at steps `0..steps-1` may attend to.

    Args:
        prompt_mask: [B, T] 1 for real prompt tokens, 0 for left padding.
        rows_per_prompt: R, the continuations per prompt.
        steps: How many tokens of each chain are fed in this pass (the queries), counting
            from the chain's first token; the keys are the prompt and all of them.

    Returns:
        [B, 1, steps * R, T + steps * R] bool: the query of chain r at step i sees the real
        prompt tokens and the tokens of chain r at steps 0..i.
    """
    batch, width = prompt_mask.shape
    r = rows_per_prompt
    columns = torch.arange(steps * r, device=prompt_mask.device)
    step_of = columns // r  # [S*R] step of each fed column / query
    chain_of = columns % r  # [S*R] chain of each fed column / query
    own = (chain_of[:, None] == chain_of[None, :]) & (step_of[None, :] <= step_of[:, None])
    prompt_part = prompt_mask.bool()[:, None, None, :].expand(batch, 1, steps * r, width)
    chain_part = own[None, None].expand(batch, 1, steps * r, steps * r)
    return torch.cat([prompt_part, chain_part], dim=-1)


class SharedPromptStepper:
    """Feeds one token per continuation per step after a cached prompt batch.

    Rows are ordered `b * R + r` (prompt b, continuation r), as `repeat_interleave` would
    order them.

    Args:
        lm: The Hugging Face causal LM that encoded the prompts.
        cache: The prompts' KV cache (B rows); it grows by R columns per step.
        prompt_mask: [B, T] attention mask of the left-padded prompts.
        prompt_positions: [B, T] their position ids.
        rows_per_prompt: R, the continuations per prompt.
    """

    def __init__(
        self, lm, cache, prompt_mask: Tensor, prompt_positions: Tensor, rows_per_prompt: int
    ):
        self.lm = lm
        self.cache = cache
        self.prompt_mask = prompt_mask
        self.next_position = prompt_positions[:, -1:] + 1  # [B, 1]
        self.rows_per_prompt = rows_per_prompt
        self.steps_fed = 0

    def step(self, tokens: Tensor) -> Tensor:
        """tokens: [B * R] the continuations' next tokens -> [B * R, V] next-token logits."""
        r, k = self.rows_per_prompt, self.steps_fed
        batch = self.prompt_mask.shape[0]
        full = chain_mask(self.prompt_mask, r, k + 1)  # [B, 1, (k+1)R, T + (k+1)R]
        allowed = full[:, :, k * r :]  # this step's queries only: [B, 1, R, T + (k+1)R]
        logits = feed_after_prompts(
            self.lm,
            self.cache,
            tokens.view(batch, r),
            allowed,
            self.next_position.expand(batch, r),
        )
        self.next_position = self.next_position + 1
        self.steps_fed += 1
        return logits.reshape(batch * r, -1)


def teacher_forced_chains(
    lm, cache, prompt_mask: Tensor, prompt_positions: Tensor, tokens: Tensor
) -> Tensor:
    """All steps of R given continuations per prompt in one pass after the cached prompts.

    Args:
        lm: The Hugging Face causal LM that encoded the prompts.
        cache: The prompts' KV cache (B rows); gradients flow through it if it has them.
        prompt_mask: [B, T] attention mask of the left-padded prompts.
        prompt_positions: [B, T] their position ids.
        tokens: [B * R, S] the continuations' tokens, rows ordered `b * R + r`.

    Returns:
        [B * R, S, V]: the logits after each continuation's tokens 0..s.
    """
    batch = prompt_mask.shape[0]
    r, steps = tokens.shape[0] // batch, tokens.shape[1]
    fed = tokens.reshape(batch, r, steps).transpose(1, 2).reshape(batch, steps * r)
    step_of = torch.arange(steps * r, device=tokens.device) // r  # [S*R] step of each fed column
    positions = prompt_positions[:, -1:] + 1 + step_of[None, :]
    logits = feed_after_prompts(lm, cache, fed, chain_mask(prompt_mask, r, steps), positions)
    vocab = logits.shape[-1]
    return logits.view(batch, steps, r, vocab).transpose(1, 2).reshape(batch * r, steps, vocab)
