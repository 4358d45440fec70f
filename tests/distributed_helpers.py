"""Running a function in N gloo processes on 127.0.0.1 (for the data-parallel tests)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

TEXTS = [f"item {i} is {'good' if i % 3 else 'bad'}{'!' * (i % 4)}" for i in range(26)]
TARGETS = np.array([4.0 if i % 3 else 2.0 for i in range(26)])
_rng = np.random.default_rng(0)
FEATURES = pd.DataFrame(
    {"a": _rng.normal(size=26), "b": _rng.normal(size=26), "kind": _rng.choice(["x", "y"], 26)}
)
TABULAR_TARGETS = (3.0 * FEATURES["a"] - FEATURES["b"] + 10.0).to_numpy()
TINY_TABULAR = {"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32, "dropout": 0.0}


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


def estimator_params(objective: str, model_dir: str | None, batch_size: int, **extra) -> dict:
    """Estimator options for a short run: a causal LM from `model_dir`, or (model_dir None)
    a tiny tabular encoder-decoder without dropout (dropout masks are drawn per process)."""
    if model_dir is None:
        family = {"family": "tabular", "tabular_options": TINY_TABULAR, "num_samples": 4}
    else:
        family = {"model": model_dir, "template": "Q: {text}\nA: "}
    params = dict(
        **family,
        objective=objective,
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


def fit_and_record(params: dict, out_file: str):
    """Fit a DecodingRegressor on TEXTS and write its losses, evaluations and weights (rank 0);
    returns the estimator."""
    from decoreg.estimator import DecodingRegressor

    if params.get("family") == "tabular":
        est = DecodingRegressor(**params).fit(FEATURES, TABULAR_TARGETS)
    else:
        est = DecodingRegressor(**params).fit(TEXTS, TARGETS)
    if dist.is_initialized() and dist.get_rank() != 0:
        return est
    record = {
        "losses": [row["loss"] for row in est.train_result_.log],
        "rmse": [row["rmse"] for row in est.train_result_.evaluations],
        "best_step": est.train_result_.best_step,
    }
    Path(out_file).write_text(json.dumps(record))
    weights = {n: p.detach() for n, p in est.model_.named_parameters() if p.requires_grad}
    torch.save(weights, out_file + ".weights")
    return est


def fit_many(jobs: list[tuple[dict, str]]) -> None:
    for params, out_file in jobs:
        fit_and_record(params, out_file)
