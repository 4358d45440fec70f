"""Which aten operations the default CPU path runs, on two source trees: the same or not.

The device and precision plumbing must leave the CPU path's computation as it was. Timing
that on a shared 2-core machine is noisy; counting the operations is exact. This records
every aten operation (a `TorchDispatchMode`, below autocast, so casts count too) while a tiny
random Llama (and a tiny tabular model) trains two steps and predicts with the default options
(bf16-mixed for causal LMs: RAFT + grid-mean, CE + sample-mean, GRPO; fp32 tabular CE +
sample-mean), once per tree in a fresh process, and reports each operation whose count differs.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/cpu_op_trace.py --baseline-src /path/to/main/src \
        [--candidate-src src] [--output benchmarks/results/cpu_op_trace.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEXTS = [f"row {i}" for i in range(12)]
TARGETS = [float(i % 5) for i in range(12)]
WORKLOADS = {
    "raft + grid-mean": {"objective": "raft", "decoder": "grid-mean"},
    "ce + sample-mean": {"objective": "ce", "decoder": "sample-mean", "num_samples": 4},
    "grpo + greedy": {"objective": "grpo", "decoder": "greedy",
                      "objective_options": {"num_samples": 2}},
}  # fmt: skip


def record(output: Path) -> None:
    """Run the workloads in this process (PYTHONPATH picks the tree) and write op counts."""
    import numpy as np
    import pandas as pd
    from torch.utils._python_dispatch import TorchDispatchMode

    sys.path.insert(0, str(ROOT))
    from decoreg.estimator import DecodingRegressor
    from tests.conftest import char_tokenizer, tiny_llama

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = collections.Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops[str(func.overloadpacket.__name__)] += 1
            return func(*args, **(kwargs or {}))

    folder = Path(tempfile.mkdtemp()) / "tiny"
    tokenizer = char_tokenizer()
    tiny_llama(len(tokenizer)).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    counts = {}
    for name, params in WORKLOADS.items():
        estimator = DecodingRegressor(
            model=str(folder), template="Q: {text}\nA: ", max_steps=2, batch_size=4,
            eval_every=1, learning_rate=1e-2, verbose=False, validation_fraction=0.25, **params,
        )  # fmt: skip
        with Count() as count:
            estimator.fit(TEXTS, TARGETS).predict(TEXTS[:4])
        counts[name] = dict(count.ops)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=32), "kind": ["x", "y"] * 16})
    tabular = DecodingRegressor(
        family="tabular", max_steps=2, batch_size=8, eval_every=1, verbose=False,
        num_samples=4, tabular_options={"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32},
    )  # fmt: skip
    with Count() as count:
        tabular.fit(frame, frame["a"].to_numpy() * 2 + 1).predict(frame[:4])
    counts["tabular ce + sample-mean"] = dict(count.ops)
    output.write_text(json.dumps(counts))


def compare(baseline: dict, candidate: dict) -> dict:
    report = {}
    for name in baseline:
        ops = sorted(set(baseline[name]) | set(candidate[name]))
        differing = {
            op: [baseline[name].get(op, 0), candidate[name].get(op, 0)]
            for op in ops
            if baseline[name].get(op, 0) != candidate[name].get(op, 0)
        }
        report[name] = {
            "ops_baseline": sum(baseline[name].values()),
            "ops_candidate": sum(candidate[name].values()),
            "differing_ops [baseline, candidate]": differing,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path)
    parser.add_argument("--candidate-src", type=Path, default=ROOT / "src")
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--output", type=Path, default=HERE / "results" / "cpu_op_trace.json")
    args = parser.parse_args()
    if args.record is not None:
        record(args.record)
        return
    counts = {}
    with tempfile.TemporaryDirectory() as folder:
        for tree, src in (("baseline", args.baseline_src), ("candidate", args.candidate_src)):
            path = Path(folder) / f"{tree}.json"
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
            subprocess.run([sys.executable, __file__, "--record", str(path)], env=env,
                           check=True, stderr=subprocess.DEVNULL)  # fmt: skip
            counts[tree] = json.loads(path.read_text())
    result = {
        "benchmark": "aten operations of the default CPU path, baseline vs candidate tree",
        "command": " ".join(["python", "benchmarks/cpu_op_trace.py", *sys.argv[1:]]),
        "workloads": compare(counts["baseline"], counts["candidate"]),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
