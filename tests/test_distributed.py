"""Data-parallel training: 2 gloo processes match 1 process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from decoreg.core import Objective
from decoreg.data_order import BatchOrder
from decoreg.distributed import World, gather_strided, strided_share
from decoreg.engine import DataParallel
from decoreg.families import get_family
from tests.distributed_helpers import (
    TARGETS,
    TEXTS,
    estimator_params,
    fit_and_record,
    free_port,
    run_in_processes,
)

LEARNING_RATE = 1e-2


def test_batch_order_is_a_pure_function_of_seed_and_index():
    lengths = np.arange(30) % 7
    first = BatchOrder(lengths, batch_size=4, seed=3)
    again = BatchOrder(lengths, batch_size=4, seed=3)
    later = [again.global_batch(i) for i in range(20, 25)]  # asked out of order, no warm-up
    assert all(np.array_equal(first.global_batch(20 + k), b) for k, b in enumerate(later))
    other_seed = BatchOrder(lengths, batch_size=4, seed=4)
    same = [np.array_equal(first.global_batch(i), other_seed.global_batch(i)) for i in range(8)]
    assert not all(same)


def test_every_row_is_seen_once_per_epoch_and_every_batch_is_full():
    """30 rows, global batches of 8: 4 batches per epoch, the 2 missing rows repeat the epoch's
    own first rows, so each epoch covers all 30 rows and 32 slots are filled."""
    order = BatchOrder(np.ones(30, dtype=int), batch_size=4, world_size=2, seed=0)
    assert order.batches_per_epoch == 4
    for epoch in range(3):
        batches = [order.global_batch(epoch * 4 + i) for i in range(4)]
        assert all(len(b) == 8 for b in batches)
        rows = np.concatenate(batches)
        assert set(rows.tolist()) == set(range(30))
        assert len(rows) - len(set(rows.tolist())) == 2


def test_process_slices_concatenate_to_the_single_process_batch():
    lengths = np.random.default_rng(0).integers(1, 50, size=37)
    single = BatchOrder(lengths, batch_size=8, world_size=1, seed=5)
    pair = BatchOrder(lengths, batch_size=4, world_size=2, seed=5)
    for index in range(12):
        slices = [pair.local_batch(index, rank) for rank in (0, 1)]
        assert np.array_equal(np.concatenate(slices), single.global_batch(index))


def test_length_grouping_cuts_padding():
    lengths = np.random.default_rng(1).integers(1, 200, size=400)

    def padding(grouping: bool) -> int:
        order = BatchOrder(lengths, batch_size=8, seed=0, length_grouping=grouping)
        batches = [lengths[order.global_batch(i)] for i in range(order.batches_per_epoch)]
        return int(sum(b.max() * len(b) - b.sum() for b in batches))

    assert padding(True) < padding(False) / 3


def test_strided_share_of_one_process_is_everything():
    assert strided_share(5, World()).tolist() == [0, 1, 2, 3, 4]
    assert strided_share(5, World(rank=1, size=2)).tolist() == [1, 3]


class ThreeWeights(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = (torch.nn.Parameter(torch.zeros(3)) for _ in range(3))


class RankDependentLoss(Objective):
    """Rank 0 uses `a` only; rank 1 uses `a` and `b`; nobody uses `c`."""

    def __call__(self, model, batch):
        rank = World.current().rank
        loss = (model.a * float(rank + 1)).sum()  # d/da: 1 on rank 0, 2 on rank 1
        if rank == 1:
            loss = loss + (model.b * 4.0).sum()  # d/db: 4 on rank 1 only
        return loss, {"loss": float(loss)}


def _collectives_worker(out_file: str) -> None:
    world = World.current()
    model = ThreeWeights()
    with torch.no_grad():
        model.a.fill_(float(world.rank))  # DDP starts every process from rank 0's weights
    engine = DataParallel(model, RankDependentLoss())
    starting_a = model.a.tolist()
    loss, _ = engine(None)
    loss.backward()
    n = 7  # rows 0..6; rank 0 holds 0, 2, 4, 6 and rank 1 holds 1, 3, 5
    share = strided_share(n, world)
    values = gather_strided(share.astype(np.float64) * 10, n, world)
    flags = gather_strided(share % 3 == 0, n, world)
    if world.rank == 0:
        result = {
            "starting_a": starting_a,
            "a": model.a.grad.tolist(),
            "b": model.b.grad.tolist(),
            "c_is_none": model.c.grad is None,
            "values": values.tolist(),
            "flags": flags.tolist(),
        }
        with open(out_file, "w") as file:
            json.dump(result, file)
    dist.barrier()


def test_ddp_gradient_means_and_gathering_across_two_processes(tmp_path):
    out = tmp_path / "collectives.json"
    run_in_processes(_collectives_worker, 2, str(out))
    result = json.loads(out.read_text())
    assert result["starting_a"] == [0.0, 0.0, 0.0]
    assert result["a"] == [1.5, 1.5, 1.5]  # the mean of 1 and 2
    assert result["b"] == [2.0, 2.0, 2.0]  # the mean of 0 (unused on rank 0) and 4
    assert result["c_is_none"]  # unused everywhere: no gradient, as in one process
    assert result["values"] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert result["flags"] == [True, False, False, True, False, False, True]


def _fit_all(jobs) -> None:
    for params, out_file in jobs:
        fit_and_record(params, out_file)


def _deterministic(objective: str) -> str:
    """Greedy validation where the family would sample: a sample jumps to another number
    wherever the float noise between the two runs' weights moves a token's cumulative
    probability across the sample's uniform draw, which the 1e-5 tolerance cannot absorb."""
    default = get_family("tabular").resolve_decoder(objective, None)
    return "greedy" if default.startswith("sample-") else default


SCENARIOS = {
    **{name: {} for name in get_family("causal-lm").objectives},
    "raft+accumulation": {"objective": "raft", "grad_accum_steps": 2},
    **{
        f"tabular-{name}": {"objective": name, "decoder": _deterministic(name)}
        for name in get_family("tabular").objectives
    },
}


def test_two_processes_match_one_process_for_every_objective(tmp_path, tiny_model_dir):
    """Every objective of both families (causal LM and tabular encoder-decoder). Same seed,
    same global batch (1 x 8 rows vs 2 x 4 rows, or 1 x 4 x 2 accumulated vs 2 x 2 x 2): the
    loss trajectory and validation RMSE agree to 1e-5 relative (float32 reductions in another
    order) and 99% of the final weights to a tenth of the learning rate. Not all of them: Adam
    divides by the gradient's RMS, so a weight whose gradient is zero in exact arithmetic (the
    key half of an attention bias, which softmax ignores) moves by up to the learning rate per
    step on float noise alone, in a direction the noise picks."""
    single_jobs, pair_jobs = [], []
    for name, extra in SCENARIOS.items():
        params = {"objective": name, **extra}
        objective = params.pop("objective")
        accum = params.get("grad_accum_steps", 1)
        model_dir = None if name.startswith("tabular-") else str(tiny_model_dir)
        one = estimator_params(objective, model_dir, 8 // accum, **params)
        two = estimator_params(objective, model_dir, 4 // accum, **params)
        single_jobs.append((one, str(tmp_path / f"one-{name}.json")))
        pair_jobs.append((two, str(tmp_path / f"two-{name}.json")))
    _fit_all(single_jobs)
    run_in_processes(_fit_all, 2, pair_jobs)
    for name in SCENARIOS:
        one = json.loads((tmp_path / f"one-{name}.json").read_text())
        two = json.loads((tmp_path / f"two-{name}.json").read_text())
        assert len(one["losses"]) == 4 and len(one["rmse"]) == 2, name
        np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(two["rmse"], one["rmse"], rtol=1e-5, err_msg=name)
        # The best step is an argmin over the two evaluations: it must agree wherever they lie
        # further apart than the tolerance above (a closer tie is float rounding's to break).
        if abs(one["rmse"][0] - one["rmse"][1]) > 2e-5 * max(one["rmse"]):
            assert two["best_step"] == one["best_step"], name
        w_one = torch.load(tmp_path / f"one-{name}.json.weights", weights_only=True)
        w_two = torch.load(tmp_path / f"two-{name}.json.weights", weights_only=True)
        assert w_one.keys() == w_two.keys()
        gaps = torch.cat([(w_two[k] - w_one[k]).abs().flatten() for k in w_one])
        far = float((gaps > LEARNING_RATE / 10).double().mean())
        assert far <= 0.01, f"{name}: {far:.2%} of the weights differ by more than lr/10"


def test_torchrun_launch_of_the_cli_trains_like_one_process(tmp_path, tiny_model_dir):
    """The documented launch: `torchrun --nproc-per-node 2 -m decoreg.cli train ...` with
    --batch-size 4 is the training of one `decoreg train` with --batch-size 8; only rank 0
    writes the model and metrics, and checkpoints are removed once the model is saved."""
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": TEXTS, "y": TARGETS}).to_csv(data, index=False)

    def train_args(out: Path, batch: int) -> list[str]:
        return [
            "-m", "decoreg.cli", "train", str(data), "--target-column", "y",
            "--model", str(tiny_model_dir), "--output", str(out), "--max-steps", "4",
            "--batch-size", str(batch), "--eval-every", "2", "--learning-rate", "0.01",
            "--no-bf16", "--template", "Q: {text}\nA: ", "--checkpoint-every", "2",
        ]  # fmt: skip

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, *train_args(one, 8)], env=env, check=True, capture_output=True)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    launcher += ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    done = subprocess.run([*launcher, *train_args(two, 4)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("saved the model to") == 1
    logs = [json.loads((d / "metrics.json").read_text())["log"] for d in (one, two)]
    np.testing.assert_allclose(
        [r["loss"] for r in logs[1]], [r["loss"] for r in logs[0]], rtol=1e-5
    )
    assert not Path(str(two) + ".checkpoints").exists()
    w_one = load_file(one / "lm" / "model.safetensors")
    w_two = load_file(two / "lm" / "model.safetensors")
    for key in w_one:
        torch.testing.assert_close(w_two[key], w_one[key], rtol=0, atol=LEARNING_RATE / 10)
