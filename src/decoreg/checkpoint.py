"""Kill-safe training checkpoints: everything needed to continue a run bit for bit.

A checkpoint file `step-00000042.ckpt` holds the trainable weights (and buffers), the
optimizer and learning-rate scheduler states, every process's torch RNG state and objective
state (for objectives with their own generator), the loop's record (logs, evaluations,
early-stopping counters, best weights so far) and a fingerprint of the run. The data position
needs no state: the batch order is a pure function of (seed, epoch, step)
(`decoreg.data_order`).

Under FSDP (`sharded=True`) the weights, optimizer state and best weights are sharded and go to
a `step-00000042.dcp` folder next to the file instead (`decoreg.sharded_checkpoint`).

Files are written by rank 0 through `decoreg.atomic_files.atomic_write` (temporary file,
fsync, rename), so a run killed at any instant leaves either the previous checkpoint or the
new one, never a torn file; the two newest are kept. They are read with
`torch.load(..., weights_only=True)`, which refuses anything but tensors and plain values.
Every process reads the file itself, so on several machines the folder must be on storage they
all see.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from decoreg.atomic_files import atomic_write, fsync_directory, remove_stale_temporaries
from decoreg.core import Objective
from decoreg.distributed import World, broadcast_int, gather_objects
from decoreg.errors import ConfigError
from decoreg.sharded_checkpoint import load_shards, save_shards, shard_folder

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_NAME = re.compile(r"^step-(\d{8})\.ckpt$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}.ckpt"


def trainable_state(model: nn.Module) -> dict[str, Tensor]:
    """Copies of the parameters that train (requires_grad) and of every buffer.

    Frozen weights (a LoRA model's base) are left out: a resumed run rebuilds them from the
    same base model.
    """
    state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    state.update({n: b.detach().clone() for n, b in model.named_buffers()})
    return state


def load_trainable_state(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy `trainable_state` values back in place; a ConfigError when names or shapes differ."""
    current = dict(model.named_parameters())
    current.update(dict(model.named_buffers()))
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    expected |= {n for n, _ in model.named_buffers()}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ConfigError(
            "the checkpoint's weights do not match this model "
            f"(missing: {missing[:5]}, unexpected: {extra[:5]}); was it written by a run with "
            "another model or LoRA setting?"
        )
    with torch.no_grad():
        for name, value in state.items():
            target = current[name]
            if target.shape != value.shape:
                raise ConfigError(
                    f"the checkpoint's {name} has shape {tuple(value.shape)}, the model's is "
                    f"{tuple(target.shape)}"
                )
            target.copy_(value)


@dataclass
class Checkpointer:
    """Writes and restores the checkpoints of one run in `directory`.

    Attributes:
        directory: The run's checkpoint folder (created on first save).
        world: The data-parallel processes; only rank 0 writes (the `.ckpt` files).
        keep: How many of the newest checkpoints to keep.
        sharded: The model is sharded by FSDP: weights and optimizer state go through
            `torch.distributed.checkpoint`, each process writing its shards.
    """

    directory: Path
    world: World
    keep: int = 2
    sharded: bool = False

    def save(
        self,
        step: int,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler,
        objective: Objective,
        record: dict,
        best_state: dict[str, Tensor] | None,
        fingerprint: dict,
    ) -> Path | None:
        """Write the checkpoint after `step` (collective: every process must call it)."""
        rank_states = gather_objects(_rank_state(objective), self.world)
        if self.world.is_main:
            self.directory.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.directory)
        if self.sharded:  # every process writes its shards before rank 0 commits the step
            folder = shard_folder(self.directory, checkpoint_name(step))
            save_shards(
                folder, model=model, optimizer=optimizer, best_state=best_state,
                is_main=self.world.is_main,
            )  # fmt: skip
        if not self.world.is_main:
            return None
        payload = {
            "format_version": FORMAT_VERSION,
            "step": step,
            "fingerprint_json": json.dumps(fingerprint, sort_keys=True),
            "record_json": json.dumps(record),
            "model": None if self.sharded else trainable_state(model),
            "optimizer": None if self.sharded else optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rank_states": rank_states,
            "best_state": None if self.sharded else best_state,
            "has_best_state": best_state is not None,
        }
        path = atomic_write(
            self.directory / checkpoint_name(step), lambda f: torch.save(payload, f)
        )
        for old in self.steps()[: -self.keep]:
            self._remove(old)
        fsync_directory(self.directory)
        return path

    def remove_all(self) -> None:
        """Delete every checkpoint of the folder (and the folder, once empty)."""
        for step in self.steps():
            self._remove(step)
        if self.directory.is_dir():
            remove_stale_temporaries(self.directory)
            if not any(self.directory.iterdir()):
                self.directory.rmdir()

    def _remove(self, step: int) -> None:
        """The `.ckpt` file first: a shard folder without one is never read."""
        (self.directory / checkpoint_name(step)).unlink(missing_ok=True)
        shutil.rmtree(shard_folder(self.directory, checkpoint_name(step)), ignore_errors=True)

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints in the folder, oldest first."""
        if not self.directory.is_dir():
            return []
        found = (_NAME.match(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def restore(
        self, *, model: nn.Module, optimizer, scheduler, objective: Objective, fingerprint: dict
    ) -> tuple[int, dict, dict[str, Tensor] | None] | None:
        """Load the newest checkpoint into the live objects (collective).

        Returns (step, record, best_state), or None when there is no checkpoint to resume.
        """
        steps = self.steps()
        step = broadcast_int(steps[-1] if steps else 0, self.world)
        if step == 0:
            logger.warning("no checkpoint in %s; starting from step 1", self.directory)
            return None
        path = self.directory / checkpoint_name(step)
        if not path.is_file():
            raise ConfigError(
                f"rank {self.world.rank} cannot see {path}: on several machines the checkpoint "
                "folder must be on storage every process can read"
            )
        payload = torch.load(path, map_location="cpu", weights_only=True)
        _check_fingerprint(json.loads(payload["fingerprint_json"]), fingerprint, path)
        best_state = payload["best_state"]
        if self.sharded:
            best_state = trainable_state(model) if payload["has_best_state"] else None
            load_shards(
                shard_folder(self.directory, path.name),
                model=model, optimizer=optimizer, best_state=best_state,
            )  # fmt: skip
        else:
            load_trainable_state(model, payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        rank_state = payload["rank_states"][self.world.rank]
        torch.set_rng_state(rank_state["torch_rng"])
        saved = rank_state["objective"]  # None: written before every objective had a state
        objective.load_state_dict({} if saved is None else saved)
        logger.info("resumed from %s", path)
        return step, json.loads(payload["record_json"]), best_state


def _rank_state(objective: Objective) -> dict:
    """What differs between processes: the torch RNG and an objective's own state."""
    return {"torch_rng": torch.get_rng_state(), "objective": objective.state_dict()}


def _check_fingerprint(saved: dict, current: dict, path: Path) -> None:
    saved = _flatten(saved)
    current = _flatten(json.loads(json.dumps(current)))  # tuples -> lists, like `saved`
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    ]
    if differences:
        raise ConfigError(
            f"cannot resume from {path}: the run differs from the one that wrote it "
            f"({'; '.join(differences)}); use the same options or another checkpoint folder"
        )


def _flatten(values: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}, so a difference names the option itself."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
