"""Kill-safe checkpoints: a resumed run ends with the same weights as an uninterrupted one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from decoreg.causal_lm.build import LMOptions, build_causal_lm
from decoreg.causal_lm.objectives import Raft
from decoreg.checkpoint import Checkpointer, checkpoint_name
from decoreg.config import TrainConfig
from decoreg.core import Objective
from decoreg.distributed import World
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from decoreg.training import Dataset, fit

TEXTS = [f"item {i} is {'good' if i % 3 else 'bad'}{'!' * (i % 5)}" for i in range(40)]
TARGETS = np.array([4.0 if i % 3 else 2.0 for i in range(40)])


def estimator(model_dir, checkpoint_dir=None, **params) -> DecodingRegressor:
    defaults = dict(
        template="Q: {text}\nA: ",
        max_steps=8,
        batch_size=4,
        eval_every=3,
        warmup_steps=2,
        learning_rate=1e-2,
        bf16=False,
        verbose=False,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
        checkpoint_every=2,
    )
    return DecodingRegressor(model=str(model_dir), **{**defaults, **params})


def weights(est: DecodingRegressor) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in est.model_.named_parameters()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == []


@pytest.mark.parametrize(
    ("objective", "every", "resume_from"),
    [("raft", 3, 3), ("raft", 4, 4), ("ce", 5, 5), ("raft", 7, 7), ("genre2", 3, 3)],
)
def test_resuming_from_any_checkpoint_ends_bit_for_bit_equal(
    tiny_model_dir, tmp_path, objective, every, resume_from
):
    """Validation at steps 3, 6 and 8 picks the best weights, so the best-so-far state, the
    optimizer moments, the schedule and the data position must all survive the restart; for
    RL (genre2: ReMax rollouts plus the expert term) also the objective's sampling state."""
    reference = estimator(tiny_model_dir, objective=objective).fit(TEXTS, TARGETS)
    folder = tmp_path / "ckpt"
    run = estimator(tiny_model_dir, folder, checkpoint_every=every, objective=objective)
    run.fit(TEXTS, TARGETS)
    checkpoints = Checkpointer(folder, World())
    for step in checkpoints.steps():  # as if killed right after `resume_from`
        if step > resume_from:
            (folder / checkpoint_name(step)).unlink()
    assert checkpoints.steps()[-1] == resume_from
    resumed = estimator(tiny_model_dir, folder, resume=True, objective=objective)
    resumed.fit(TEXTS, TARGETS)
    assert_same_weights(weights(resumed), weights(reference))
    assert resumed.train_result_.log == reference.train_result_.log
    assert resumed.train_result_.evaluations == reference.train_result_.evaluations
    assert resumed.train_result_.best_step == reference.train_result_.best_step


def test_only_the_two_newest_checkpoints_are_kept(tiny_model_dir, tmp_path):
    folder = tmp_path / "ckpt"
    estimator(tiny_model_dir, folder, checkpoint_every=2).fit(TEXTS, TARGETS)
    assert Checkpointer(folder, World()).steps() == [6, 8]
    assert sorted(p.name for p in folder.iterdir()) == [checkpoint_name(6), checkpoint_name(8)]


def test_resume_with_no_checkpoint_starts_from_step_one(tiny_model_dir, tmp_path, caplog):
    reference = estimator(tiny_model_dir).fit(TEXTS, TARGETS)
    resumed = estimator(tiny_model_dir, tmp_path / "empty", resume=True).fit(TEXTS, TARGETS)
    assert_same_weights(weights(resumed), weights(reference))
    assert "no checkpoint" in caplog.text


def test_resume_refuses_a_run_with_other_options(tiny_model_dir, tmp_path):
    folder = tmp_path / "ckpt"
    estimator(tiny_model_dir, folder).fit(TEXTS, TARGETS)
    changed = estimator(tiny_model_dir, folder, resume=True, learning_rate=2e-2)
    with pytest.raises(ConfigError, match=r"train_config.learning_rate: checkpoint 0.01, now 0.02"):
        changed.fit(TEXTS, TARGETS)
    other_data = estimator(tiny_model_dir, folder, resume=True)
    with pytest.raises(ConfigError, match="train_data_sha256"):
        other_data.fit(TEXTS, TARGETS + 1.0)


def test_a_torn_temporary_file_is_ignored_and_cleaned(tiny_model_dir, tmp_path):
    """A kill during a write leaves `.tmp-step-...` behind; it is never read as a checkpoint."""
    folder = tmp_path / "ckpt"
    estimator(tiny_model_dir, folder, checkpoint_every=4).fit(TEXTS, TARGETS)
    (folder / checkpoint_name(8)).unlink()
    torn = folder / f".tmp-{checkpoint_name(8)}-abc"
    torn.write_bytes(b"PK\x03\x04 half a zip file")
    assert Checkpointer(folder, World()).steps() == [4]
    reference = estimator(tiny_model_dir).fit(TEXTS, TARGETS)
    resumed = estimator(tiny_model_dir, folder, resume=True).fit(TEXTS, TARGETS)
    assert_same_weights(weights(resumed), weights(reference))
    assert not torn.exists()


def test_checkpoint_options_are_validated():
    with pytest.raises(ConfigError, match="resume needs checkpoint_dir"):
        TrainConfig(resume=True)
    with pytest.raises(ConfigError, match="checkpoint_every must be >= 0"):
        TrainConfig(checkpoint_every=-1)


@dataclass
class NoisyRaft(Objective):
    """RAFT on targets plus noise from the objective's own generator (like an RL objective's
    sampling): resuming must restore the generator, or the noise after the restart differs."""

    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(7))

    def __call__(self, model, batch):
        noise = torch.randn(batch.targets.shape, generator=self.generator)
        return Raft()(model, type(batch)(inputs=batch.inputs, targets=batch.targets + noise))

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def test_an_objectives_own_random_state_is_checkpointed(tiny_model_dir, tmp_path):
    options = LMOptions(model=str(tiny_model_dir), template="Q: {text}\nA: ")

    def run(config: TrainConfig):
        model = build_causal_lm(options, TARGETS)
        data = Dataset(model.prepare_inputs(TEXTS), TARGETS)
        result = fit(model, NoisyRaft(), data, config)
        return result, {n: p.detach().clone() for n, p in model.named_parameters()}

    base = dict(max_steps=6, batch_size=4, learning_rate=1e-2, bf16=False, show_progress=False)
    reference, expected = run(TrainConfig(**base))
    folder = str(tmp_path / "ckpt")
    run(TrainConfig(**base, checkpoint_dir=folder, checkpoint_every=3))
    (Path(folder) / checkpoint_name(6)).unlink()  # resume after step 3
    resumed, actual = run(TrainConfig(**base, checkpoint_dir=folder, resume=True))
    assert_same_weights(actual, expected)
    assert [r["loss"] for r in resumed.log] == [r["loss"] for r in reference.log]


class RecordsState(Objective):
    """Remembers the state the checkpointer restores into it."""

    def __init__(self) -> None:
        self.restored = "never"

    def __call__(self, model, batch):
        raise AssertionError("not trained here")

    def load_state_dict(self, state: dict) -> None:
        self.restored = state


def test_a_checkpoint_from_before_the_objective_hooks_restores(tmp_path):
    """Checkpoints of objectives without state used to hold None for it: it restores as {}."""
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    objects = dict(model=model, optimizer=optimizer, scheduler=scheduler)
    checkpointer = Checkpointer(tmp_path, World())
    path = checkpointer.save(
        1, **objects, objective=RecordsState(), record={}, best_state=None, fingerprint={}
    )
    payload = torch.load(path, weights_only=True)
    assert payload["rank_states"][0]["objective"] == {}
    payload["rank_states"][0]["objective"] = None
    torch.save(payload, path)
    objective = RecordsState()
    assert checkpointer.restore(**objects, objective=objective, fingerprint={})[0] == 1
    assert objective.restored == {}


# ------------------------------------------------------------- SIGKILL at a random point
def train_command(data: Path, model_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "decoreg.cli",
        "train",
        str(data),
        "--target-column",
        "y",
        "--model",
        str(model_dir),
        "--output",
        str(out),
        "--max-steps",
        "40",
        "--batch-size",
        "4",
        "--eval-every",
        "7",
        "--learning-rate",
        "0.01",
        "--no-bf16",
        "--template",
        "Q: {text}\nA: ",
        "--checkpoint-every",
        "2",
        *extra,
    ]


def child_env() -> dict:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}


@pytest.mark.parametrize("objective", ["raft", "grpo"])
def test_sigkill_at_a_random_step_then_resume_gives_the_same_weights(
    tiny_model_dir, tmp_path, objective
):
    """Supervised (RAFT) and RL (GRPO rollouts) training, killed with SIGKILL at a random
    instant after a random checkpoint, resumed with --resume: the same final weights, bit for
    bit, and the same per-step log as a run that was never interrupted."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kill_after = rng.randrange(2, 34, 2)  # a checkpoint step; the kill lands after it
    delay = rng.uniform(0.0, 0.05)  # mid-step, mid-evaluation or mid-checkpoint-write
    note = f"{objective}, seed {seed}: kill after checkpoint {kill_after} + {delay:.3f}s"
    objective_args = ("--objective", objective)
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": TEXTS, "y": TARGETS}).to_csv(data, index=False)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(
        train_command(data, tiny_model_dir, reference, *objective_args), env=child_env(),
        check=True, capture_output=True,
    )  # fmt: skip
    victim = subprocess.Popen(
        train_command(data, tiny_model_dir, killed, *objective_args), env=child_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    checkpoints = Checkpointer(Path(str(killed) + ".checkpoints"), World())
    deadline = time.monotonic() + 120
    while not (checkpoints.steps() and checkpoints.steps()[-1] >= kill_after):
        assert victim.poll() is None, f"{note}: training ended before the kill"
        assert time.monotonic() < deadline, note
        time.sleep(0.002)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, note
    assert not (killed / "decoreg.json").exists(), note
    subprocess.run(
        train_command(data, tiny_model_dir, killed, *objective_args, "--resume"),
        env=child_env(), check=True, capture_output=True,
    )  # fmt: skip
    expected = load_file(reference / "lm" / "model.safetensors")
    actual = load_file(killed / "lm" / "model.safetensors")
    assert_same_weights(actual, expected)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (reference, killed)]
    assert metrics[1]["log"] == metrics[0]["log"], note
    assert metrics[1]["best_step"] == metrics[0]["best_step"], note
    assert not checkpoints.directory.exists()  # removed once the model was saved
