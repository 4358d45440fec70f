"""Shared pieces of the RAIL benchmarks: the embedded model, review prompts, timing, facts."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.pretrained import DEFAULT_MODEL, load_pretrained
from decoreg.datasets import load_dataset


def review_model(grid: tuple[float, ...], decimals: int, max_prompt_tokens: int = 256):
    """SmolLM2 (fp32) with the clothing-review template, and the dataset."""
    data = load_dataset("clothing-reviews", seed=0)
    lm, tokenizer = load_pretrained(DEFAULT_MODEL)
    spec = CausalLMSpec(
        base_model=DEFAULT_MODEL,
        template=data.info.template,
        decimals=decimals,
        grid=grid,
        max_prompt_tokens=max_prompt_tokens,
        fallback=4.0,
    )
    return CausalLMRegressor(lm, tokenizer, spec).eval(), data


def prompts_of_length(model, data, count: int, low: int, high: int) -> list[list[int]]:
    """`count` test-split review prompts whose token length lies in [low, high]."""
    texts = data.split("test")[data.info.text_column].tolist()
    texts += data.split("train")[data.info.text_column].tolist()
    chosen = []
    for prompt in model.prepare_inputs(texts):
        if low <= len(prompt) <= high:
            chosen.append(prompt)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"only {len(chosen)} prompts of {low}-{high} tokens")


def one_forward(model, prompts) -> None:
    """The reference cost: one forward pass over the prompts (logits of the last column)."""
    ids, mask, positions = model.pad_left(prompts)
    model.lm(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)


def interleaved_times(functions: dict[str, Callable[[], object]], repeats: int) -> dict:
    """Run each function `repeats` times, interleaved so that load changes hit all alike.

    Returns each function's list of seconds; one warm-up call each is not counted.
    """
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    with torch.no_grad():
        for function in functions.values():
            function()
        for _ in range(repeats):
            for name, function in functions.items():
                start = time.perf_counter()
                function()
                seconds[name].append(time.perf_counter() - start)
    return seconds


def paired_ratio(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Per-round ratios (same round, similar load) summarized by median, min and max."""
    ratios = [a / b for a, b in zip(numerator, denominator, strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def machine_facts() -> dict:
    return {
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "note": "2-core machine shared with other jobs; ratios are taken within one round",
    }


def command_line() -> str:
    return "python " + " ".join(sys.argv)


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))
