"""CPU A/B of the device and precision plumbing: the same benchmarks on two source trees.

The default CPU path must run the same operations as before `decoreg.devices` existed, so its
speed must not move. This runs `training_throughput.py`, `rail_sampling.py` and
`trie_scoring.py` (shortened) from this folder against a baseline tree and a candidate tree,
alternating A B A B... so that drift of a shared machine hits both alike, and writes each
figure's per-run values and the candidate / baseline ratio of their medians.

Usage:
    flock /tmp/decoreg-cpu.lock python benchmarks/devices_cpu_ab.py \
        --baseline-src /path/to/main/src [--candidate-src src] [--rounds 2] \
        [--output benchmarks/results/devices_cpu_ab.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, arguments, {figure name: (key path in its JSON, higher is better)})
RUNS = (
    ("training_throughput.py", ["--steps", "10", "--rows", "200"],
     {"training tokens/s": ("useful_tokens_per_second", True),
      "training FLOP/s / matmul rate": ("ratio_to_matmul", True)}),
    ("rail_sampling.py", ["--prompts", "16", "--generate-repeats", "1", "--generate-prompts", "1"],
     {"RAIL sampling / one forward": ("ratio_decoreg_over_forward.median", False)}),
    ("trie_scoring.py", ["--prompts", "16"],
     {"51-value trie / one forward": ("ratio_trie_over_forward.median", False)}),
)  # fmt: skip


def figure(result: dict, path: str) -> float:
    value = result
    for key in path.split("."):
        value = value[key]
    return float(value)


def run_once(script: str, arguments: list[str], src: Path) -> dict:
    """One run of `script` against the tree of `src`, with that tree's own copy of the script
    where it has one (a later script may import modules the baseline does not have)."""
    own = src.parent / "benchmarks" / script
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(src)}
        path = own if own.is_file() else HERE / script
        command = [sys.executable, str(path), *arguments, "--output", str(output)]
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(output.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--candidate-src", type=Path, default=HERE.parent / "src")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--scripts",
        default=",".join(script for script, _, _ in RUNS),
        help="which of the benchmarks to run (comma-separated file names)",
    )
    parser.add_argument("--output", type=Path, default=HERE / "results" / "devices_cpu_ab.json")
    args = parser.parse_args()
    trees = {"baseline": args.baseline_src.resolve(), "candidate": args.candidate_src.resolve()}
    figures = {}
    chosen = args.scripts.split(",")
    for script, arguments, wanted in (run for run in RUNS if run[0] in chosen):
        values = {name: {tree: [] for tree in trees} for name in wanted}
        for _ in range(args.rounds):
            for tree, src in trees.items():
                result = run_once(script, arguments, src)
                for name, (key, _) in wanted.items():
                    values[name][tree].append(figure(result, key))
        for name, (key, higher_is_better) in wanted.items():
            medians = {tree: statistics.median(v) for tree, v in values[name].items()}
            figures[name] = {
                "script": script,
                "arguments": arguments,
                "figure": key,
                "higher_is_better": higher_is_better,
                "values": values[name],
                "candidate_over_baseline": medians["candidate"] / medians["baseline"],
            }
            print(f"{name}: {values[name]} -> ratio {figures[name]['candidate_over_baseline']:.3f}")
    result = {
        "benchmark": "CPU A/B of the device and precision plumbing",
        "command": " ".join(["python", "benchmarks/devices_cpu_ab.py", *sys.argv[1:]]),
        "trees": {tree: str(src) for tree, src in trees.items()},
        "rounds": args.rounds,
        "figures": figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
