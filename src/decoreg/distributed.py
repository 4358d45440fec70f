"""Process groups and the small collectives of data-parallel runs, for any model family.

The training step itself runs under DistributedDataParallel or FSDP2 (`decoreg.engine`);
this module holds what surrounds it:

- joining the group a launcher (`torchrun`, `accelerate launch`) describes, with gloo for CPU
  tensors and, where CUDA is present, NCCL for CUDA ones (`init_from_environment`);
- each global micro-batch is cut into equal contiguous slices, one per process
  (`decoreg.data_order.BatchOrder`), so the mean of the per-process losses is the loss of the
  whole global batch;
- logged metrics are averaged over the processes (`average_metrics`);
- validation rows are dealt round-robin to the processes, each decodes its share, and the
  numbers are gathered on every process (`gather_strided`), so early stopping and the choice
  of the best step agree everywhere. Saving and checkpoint files are written by rank 0 only
  (FSDP's sharded checkpoints by every process, each its shard).

A single process (no process group) goes through the same code with every collective a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist

from decoreg.errors import ConfigError

BACKEND_ENV_VAR = "DECOREG_DIST_BACKEND"
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes.

    Attributes:
        rank: 0 .. size-1; rank 0 logs, evaluates the report and writes files.
        size: Number of processes (1 without a process group).
    """

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def current(cls) -> World:
        if dist.is_available() and dist.is_initialized():
            return cls(rank=dist.get_rank(), size=dist.get_world_size())
        return cls()


SINGLE_PROCESS = World()


def launched_world_size() -> int:
    """WORLD_SIZE as set by `torchrun` or `accelerate launch` (1 when not launched by them)."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"the environment variable WORLD_SIZE={raw!r} is not a number") from None


def init_from_environment() -> World:
    """Join the process group a launcher describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT).

    A no-op for a plain single process or when a group already exists. The backend is
    `default_backend()` unless `DECOREG_DIST_BACKEND` names another one. With CUDA, each
    process makes GPU LOCAL_RANK its current device (NCCL's collectives run there).
    """
    if launched_world_size() > 1 and dist.is_available() and not dist.is_initialized():
        if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend=os.environ.get(BACKEND_ENV_VAR, default_backend()))
    return World.current()


def default_backend() -> str:
    """gloo for CPU tensors, plus NCCL for CUDA tensors where CUDA is present: the loop's
    small collectives (metrics, gathered predictions) stay on the CPU, DDP's and FSDP's
    gradients and shards travel over NCCL when the model is on a GPU."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def average_metrics(metrics: dict[str, float], world: World) -> dict[str, float]:
    """The mean of each metric over the processes (every process passes the same keys)."""
    if not world.is_distributed or not metrics:
        return metrics
    names = sorted(metrics)
    values = torch.tensor([metrics[n] for n in names], dtype=torch.float64)
    dist.all_reduce(values)
    return {n: float(v) / world.size for n, v in zip(names, values.tolist(), strict=True)}


def strided_share(n_rows: int, world: World) -> np.ndarray:
    """The positions 0..n_rows-1 this process handles: rank, rank + size, rank + 2 size, ..."""
    return np.arange(world.rank, n_rows, world.size)


def gather_strided(local: np.ndarray, n_rows: int, world: World) -> np.ndarray:
    """Reassemble [n_rows] values from every process's `strided_share` (on every process).

    Args:
        local: This process's values, in the order of its `strided_share`; float or bool.
        n_rows: Length of the full array.
        world: The processes.
    """
    if not world.is_distributed:
        return local
    width = -(-n_rows // world.size)
    padded = torch.zeros(width, dtype=torch.float64)
    padded[: len(local)] = torch.from_numpy(np.asarray(local, dtype=np.float64))
    parts = [torch.zeros_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    full = np.empty(n_rows, dtype=np.float64)
    for rank, part in enumerate(parts):
        positions = np.arange(rank, n_rows, world.size)
        full[positions] = part.numpy()[: len(positions)]
    return full.astype(local.dtype)


def gather_objects(value, world: World) -> list:
    """Every process's `value` (small picklable objects, e.g. RNG states), on every process."""
    if not world.is_distributed:
        return [value]
    gathered: list = [None] * world.size
    dist.all_gather_object(gathered, value)
    return gathered


def run_on_main(function: Callable[[], T], world: World) -> T:
    """`function()` run by rank 0 alone, its result (or the exception it raised) shared with
    every process, so that all of them go on, or fail with the same message, together."""
    if not world.is_distributed:
        return function()
    outcome: list = [None]
    if world.is_main:
        try:
            outcome = [(True, function())]
        except Exception as error:  # re-raised below, on every process
            outcome = [(False, error)]
    dist.broadcast_object_list(outcome, src=0)
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def broadcast_int(value: int, world: World) -> int:
    """Rank 0's `value` on every process."""
    if not world.is_distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.int64)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def all_agree(flag: bool, world: World) -> bool:
    """True when `flag` is true on every process."""
    if not world.is_distributed:
        return flag
    tensor = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return bool(tensor.item())
