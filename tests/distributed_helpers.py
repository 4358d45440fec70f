"""Running a function in N gloo processes on 127.0.0.1 (for the data-parallel tests)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

TEXTS = [f"item {i} is {'good' if i % 3 else 'bad'}{'!' * (i % 4)}" for i in range(26)]
TARGETS = np.array([4.0 if i % 3 else 2.0 for i in range(26)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_in_processes(function, world_size: int, *args) -> None:
    """Call `function(*args)` in `world_size` spawned processes joined in one gloo group."""
    port = free_port()
    mp.spawn(_entry, args=(world_size, port, function, args), nprocs=world_size, join=True)


def _entry(rank: int, world_size: int, port: int, function, args) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size)
    )
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        function(*args)
    finally:
        dist.destroy_process_group()


def estimator_params(objective: str, model_dir: str, batch_size: int, **extra) -> dict:
    params = dict(
        model=model_dir,
        objective=objective,
        template="Q: {text}\nA: ",
        max_steps=4,
        batch_size=batch_size,
        warmup_steps=1,
        eval_every=2,
        learning_rate=1e-2,
        bf16=False,
        verbose=False,
        validation_fraction=0.25,
    )
    return {**params, **extra}


def fit_and_record(params: dict, out_file: str) -> None:
    """Fit a DecodingRegressor on TEXTS and write its losses, evaluations and weights (rank 0)."""
    from decoreg.estimator import DecodingRegressor

    est = DecodingRegressor(**params).fit(TEXTS, TARGETS)
    if dist.is_initialized() and dist.get_rank() != 0:
        return
    record = {
        "losses": [row["loss"] for row in est.train_result_.log],
        "rmse": [row["rmse"] for row in est.train_result_.evaluations],
        "best_step": est.train_result_.best_step,
    }
    Path(out_file).write_text(json.dumps(record))
    weights = {n: p.detach() for n, p in est.model_.named_parameters() if p.requires_grad}
    torch.save(weights, out_file + ".weights")


def fit_many(jobs: list[tuple[dict, str]]) -> None:
    for params, out_file in jobs:
        fit_and_record(params, out_file)
