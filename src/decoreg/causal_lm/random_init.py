"""The initialization ablation (RAFT paper, Figure 3): the same architecture, random weights."""

from __future__ import annotations

import torch
from torch import nn


def randomly_initialized(lm: nn.Module, seed: int) -> nn.Module:
    """A fresh model built from `lm`'s config with the architecture's own random initializer.

    Every parameter is drawn anew (norm weights start at their constant init), so nothing of
    the pretrained weights survives; the tokenizer is kept by the caller.
    """
    from transformers import AutoModelForCausalLM

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        fresh = AutoModelForCausalLM.from_config(lm.config, dtype=torch.float32)
    finally:
        torch.random.set_rng_state(state)
    return fresh
