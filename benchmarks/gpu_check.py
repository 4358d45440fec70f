"""The GPU check (issue 13): decoreg's correctness tier and speed on one GPU, in one command.

Fits in about 8 minutes on one H200 with nothing downloaded: models are randomly initialized in
real shapes (SmolLM2-135M, Llama-3.2-1B; `gpu_check_models.py`), tiny ones for the `gpu`
pytest tier. The parts, each with its own time budget and error capture (a failing part
records its error and the others still run):

  gpu_tier        `pytest tests/gpu -m gpu` with DECOREG_TEST_DEVICE=<device>: pass/fail counts
  matmul          the device's bf16 matmul rate (8192^3), the peak for MFU
  training_<m>    RAFT through `decoreg.training.fit` (bf16-mixed): tokens/s and MFU =
                  6 x parameters x tokens/s / matmul rate, on the ~1B and the 135M shape
  rail_and_trie   RAIL sampling (32 samples) and 51-value trie scoring / one forward pass
  grpo_step       one GRPO step (8 prompts x G=8) vs the committed CPU step time
  tabular_epoch   one epoch of the tabular model on a synthetic table

On CUDA the peak GPU memory of each part is recorded (reset in between). Results go to
<output-dir>/<part>.json, gpu_check.json (everything) and summary.md; the output folder is
benchmarks/results/gpu by default (gpu-cpu on other devices, gpu-smoke for --smoke).

The budgets add up to 445 s. From a checkout (no install needed: pip would ask for gguf and
optuna, which the GPU machine lacks):

Usage:
    PYTHONPATH=src python benchmarks/gpu_check.py [--device cuda] [--precision bf16-mixed] \
        [--tier-filter EXPR] [--output-dir benchmarks/results/gpu]
    PYTHONPATH=src python benchmarks/gpu_check.py --device cpu --smoke  # tiny, seconds: CI's
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import platform
import shlex
import signal
import sys
import time
import traceback
from pathlib import Path

import torch
from gpu_check_parts import (
    FULL,
    SMOKE,
    Check,
    gpu_tier,
    grpo_step,
    matmul,
    rail_and_trie,
    tabular_epoch,
    training,
)

from decoreg.devices import Precision, resolve_device
from decoreg.errors import ConfigError

TARGETS = {  # (part, measurement, comparison, bound): the GPU targets
    "mfu_1b": ("training_llama-1b", "mfu", ">=", 0.40),
    # RAFT keeps one logit column, so the output layer's FLOPs are nearly never spent: this is
    # the utilization of the FLOPs that do run (attention scores are left out of both).
    "mfu_1b_non_embedding": ("training_llama-1b", "mfu_non_embedding", ">=", 0.40),
    "rail_over_forward": ("rail_and_trie", "rail_over_forward", "<=", 2.0),
    "grpo_speedup_over_cpu": ("grpo_step", "speedup_over_cpu", ">=", 5.0),
}
SUMMARY_KEYS = {  # the measurements summary.md shows per part
    "gpu_tier": ("counts",),
    "matmul": ("bf16_flops_per_second",),
    "rail_and_trie": ("rail_over_forward", "trie_over_forward"),
    "grpo_step": ("step_seconds", "cpu_step_seconds", "speedup_over_cpu"),
    "tabular_epoch": ("epoch_seconds", "rows_per_second"),
}
TRAINING_KEYS = ("tokens_per_second", "mfu", "mfu_non_embedding", "step_seconds")


class PartTimeout(Exception):
    """A part ran past its budget."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise PartTimeout in the main thread once `seconds` have passed (checked between
    Python bytecodes, so a long kernel finishes first)."""

    def on_alarm(signum, frame):
        raise PartTimeout(f"ran past its budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plan(check: Check, smoke: bool) -> dict:
    """Part name -> (function, budget in seconds); the smoke budgets allow a slow CPU."""
    parts = {"gpu_tier": (gpu_tier, 120), "matmul": (matmul, 20)}
    for shape, batch, tokens in check.sizes.training:
        budget = 120 if shape == "llama-1b" else 50
        parts[f"training_{shape}"] = (training(shape, batch, tokens), budget)
    parts |= {"rail_and_trie": (rail_and_trie, 45), "grpo_step": (grpo_step, 45),
              "tabular_epoch": (tabular_epoch, 45)}  # fmt: skip
    if smoke:
        return {name: (function, 180) for name, (function, _) in parts.items()}
    return parts


def run_part(check: Check, name: str, function, budget: float) -> dict:
    """The part's result, status "ok" or "error" (with the error), wall time and peak memory."""
    on_cuda = check.device.type == "cuda"
    if on_cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(check.device)
    start = time.perf_counter()
    try:
        with time_limit(budget):
            result = {"status": "ok", **function(check, budget)}
    except Exception as error:  # recorded: one failing part must not lose the others
        result = {"status": "error", "error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()[-4000:]}  # fmt: skip
    result["wall_seconds"] = time.perf_counter() - start
    result["budget_seconds"] = budget
    result.setdefault(  # a part that computes in another process reports None itself
        "peak_gpu_memory_bytes", torch.cuda.max_memory_allocated(check.device) if on_cuda else None
    )
    gc.collect()  # the part's models go before the next one measures memory
    return result


def verdicts(found: dict) -> dict:
    """Each target's measured value and whether it was met (None where not measured)."""
    out = {}
    for key, (part, measurement, comparison, bound) in TARGETS.items():
        value = found.get(part, {}).get(measurement)
        met = None if value is None else (value >= bound if comparison == ">=" else value <= bound)
        out[key] = {"part": part, "value": value, "target": f"{comparison} {bound}", "met": met}
    return out


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def summary_markdown(report: dict) -> str:
    lines = [
        "# GPU check", "", f"Command: `{report['command']}`", "",
        f"Device: {report['machine']['device']}; torch {report['machine']['torch']}; "
        f"precision {report['precision']}; smoke: {report['smoke']}", "",
        "| part | status | wall s | peak GPU memory (GiB) | measurements |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for name, result in report["parts"].items():
        keys = TRAINING_KEYS if name.startswith("training_") else SUMMARY_KEYS.get(name, ())
        shown = "; ".join(f"{k} {_shown(result.get(k))}" for k in keys)
        if result["status"] != "ok":
            shown = result["error"].replace("|", "/").replace("\n", " ")[:300]
        memory = result["peak_gpu_memory_bytes"]
        gib = "-" if memory is None else f"{memory / 2**30:.2f}"
        wall = f"{result['wall_seconds']:.1f}"
        lines.append(f"| {name} | {result['status']} | {wall} | {gib} | {shown} |")
    lines += ["", "| target | value | bound | met |", "|---|---|---|---|"]
    for key, verdict in report["targets"].items():
        lines.append(f"| {key} | {_shown(verdict['value'])} | {verdict['target']} | "
                     f"{verdict['met']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def machine(device: torch.device) -> dict:
    facts = {"device": str(device), "torch": torch.__version__, "python": sys.version.split()[0],
             "platform": platform.platform(), "torch_threads": torch.get_num_threads()}  # fmt: skip
    if device.type == "cuda":
        facts["device"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
    return facts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="auto|cpu|cuda|cuda:N (default cuda)")
    parser.add_argument("--precision", default="bf16-mixed", help="fp32|bf16-mixed|bf16|...")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: seconds")
    parser.add_argument(
        "--output-dir", type=Path, default=None,
        help="default benchmarks/results/gpu (gpu-cpu off CUDA, gpu-smoke with --smoke)",
    )  # fmt: skip
    parser.add_argument("--tier-filter", default=None, help="pytest -k expression for the tier")
    args = parser.parse_args(argv)
    try:  # a device or precision this machine cannot run: one message, before any part
        device = resolve_device(args.device)
        Precision(args.precision).check(device)
    except ConfigError as error:
        parser.error(str(error))
    sizes = SMOKE if args.smoke else FULL
    check = Check(args.device, device, args.precision, sizes, args.tier_filter)
    default_dir = "gpu-smoke" if args.smoke else "gpu" if device.type == "cuda" else "gpu-cpu"
    output = args.output_dir or Path(__file__).parent / "results" / default_dir
    output.mkdir(parents=True, exist_ok=True)
    for name, (function, budget) in plan(check, args.smoke).items():
        print(f"[gpu_check] {name} (budget {budget} s)", flush=True)
        check.found[name] = run_part(check, name, function, budget)
        (output / f"{name}.json").write_text(json.dumps(check.found[name], indent=2))
        print(f"[gpu_check] {name}: {check.found[name]['status']} in "
              f"{check.found[name]['wall_seconds']:.1f} s", flush=True)  # fmt: skip
    report = {
        "command": "python " + shlex.join([sys.argv[0], *(argv or sys.argv[1:])]),
        "machine": machine(device), "precision": args.precision, "smoke": args.smoke,
        "parts": check.found, "targets": verdicts(check.found),
    }  # fmt: skip
    (output / "gpu_check.json").write_text(json.dumps(report, indent=2))
    (output / "summary.md").write_text(summary_markdown(report))
    print(summary_markdown(report))
    return report


if __name__ == "__main__":
    main()
