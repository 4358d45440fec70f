"""The sharded half of an FSDP run's checkpoint, through `torch.distributed.checkpoint` (DCP).

Under FSDP no process holds the whole model, so the weights, the AdamW moments and the best
weights so far go to a folder `step-00000042.dcp/` in which every process writes its own
shards (DCP's format: one file per process plus rank 0's metadata). The rest of the
checkpoint (RNG states, the loop's record, the scheduler) stays in the small `.ckpt` file,
which rank 0 writes last: a `.dcp` folder counts only once its `.ckpt` exists, so a kill
during the sharded write leaves the previous checkpoint in charge. The folder is written
under a temporary name and renamed when DCP returns on rank 0 (DCP's coordinator writes the
metadata after every process's shards are complete).

Restoring needs the same number of processes (the run's fingerprint checks it) and loads each
process's shards in place into the live DTensors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from decoreg.atomic_files import TEMP_PREFIX, fsync_directory

SUFFIX = ".dcp"


def shard_folder(directory: Path, name: str) -> Path:
    """The shard folder of the checkpoint file `name` (step-00000042.ckpt -> .dcp)."""
    return directory / (Path(name).stem + SUFFIX)


def save_shards(
    folder: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    best_state: dict[str, Tensor] | None,
    is_main: bool,
) -> None:
    """Write this process's shards of the model, optimizer and best weights (collective)."""
    import torch.distributed.checkpoint as dcp

    temporary = folder.with_name(f"{TEMP_PREFIX}{folder.name}")
    if is_main:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    dist.barrier()
    dcp.save(_state(model, optimizer, best_state), checkpoint_id=str(temporary))
    if is_main:
        shutil.rmtree(folder, ignore_errors=True)  # a copy left by a run killed before its .ckpt
        temporary.rename(folder)
        fsync_directory(folder.parent)
    dist.barrier()


def load_shards(
    folder: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    best_state: dict[str, Tensor] | None,
) -> None:
    """Load this process's shards in place into the model, the optimizer and `best_state`
    (a template of the model's trainable state, or None when the checkpoint has none)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_state_dict

    state = _state(model, optimizer, best_state)
    dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(
        model,
        optimizer,
        model_state_dict=state["model"],
        optim_state_dict=state["optimizer"],
        options=_options(),
    )


def _state(model, optimizer, best_state) -> dict:
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model_state, optimizer_state = get_state_dict(model, optimizer, options=_options())
    state = {"model": model_state, "optimizer": optimizer_state}
    if best_state is not None:
        state["best_state"] = best_state
    return state


def _options():
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # Frozen weights (a LoRA model's base) are rebuilt from the base model, as in `.ckpt` files.
    return StateDictOptions(ignore_frozen_params=True)
