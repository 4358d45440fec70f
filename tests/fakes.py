"""A causal LM stand-in whose next-token logits are fixed per generation step."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec


class StepCache:
    """Counts generated steps; supports the one cache method the sampler calls."""

    def __init__(self) -> None:
        self.steps = 0

    def batch_repeat_interleave(self, repeats: int) -> None:
        pass


class FixedLogitsLM(nn.Module):
    """Returns `step_logits[k]` ([V]) for every row at generation step k (clamped to the last).

    Step 0 is the logits after the prompt; every later call advances one step.
    """

    def __init__(self, step_logits: list[torch.Tensor]) -> None:
        super().__init__()
        self.step_logits = step_logits
        self.anchor = nn.Parameter(torch.zeros(()))  # so the module has a parameter
        self.config = SimpleNamespace(_attn_implementation="sdpa")

    def forward(
        self,
        input_ids,
        attention_mask=None,
        position_ids=None,
        use_cache=False,
        logits_to_keep=0,
        past_key_values=None,
    ):
        cache = past_key_values if past_key_values is not None else StepCache()
        if past_key_values is not None:
            cache.steps += 1
        table = self.step_logits[min(cache.steps, len(self.step_logits) - 1)]
        rows, width = input_ids.shape
        keep = width if not logits_to_keep else min(logits_to_keep, width)
        logits = table.expand(rows, keep, table.shape[-1]) + 0 * self.anchor
        return SimpleNamespace(logits=logits, past_key_values=cache if use_cache else None)


def fixed_regressor(
    tokenizer, step_probs: list[dict[str, float]], grid=(1.0, 2.0, 3.0, 4.0, 5.0), decimals: int = 0
) -> CausalLMRegressor:
    """A regressor whose LM puts the given probabilities on characters at each step.

    Characters not named share no mass (their logit is -inf-like).
    """
    vocab = len(tokenizer)
    tables = []
    for probs in step_probs:
        logits = torch.full((vocab,), -1e9)
        for token, p in probs.items():
            logits[tokenizer.convert_tokens_to_ids(token)] = torch.log(torch.tensor(p))
        tables.append(logits)
    spec = CausalLMSpec(
        base_model="fixed", template="Q: {text}\nA: ", decimals=decimals, grid=grid, fallback=3.0
    )
    return CausalLMRegressor(FixedLogitsLM(tables), tokenizer, spec)
