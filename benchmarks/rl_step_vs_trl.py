"""One RL step of decoreg's GRPO vs TRL's GRPOTrainer on the embedded model.

Same model (SmolLM2-135M, fp32 weights under bf16 autocast), same 8 clothing-review prompts of
~100 tokens, G = 8 samples per prompt, 4 completion tokens, temperature 1, 2 threads. Both
take full optimizer steps (sample, reward, advantages, loss, backward, AdamW); the median step
time after one warm-up step is compared, and each side's time is split into phases:

    decoreg: rollout (prompt once, KV cache repeated for the 8 samples), training forward
             (prompt once with grad, 8 completions on its repeated cache), backward, optimizer.
    TRL:     generation and scoring (`_generate_and_score_completions`), loss forward
             (`compute_loss`: 64 full prompt+completion sequences), backward and optimizer.

TRL is run twice: with its default `gradient_checkpointing=True` and with it off (the fairer
comparison: decoreg does not recompute activations); the target is checked against the faster.

Target: decoreg's step takes at most 1/5 of TRL's.

Usage (TRL is a benchmark-only extra: pip install -e .[bench-rl]):
    flock /tmp/decoreg-cpu.lock python benchmarks/rl_step_vs_trl.py \
        --output benchmarks/results/rl_step_vs_trl.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.policy import CausalLMPolicy
from decoreg.causal_lm.pretrained import load_pretrained
from decoreg.datasets import load_dataset
from decoreg.rl import RL_OBJECTIVES

TARGET_RATIO = 0.2
PROMPTS = 8
SAMPLES = 8
COMPLETION_TOKENS = 4  # "3.5" + end of sequence, and TRL's max_completion_length
PROMPT_TOKENS = 100


class PhaseTimer:
    """Accumulates wall time per phase name; `wrap` times every call of a function."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        return timed

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def review_prompts(tokenizer, template: str) -> tuple[list[str], np.ndarray]:
    """The 8 reviews whose rendered prompts are closest to PROMPT_TOKENS tokens."""
    frame = load_dataset("clothing-reviews").frame.iloc[:3000]
    texts = [template.format(text=t) for t in frame["text"]]
    lengths = np.array([len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts])
    rows = np.argsort(np.abs(lengths - PROMPT_TOKENS), kind="stable")[:PROMPTS]
    return [frame["text"].iloc[i] for i in rows], frame["Rating"].to_numpy(float)[rows]


def median_after_warmup(times: list[float]) -> float:
    return statistics.median(times[1:])


# ------------------------------------------------------------------------------ decoreg
def run_decoreg(texts, targets, template, steps: int) -> dict:
    lm, tokenizer = load_pretrained("smollm2-135m")
    spec = CausalLMSpec(base_model="smollm2-135m", template=template, decimals=1, grid=(1.0, 5.0))
    model = CausalLMRegressor(lm, tokenizer, spec)
    assert CausalLMPolicy.for_model(model).grammar.max_tokens == COMPLETION_TOKENS
    objective = RL_OBJECTIVES["grpo"](num_samples=SAMPLES)
    batch = model.make_batch(model.prepare_inputs(texts), targets)
    prompt_lengths = [len(p) for p in batch.inputs]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6, fused=True)  # as in decoreg.training
    timer = PhaseTimer()
    original = (CausalLMPolicy.rollout, CausalLMPolicy.action_log_probs)
    CausalLMPolicy.rollout = timer.wrap("rollout", original[0])
    CausalLMPolicy.action_log_probs = timer.wrap("training_forward", original[1])
    step_times, phases, metrics = [], [], []
    try:
        model.train()
        for _ in range(steps):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss, step_metrics = objective(model, batch)
            after_loss = time.perf_counter()
            loss.backward()
            after_backward = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            end = time.perf_counter()
            step_phases = timer.take()
            step_phases["loss_and_rest"] = (after_loss - start) - sum(step_phases.values())
            step_phases["backward"] = after_backward - after_loss
            step_phases["optimizer"] = end - after_backward
            step_times.append(end - start)
            phases.append(step_phases)
            metrics.append(step_metrics)
    finally:
        CausalLMPolicy.rollout, CausalLMPolicy.action_log_probs = original
    return {
        "step_seconds": step_times,
        "median_step_seconds": median_after_warmup(step_times),
        "median_phase_seconds": _median_phases(phases),
        "prompt_tokens": prompt_lengths,
        "completions_per_step": PROMPTS * SAMPLES,
        "reward_mean_per_step": [m["reward_mean"] for m in metrics],
    }


# ---------------------------------------------------------------------------------- TRL
def run_trl(texts, targets, template, steps: int, gradient_checkpointing: bool) -> dict:
    import trl
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    lm, tokenizer = load_pretrained("smollm2-135m")
    prompts = [template.format(text=t) for t in texts]
    train = Dataset.from_dict({"prompt": prompts, "target": list(map(float, targets))})

    def reward(completions, target, **_):
        out = []
        for text, y in zip(completions, target, strict=True):
            try:
                out.append(-((float(text.strip().split()[0]) - y) ** 2))
            except (ValueError, IndexError):
                out.append(-100.0)
        return out

    step_times: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            step_times.append(time.perf_counter() - self.start)

    with tempfile.TemporaryDirectory() as out_dir:
        config = GRPOConfig(
            output_dir=out_dir,
            per_device_train_batch_size=PROMPTS * SAMPLES,
            num_generations=SAMPLES,
            max_completion_length=COMPLETION_TOKENS,
            temperature=1.0,
            learning_rate=1e-6,
            max_steps=steps,
            bf16=True,
            use_cpu=True,
            gradient_checkpointing=gradient_checkpointing,
            logging_steps=1,
            report_to="none",
            save_strategy="no",
            shuffle_dataset=False,
            dataloader_num_workers=0,
            seed=0,
        )
        trainer = GRPOTrainer(
            model=lm,
            reward_funcs=reward,
            args=config,
            train_dataset=train,
            processing_class=tokenizer,
            callbacks=[StepClock()],
        )
        timer = PhaseTimer()
        trainer._generate_and_score_completions = timer.wrap(
            "generate_and_score", trainer._generate_and_score_completions
        )
        trainer.compute_loss = timer.wrap("loss_forward", trainer.compute_loss)
        phase_log = []
        original_step = trainer.training_step

        def training_step(*args, **kwargs):
            start = time.perf_counter()
            out = original_step(*args, **kwargs)
            step = timer.take()
            step["backward_and_rest"] = time.perf_counter() - start - sum(step.values())
            phase_log.append(step)
            return out

        trainer.training_step = training_step
        torch.set_num_threads(2)
        trainer.train()
        torch.set_num_threads(2)
    for phases, total in zip(phase_log, step_times, strict=False):
        phases["optimizer_and_rest"] = total - sum(phases.values())
    return {
        "trl_version": trl.__version__,
        "gradient_checkpointing": gradient_checkpointing,
        "optimizer": str(config.optim),
        "step_seconds": step_times,
        "median_step_seconds": median_after_warmup(step_times),
        "median_phase_seconds": _median_phases(phase_log),
        "completions_per_step": PROMPTS * SAMPLES,
    }


def _median_phases(phases: list[dict[str, float]]) -> dict[str, float]:
    kept = phases[1:] or phases
    return {k: statistics.median(p.get(k, 0.0) for p in kept) for k in kept[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="steps per side (first = warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=Path("benchmarks/results/rl_step_vs_trl.json")
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _, tokenizer = load_pretrained("smollm2-135m")
    template = load_dataset("clothing-reviews").info.template
    texts, targets = review_prompts(tokenizer, template)
    ours = run_decoreg(texts, targets, template, args.steps)
    print(
        f"decoreg: median {ours['median_step_seconds']:.2f} s/step {ours['median_phase_seconds']}"
    )
    trl_runs = {}
    for checkpointing in (False, True):
        run = run_trl(texts, targets, template, args.steps, checkpointing)
        trl_runs[f"gradient_checkpointing={checkpointing}"] = run
        print(
            f"TRL gc={checkpointing}: median {run['median_step_seconds']:.2f} s/step "
            f"{run['median_phase_seconds']}"
        )
    fastest_trl = min(r["median_step_seconds"] for r in trl_runs.values())
    ratio = ours["median_step_seconds"] / fastest_trl
    result = {
        "benchmark": "one RL step (GRPO, G=8, 8 prompts, 4 completion tokens) vs TRL GRPOTrainer",
        "command": "flock /tmp/decoreg-cpu.lock python " + " ".join(sys.argv),
        "machine": {
            "cores": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "model": "smollm2-135m (fp32 weights, bf16 autocast)",
            "prompts": PROMPTS,
            "samples_per_prompt": SAMPLES,
            "completion_tokens": COMPLETION_TOKENS,
            "prompt_tokens": ours["prompt_tokens"],
            "steps_per_side": args.steps,
            "statistic": "median step time, first step (warm-up) excluded",
        },
        "decoreg": ours,
        "trl": trl_runs,
        "ratio_decoreg_over_fastest_trl": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"ratio {ratio:.3f} (target <= {TARGET_RATIO}): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
