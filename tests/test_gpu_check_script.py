"""benchmarks/gpu_check.py keeps working without a GPU: its smoke run end to end on the CPU with
gguf and optuna blocked (the GPU machine has neither), its model shapes, its arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PARTS = ("gpu_tier", "matmul", "training_tiny", "rail_and_trie", "grpo_step", "tabular_epoch")


@pytest.fixture
def benchmark_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_the_smoke_run_measures_every_part_with_gguf_and_optuna_blocked(tmp_path):
    # A module set to None in sys.modules makes `import gguf` raise ImportError, so any import
    # of them (decoreg's, transformers' or the script's) turns a part into an error.
    code = (
        "import runpy, sys\n"
        "sys.modules['gguf'] = None\n"
        "sys.modules['optuna'] = None\n"
        f"sys.path.insert(0, {str(BENCHMARKS)!r})\n"
        f"sys.argv = ['gpu_check.py', '--device', 'cpu', '--smoke', '--output-dir', "
        f"{str(tmp_path)!r}, '--tier-filter', 'tabular-ce-fp32']\n"
        f"runpy.run_path({str(BENCHMARKS / 'gpu_check.py')!r}, run_name='__main__')\n"
        "assert sys.modules['gguf'] is None and sys.modules['optuna'] is None\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report) == {"command", "machine", "precision", "smoke", "parts", "targets"}
    assert tuple(report["parts"]) == PARTS
    errors = {n: p.get("error") for n, p in report["parts"].items() if p["status"] != "ok"}
    assert not errors, errors
    for name in PARTS:
        assert json.loads((tmp_path / f"{name}.json").read_text())["status"] == "ok"
    parts = report["parts"]
    assert parts["gpu_tier"]["counts"] == {"passed": 1, "deselected": 52}
    assert parts["matmul"]["bf16_flops_per_second"] > 0
    assert parts["training_tiny"]["mfu"] > 0 and parts["training_tiny"]["tokens_per_second"] > 0
    assert parts["rail_and_trie"]["rail_over_forward"] > 0
    assert parts["grpo_step"]["speedup_over_cpu"] == 1.0  # on the CPU: itself is the CPU figure
    assert parts["tabular_epoch"]["steps"] == 4  # 256 rows / batch 64
    assert set(report["targets"]) == {
        "mfu_1b", "mfu_1b_non_embedding", "rail_over_forward", "grpo_speedup_over_cpu"
    }  # fmt: skip
    assert report["targets"]["mfu_1b"]["met"] is None  # the 1B shape is not in the smoke run
    summary = (tmp_path / "summary.md").read_text()
    assert all(f"| {name} | ok |" in summary for name in PARTS)


def test_the_model_shapes_have_the_real_models_parameter_counts(benchmark_modules):
    from gpu_check_models import llama_config
    from transformers import LlamaForCausalLM

    counts = {}
    for shape in ("smollm2-135m", "llama-1b"):
        with torch.device("meta"):  # shapes only, no memory
            model = LlamaForCausalLM(llama_config(shape))
        counts[shape] = sum(p.numel() for p in model.parameters())
    # SmolLM2-135M as transformers loads it from its GGUF (SOURCES.md: 134.5M, tied). The 1B
    # shape by hand: tied embedding, 16 layers of attention (8 of 32 heads for k and v), SwiGLU
    # MLP and two norms, and the final norm: 1,235,814,400 (Llama-3.2-1B's published 1.24B).
    assert counts["smollm2-135m"] == 134_515_008
    layer = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048  # q,o; k,v; mlp; norms
    assert counts["llama-1b"] == 128256 * 2048 + 16 * layer + 2048


def test_the_synthetic_prompts_have_the_asked_length_and_no_padding(benchmark_modules):
    from gpu_check_models import random_regressor, synthetic_rows

    model = random_regressor("tiny", torch.device("cpu"), grid=(1.0, 5.0), decimals=1,
                             max_prompt_tokens=64)  # fmt: skip
    texts, y = synthetic_rows(5, 40, seed=0)
    assert {len(ids) for ids in model.prepare_inputs(texts)} == {40}
    assert ((y >= 1.0) & (y <= 5.0)).all() and (y == y.round(1)).all()


def test_flop_utilization_and_pytest_counts(benchmark_modules):
    from gpu_check_parts import model_flop_utilization, pytest_counts

    # 1e9 parameters at 1e4 tokens/s: 6 * 1e9 * 1e4 = 6e13 FLOP/s, 10% of a 6e14 peak.
    assert model_flop_utilization(10**9, 1e4, 6e14) == pytest.approx(0.1)
    out = "....F\nFAILED tests/gpu/x.py::t\n3 passed, 1 failed, 2 skipped, 1 error in 4.2s\n"
    assert pytest_counts(out) == {"passed": 3, "failed": 1, "skipped": 2, "errors": 1}
    assert pytest_counts("no tests ran") == {}


def test_a_failing_part_is_recorded_and_the_others_still_run(benchmark_modules):
    from gpu_check import run_part, verdicts
    from gpu_check_parts import SMOKE, Check

    check = Check("cpu", torch.device("cpu"), "fp32", SMOKE)

    def broken(check, budget):
        raise RuntimeError("out of luck")

    failed = run_part(check, "broken", broken, budget=5)
    fine = run_part(check, "fine", lambda check, budget: {"speedup_over_cpu": 6.0}, budget=5)
    assert failed["status"] == "error" and failed["error"] == "RuntimeError: out of luck"
    assert fine["status"] == "ok" and fine["peak_gpu_memory_bytes"] is None
    verdict = verdicts({"grpo_step": fine, "rail_and_trie": {"rail_over_forward": 2.5}})
    assert verdict["grpo_speedup_over_cpu"]["met"] is True  # 6 >= 5
    assert verdict["rail_over_forward"]["met"] is False  # 2.5 > 2
    assert verdict["mfu_1b"]["met"] is None


def test_a_part_past_its_budget_is_stopped(benchmark_modules):
    import time

    from gpu_check import run_part
    from gpu_check_parts import SMOKE, Check

    def slow(check, budget):
        while True:
            time.sleep(0.01)

    result = run_part(Check("cpu", torch.device("cpu"), "fp32", SMOKE), "slow", slow, 0.2)
    assert result["status"] == "error" and result["error"].startswith("PartTimeout")
    assert result["wall_seconds"] < 2


def test_a_device_or_precision_this_machine_lacks_is_refused_before_any_part(
    benchmark_modules, tmp_path, capsys
):
    from gpu_check import main

    with pytest.raises(SystemExit):
        main(["--device", "cpu", "--precision", "fp16-mixed", "--output-dir", str(tmp_path)])
    assert "fp16-mixed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
