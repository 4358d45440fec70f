"""Peak resident memory of real RAFT training runs on the embedded SmolLM2-135M, before and
after the memory work, with a breakdown of where the bytes go.

Each configuration runs `decoreg train` (or `decoreg quickstart`) in its own subprocess with
PYTHONPATH set to a source tree: `--before-src` (e.g. the main checkout, or `git stash`-ed
tree) and `--after-src` (this tree). The peak is the child's `ru_maxrss` (os.wait4); a
sampling thread in the child also records the peak resident size within each phase (model
load, tokenize, forward, backward, optimizer step, validation, save), named by the innermost
matching frame of the main thread. `--breakdown` adds one in-process measurement: RSS after
imports and after the model load, the floor (16 bytes a parameter), and the bytes autograd
saves for one median batch (bf16 weight copies under autocast, activations).

Usage (under the CPU lock, which timing-free memory figures do not strictly need):
    flock /tmp/decoreg-cpu.lock python benchmarks/train_memory.py --before-src /work/main/src \
        --after-src src --breakdown --output benchmarks/results/train_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GB = 1e9
# (file name part, function or None, phase): the innermost frame that matches names the phase
PHASES = (
    ("torch/optim/", None, "optimizer step"),
    ("torch/autograd/", "backward", "backward"),
    ("decoreg/training.py", "_evaluate", "validation"),
    ("decoreg/training.py", "_optimizer_step", "forward"),
    ("decoreg/checkpoint.py", None, "checkpoint"),
    ("decoreg/causal_lm/pretrained.py", None, "load model"),
    ("decoreg/causal_lm/model.py", "prepare_inputs", "tokenize"),
    ("decoreg/causal_lm/model.py", "save", "save"),
    ("decoreg/inference.py", None, "predict"),
)


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def phase_of(frame) -> str:
    while frame is not None:
        for part, function, phase in PHASES:
            if part in frame.f_code.co_filename and function in (None, frame.f_code.co_name):
                return phase
        frame = frame.f_back
    return "other"


def child(argv: list[str]) -> None:
    """Run the CLI with a sampler thread; print one JSON line of the phase peaks."""
    main_thread, peaks = threading.get_ident(), {}

    def sample() -> None:
        while True:
            phase = phase_of(sys._current_frames().get(main_thread))
            peaks[phase] = max(peaks.get(phase, 0), resident_bytes())
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    from decoreg.cli import main

    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    phases = {k: round(v / GB, 3) for k, v in sorted(peaks.items(), key=lambda kv: kv[1])}
    print("RESULT " + json.dumps({"rc": code, "seconds": round(seconds, 1), "phases": phases}))


def run(name: str, src: str, argv: list[str], env: dict[str, str]) -> dict:
    """One configuration in a fresh process: its peak RSS and phase peaks."""
    command = [sys.executable, __file__, "--child", *argv]
    full_env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), **env}
    process = subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if status != 0 or not lines:
        raise RuntimeError(f"{name}: the run failed (status {status}):\n{output[-2000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    peak = usage.ru_maxrss * 1024 / GB  # Linux reports kilobytes
    print(f"{name}: peak {peak:.2f} GB in {result['seconds']:.0f} s", flush=True)
    return {"name": name, "src": src, "env": env, "peak_rss_gb": round(peak, 3), **result}


def breakdown(rows_file: Path, template: str) -> dict:
    """In this process: RSS after imports and model load, the floor, and the bytes autograd
    saves for one median-length batch of 8 under bf16 autocast."""
    import numpy as np
    import pandas as pd
    import torch

    figures = {"rss_at_start_gb": resident_bytes() / GB}
    from decoreg.causal_lm.build import LMOptions, build_causal_lm
    from decoreg.causal_lm.objectives import OBJECTIVES
    from decoreg.memory import training_floor_bytes

    figures["rss_after_imports_gb"] = resident_bytes() / GB
    frame = pd.read_csv(rows_file)
    y = frame["Rating"].to_numpy(float)
    model = build_causal_lm(LMOptions(template=template), y)
    figures["rss_after_model_and_tokenizer_gb"] = resident_bytes() / GB
    params = sum(p.numel() for p in model.parameters())
    figures["parameters"] = params
    figures["floor_16_bytes_a_parameter_gb"] = training_floor_bytes(model) / GB
    inputs = model.prepare_inputs(frame["text"].tolist())
    lengths = np.array([len(i) for i in inputs])
    middle = np.argsort(lengths)[len(lengths) // 2 - 4 : len(lengths) // 2 + 4]
    batch = model.make_batch([inputs[i] for i in middle], y[middle])
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, tuple[int, bool]] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        is_weight_copy = tensor.dim() == 2 and tensor.dtype == torch.bfloat16
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = (storage.nbytes(), is_weight_copy)
        return tensor

    model.train()
    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with hooks, torch.autocast("cpu", dtype=torch.bfloat16):
        OBJECTIVES["raft"]()(model, batch)
    total = sum(n for n, _ in saved.values())
    copies = sum(n for n, is_copy in saved.values() if is_copy)
    figures.update(
        batch_tokens=int(lengths[middle].sum()),
        batch_padded_tokens=int(lengths[middle].max() * len(middle)),
        saved_for_backward_gb=total / GB,
        saved_2d_bf16_gb_weight_copies_and_flattened_inputs=copies / GB,
        bf16_weight_copies_gb=params * 2 / GB,
        fp32_logits_over_the_vocabulary_all_positions_gb=(
            int(lengths[middle].max()) * len(middle) * model.lm.config.vocab_size * 4 / GB
        ),
    )
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-src", required=True, help="source tree of the baseline")
    parser.add_argument("--after-src", default="src", help="source tree measured after")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--eval-every", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--quickstart", action="store_true", help="also run `quickstart` small")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/train_memory.json"))
    args = parser.parse_args()

    from decoreg.datasets import load_dataset

    data = load_dataset("clothing-reviews", seed=0)
    work = Path(tempfile.mkdtemp(prefix="train-memory-"))
    rows_file = work / "train.csv"
    columns = [data.info.text_column, data.info.target_column]
    data.split("train").iloc[: args.rows][columns].to_csv(rows_file, index=False)
    train = ["train", str(rows_file), "--target-column", "Rating", "--objective", "raft"]
    train += ["--template", data.info.template, "--max-steps", str(args.steps)]
    train += ["--batch-size", str(args.batch_size), "--eval-every", str(args.eval_every)]
    quick = ["quickstart", "--train-rows", "200", "--validation-rows", "16", "--test-rows", "16"]
    quick += ["--max-steps", str(args.steps)]
    runs = []
    for label, src in (("before", args.before_src), ("after", args.after_src)):
        out = ["--output", str(work / f"model-{label}")]
        runs.append(run(f"train, {label}", src, train + out, {}))
        if args.quickstart:
            runs.append(run(f"quickstart, {label}", src, quick, {}))
    report = {
        "command": "python " + " ".join(sys.argv),
        "rows": args.rows,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "eval_every": args.eval_every,
        "threads": os.environ.get("OMP_NUM_THREADS", "torch default"),
        "runs": runs,
    }
    if args.breakdown:
        report["breakdown"] = breakdown(rows_file, data.info.template)
    report["this_process_peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
