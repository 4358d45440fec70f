"""The parts of `gpu_check.py`: each takes the run's `Check` and returns its measurements.

Every timing synchronizes the device before reading the clock (CUDA runs asynchronously).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from gpu_check_models import parameter_counts, random_regressor, synthetic_rows

from decoreg.causal_lm.decoding.sampling import sample_sequences
from decoreg.causal_lm.grid_scoring import score_trie
from decoreg.causal_lm.grid_values import grid_range
from decoreg.causal_lm.objectives import OBJECTIVES
from decoreg.config import TrainConfig
from decoreg.devices import Precision
from decoreg.estimator import DecodingRegressor
from decoreg.training import Dataset, fit

ROOT = Path(__file__).resolve().parents[1]
CPU_GRPO_RESULT = ROOT / "benchmarks" / "results" / "rl_step_vs_trl.json"
CPU_RUN_GRPO = ROOT / "benchmarks" / "results" / "gpu-cpu" / "grpo_step.json"
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


@dataclass(frozen=True)
class Sizes:
    """How big each part is (the full run on one GPU, or the seconds-long smoke run)."""

    matmul_n: int
    training: tuple[tuple[str, int, int], ...]  # (shape, batch size, prompt tokens) per model
    train_steps: int
    warmup_steps: int
    inference_shape: str
    rail_prompts: int
    rail_samples: int
    prompt_tokens: int
    repeats: int
    grpo_shape: str
    grpo_prompts: int
    grpo_group: int
    grpo_steps: int
    table_rows: int
    table_batch: int
    tabular_options: dict | None = None


FULL = Sizes(
    matmul_n=8192, training=(("llama-1b", 16, 1024), ("smollm2-135m", 32, 512)), train_steps=10,
    warmup_steps=3, inference_shape="smollm2-135m", rail_prompts=32, rail_samples=32,
    prompt_tokens=100, repeats=5, grpo_shape="smollm2-135m", grpo_prompts=8, grpo_group=8,
    grpo_steps=3, table_rows=50_000, table_batch=256,
)  # fmt: skip
SMOKE = Sizes(
    matmul_n=256, training=(("tiny", 4, 48),), train_steps=2, warmup_steps=1,
    inference_shape="tiny", rail_prompts=4, rail_samples=32, prompt_tokens=40, repeats=1,
    grpo_shape="tiny", grpo_prompts=8, grpo_group=8, grpo_steps=1, table_rows=256,
    table_batch=64, tabular_options={"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32,
                                     "memory_tokens": 2},
)  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One run: where it computes, in which precision, how big, and what earlier parts found."""

    device_name: str
    device: torch.device
    precision: str
    sizes: Sizes
    tier_filter: str | None = None
    found: dict = field(default_factory=dict)  # part name -> its result (filled as they run)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, function: Callable[[], object]) -> float:
    """Seconds `function()` takes, the device's queued work included."""
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def model_flop_utilization(parameters: int, tokens_per_second: float, peak: float) -> float:
    """6 x parameters x tokens/s (forward + backward FLOP of a dense decoder) over `peak`."""
    return 6 * parameters * tokens_per_second / peak


def pytest_counts(output: str) -> dict[str, int]:
    """{"passed": n, "failed": n, ...} from the last line of pytest's summary."""
    lines = [line for line in output.strip().splitlines() if _COUNT.search(line)]
    counts: dict[str, int] = {}
    for number, word in _COUNT.findall(lines[-1] if lines else ""):
        counts["errors" if word.startswith("error") else word] = int(number)
    return counts


# ----------------------------------------------------------------------------- the parts
def gpu_tier(check: Check, budget: float) -> dict:
    """`pytest tests/gpu -m gpu` with DECOREG_TEST_DEVICE set to the checked device."""
    import os

    command = [sys.executable, "-m", "pytest", "tests/gpu", "-m", "gpu", "-q", "-p",
               "no:cacheprovider"]  # fmt: skip
    if check.tier_filter:
        command += ["-k", check.tier_filter]
    env = {**os.environ, "DECOREG_TEST_DEVICE": check.device_name}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=budget, check=False
    )
    counts = pytest_counts(done.stdout)
    return {
        "command": "DECOREG_TEST_DEVICE=" + check.device_name + " " + " ".join(command[1:]),
        "returncode": done.returncode,
        "counts": counts,
        "passed": done.returncode == 0 and counts.get("passed", 0) > 0,
        "output_tail": (done.stdout + done.stderr)[-3000:],
        "peak_gpu_memory_bytes": None,  # the tier runs in its own process: not measured here
    }


def matmul(check: Check, budget: float) -> dict:
    """Best bf16 FLOP/s of an n x n x n matmul on the device (2 n^3 FLOP each)."""
    n = check.sizes.matmul_n
    a = torch.randn(n, n, dtype=torch.bfloat16, device=check.device)
    b = torch.randn(n, n, dtype=torch.bfloat16, device=check.device)
    for _ in range(3):
        a @ b
    best = min(timed(check.device, lambda: a @ b) for _ in range(10))
    return {"n": n, "bf16_flops_per_second": 2 * n**3 / best, "best_seconds": best}


def training(shape: str, batch_size: int, prompt_tokens: int):
    """The part that trains `shape` with RAFT through `decoreg.training.fit` and reports
    tokens/s and model FLOP utilization against the measured matmul rate."""

    def part(check: Check, budget: float) -> dict:
        sizes = check.sizes
        model = random_regressor(
            shape, check.device, grid=(1.0, 2.0, 3.0, 4.0, 5.0), decimals=0,
            max_prompt_tokens=prompt_tokens + 8,
        )  # fmt: skip
        rows = batch_size * (sizes.train_steps + sizes.warmup_steps)
        texts, y = synthetic_rows(rows, prompt_tokens, seed=0)
        data = Dataset(model.prepare_inputs(texts), np.round(y))
        lengths = {len(ids) for ids in data.inputs}
        assert lengths == {prompt_tokens}, f"prompt lengths {sorted(lengths)}"  # no padding
        config = TrainConfig(
            max_steps=sizes.train_steps, batch_size=batch_size, precision=check.precision,
            eval_every=0, show_progress=False, learning_rate=1e-5, warmup_steps=0,
        )  # fmt: skip
        warmup = replace(config, max_steps=sizes.warmup_steps, seed=1)
        fit(model, OBJECTIVES["raft"](), data, warmup)  # kernels chosen, allocator warm
        seconds = timed(check.device, lambda: fit(model, OBJECTIVES["raft"](), data, config))
        tokens_per_second = sizes.train_steps * batch_size * prompt_tokens / seconds
        parameters, embedding = parameter_counts(model)
        peak = check.found.get("matmul", {}).get("bf16_flops_per_second")
        return {
            "model": f"random {shape} (fp32 weights)", "objective": "raft",
            "precision": check.precision, "batch_size": batch_size,
            "prompt_tokens": prompt_tokens, "steps": sizes.train_steps,
            "parameters": parameters, "embedding_parameters": embedding,
            "train_seconds": seconds, "step_seconds": seconds / sizes.train_steps,
            "tokens_per_second": tokens_per_second,
            "mfu": None if peak is None else
            model_flop_utilization(parameters, tokens_per_second, peak),
            "mfu_non_embedding": None if peak is None else
            model_flop_utilization(parameters - embedding, tokens_per_second, peak),
        }  # fmt: skip

    return part


def _paired_median(numerator: list[float], denominator: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def rail_and_trie(check: Check, budget: float) -> dict:
    """RAIL sampling (`rail_samples` samples of 3 tokens) and 51-value trie scoring, each
    timed next to one forward pass over the same prompts, rounds interleaved."""
    sizes = check.sizes
    grid = grid_range(0.0, 5.0, 0.1)
    model = random_regressor(
        sizes.inference_shape, check.device, grid=grid, decimals=1,
        max_prompt_tokens=sizes.prompt_tokens + 8,
    ).eval()  # fmt: skip
    prompts = model.prepare_inputs(synthetic_rows(sizes.rail_prompts, sizes.prompt_tokens, 1)[0])
    trie, generator = model.grid_trie, torch.Generator().manual_seed(0)

    def one_forward():
        ids, mask, positions = model.pad_left(prompts)
        model.lm(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)

    def rail_sampling():
        sample_sequences(model, prompts, num_samples=sizes.rail_samples, max_new_tokens=3,
                         temperature=1.0, generator=generator)  # fmt: skip

    functions = {
        "one_forward": one_forward,
        "rail_sampling": rail_sampling,
        "trie_scoring": lambda: score_trie(model, prompts, trie),
    }
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    with torch.no_grad(), Precision(check.precision).autocast(check.device):
        for function in functions.values():
            timed(check.device, function)  # warm-up, not counted
        for _ in range(sizes.repeats):
            for name, function in functions.items():
                seconds[name].append(timed(check.device, function))
    return {
        "model": f"random {sizes.inference_shape}", "precision": check.precision,
        "prompts": len(prompts), "prompt_tokens": sizes.prompt_tokens,
        "samples_per_prompt": sizes.rail_samples, "tokens_per_sample": 3,
        "grid_values": len(grid), "seconds": seconds,
        "rail_over_forward": _paired_median(seconds["rail_sampling"], seconds["one_forward"]),
        "trie_over_forward": _paired_median(seconds["trie_scoring"], seconds["one_forward"]),
    }  # fmt: skip


def cpu_grpo_step_seconds() -> tuple[float | None, str | None]:
    """The committed CPU figure of the same GRPO step: benchmarks/rl_step_vs_trl.py's (real
    SmolLM2 weights, same sizes), else this script's own `--device cpu` run."""
    if CPU_GRPO_RESULT.exists():
        result = json.loads(CPU_GRPO_RESULT.read_text())
        return result["decoreg"]["median_step_seconds"], result["command"]
    if CPU_RUN_GRPO.exists():
        return json.loads(CPU_RUN_GRPO.read_text())["step_seconds"], str(CPU_RUN_GRPO)
    return None, None


def grpo_step(check: Check, budget: float) -> dict:
    """GRPO steps (prompts x G samples, answers "d.d" + EOS) through `fit`, after one warm-up
    step; compared with the committed CPU step time where the device is not the CPU."""
    sizes = check.sizes
    model = random_regressor(
        sizes.grpo_shape, check.device, grid=(1.0, 5.0), decimals=1,
        max_prompt_tokens=sizes.prompt_tokens + 8,
    )  # fmt: skip
    texts, y = synthetic_rows(sizes.grpo_prompts, sizes.prompt_tokens, seed=2)
    data = Dataset(model.prepare_inputs(texts), y)
    config = TrainConfig(
        max_steps=sizes.grpo_steps, batch_size=sizes.grpo_prompts, precision=check.precision,
        eval_every=0, show_progress=False, learning_rate=1e-6, warmup_steps=0,
    )  # fmt: skip

    def objective():
        return OBJECTIVES["grpo"](num_samples=sizes.grpo_group)

    fit(model, objective(), data, replace(config, max_steps=1, seed=1))
    step = timed(check.device, lambda: fit(model, objective(), data, config)) / sizes.grpo_steps
    cpu_seconds, cpu_command = cpu_grpo_step_seconds()
    if check.device.type == "cpu":
        cpu_seconds, cpu_command = step, "this run"
    return {
        "model": f"random {sizes.grpo_shape}", "precision": check.precision,
        "prompts": sizes.grpo_prompts, "group_size": sizes.grpo_group,
        "prompt_tokens": sizes.prompt_tokens, "steps_timed": sizes.grpo_steps,
        "step_seconds": step, "cpu_step_seconds": cpu_seconds, "cpu_source": cpu_command,
        "speedup_over_cpu": None if cpu_seconds is None else cpu_seconds / step,
    }  # fmt: skip


def synthetic_table(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Six numeric and two categorical columns; the target is linear in them plus noise."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 6))
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(6)])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    frame["size"] = rng.choice(["s", "m", "l", "xl"], size=rows)
    y = numeric @ np.linspace(1.0, 2.0, 6) + 3.0 * (frame["colour"] == "red") + 10.0
    return frame, (y + rng.normal(scale=0.5, size=rows)).to_numpy()


def tabular_epoch(check: Check, budget: float) -> dict:
    """One epoch (rows / batch steps, no validation) of the tabular model, estimator and all."""
    sizes = check.sizes
    frame, y = synthetic_table(sizes.table_rows, seed=3)
    steps = math.ceil(sizes.table_rows / sizes.table_batch)
    estimator = DecodingRegressor(
        family="tabular", device=check.device_name, precision=check.precision,
        batch_size=sizes.table_batch, max_steps=steps, eval_every=0, validation_fraction=0.0,
        tabular_options=sizes.tabular_options, verbose=False,
    )  # fmt: skip
    seconds = timed(check.device, lambda: estimator.fit(frame, y))
    return {
        "rows": sizes.table_rows, "batch_size": sizes.table_batch, "steps": steps,
        "precision": check.precision, "tabular_options": sizes.tabular_options or "defaults",
        "epoch_seconds": seconds, "rows_per_second": sizes.table_rows / seconds,
    }  # fmt: skip
