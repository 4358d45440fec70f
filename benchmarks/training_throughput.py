"""Training throughput of the real loop on the embedded model vs this CPU's bf16 matmul rate.

Measures, in one run:
  1. the CPU's bf16 matmul rate (2*n^3 FLOP per n x n matmul, best of several repeats);
  2. useful (non-padding) tokens per second through `decoreg.training.fit` with bf16 autocast,
     dynamic padding and length grouping, on clothing-review prompts and the RAFT objective;
  3. the ratio of the achieved FLOP rate, 6 x parameters x useful tokens / s, to (1);
  4. the peak resident memory of the process (`ru_maxrss`) against the 16 bytes a parameter
     that fp32 weights, gradients and AdamW moments need (benchmarks/train_memory.py breaks
     it down).
The padding share with and without length grouping is reported too.

Usage:
    python benchmarks/training_throughput.py [--steps 30] [--batch-size 8] \
        [--output benchmarks/results/training_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from decoreg.causal_lm.build import LMOptions, build_causal_lm
from decoreg.causal_lm.objectives import OBJECTIVES
from decoreg.config import TrainConfig
from decoreg.core import Objective
from decoreg.datasets import load_dataset
from decoreg.memory import training_floor_bytes
from decoreg.training import Dataset, fit

TARGET_RATIO = 0.5


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    """Best observed bf16 FLOP/s of an n x n x n matmul on the current thread count."""
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


class TokenCounter(Objective):
    """Wraps an objective and counts real and padded prompt tokens of every batch it sees."""

    def __init__(self, objective) -> None:
        self.objective = objective
        self.useful = 0
        self.padded = 0

    def __call__(self, model, batch):
        lengths = [len(ids) for ids in batch.inputs]
        self.useful += sum(lengths)
        self.padded += max(lengths) * len(lengths)
        return self.objective(model, batch)


def padding_share(lengths: np.ndarray, batch_size: int, grouped: bool, seed: int) -> float:
    """Share of padded positions over one epoch of batches, with or without grouping."""
    from decoreg.data_order import BatchOrder

    order = BatchOrder(lengths, batch_size, seed=seed, length_grouping=grouped)
    useful = padded = 0
    for index in range(order.batches_per_epoch):
        rows = lengths[order.global_batch(index)]
        useful += rows.sum()
        padded += rows.max() * len(rows)
    return 1.0 - useful / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--max-prompt-tokens", type=int, default=256)
    parser.add_argument(
        "--output", type=Path, default=Path("benchmarks/results/training_throughput.json")
    )
    args = parser.parse_args()

    data = load_dataset("clothing-reviews", seed=0)
    train = data.split("train").iloc[: args.rows]
    y = train[data.info.target_column].to_numpy(float)
    model = build_causal_lm(
        LMOptions(template=data.info.template, max_prompt_tokens=args.max_prompt_tokens), y
    )
    inputs = model.prepare_inputs(train[data.info.text_column].tolist())
    lengths = model.input_lengths(inputs)
    parameters = sum(p.numel() for p in model.parameters())
    embedding = model.lm.get_input_embeddings().weight.numel()

    rate_before = matmul_rate()
    counter = TokenCounter(OBJECTIVES["raft"]())
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        bf16=True,
        eval_every=0,
        show_progress=False,
        learning_rate=1e-5,
    )
    warmup = TrainConfig(
        max_steps=2,
        batch_size=args.batch_size,
        bf16=True,
        eval_every=0,
        show_progress=False,
        learning_rate=1e-5,
        seed=1,
    )
    fit(model, OBJECTIVES["raft"](), Dataset(inputs, y), warmup)  # warm caches and kernels
    result = fit(model, counter, Dataset(inputs, y), config)
    rate_after = matmul_rate()

    tokens_per_second = counter.useful / result.seconds
    matmul = max(rate_before, rate_after)
    achieved = 6 * parameters * tokens_per_second
    achieved_non_embedding = 6 * (parameters - embedding) * tokens_per_second
    report = {
        "command": "python " + " ".join(sys.argv),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "model": "smollm2-135m",
        "objective": "raft",
        "bf16_autocast": True,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "parameters": parameters,
        "embedding_parameters": embedding,
        "train_seconds": result.seconds,
        "useful_tokens": counter.useful,
        "padded_tokens": counter.padded,
        "useful_tokens_per_second": tokens_per_second,
        "padding_share_in_run": 1 - counter.useful / counter.padded,
        "padding_share_grouped": padding_share(lengths, args.batch_size, True, 0),
        "padding_share_random": padding_share(lengths, args.batch_size, False, 0),
        "bf16_matmul_flops_per_second": matmul,
        "bf16_matmul_flops_before_after": [rate_before, rate_after],
        "achieved_flops_per_second": achieved,
        "ratio_to_matmul": achieved / matmul,
        "ratio_to_matmul_non_embedding_params": achieved_non_embedding / matmul,
        "target_ratio": TARGET_RATIO,
        "target_met": achieved / matmul >= TARGET_RATIO,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,  # Linux: KiB
        "training_floor_gb": training_floor_bytes(model) / 1e9,
    }
    report["peak_rss_over_floor"] = report["peak_rss_gb"] / report["training_floor_gb"]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
