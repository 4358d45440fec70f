"""How the training loop runs an objective: in one process, under DDP, or sharded by FSDP2.

Objectives call model methods (`forward_logits`, `grid_logprobs`, ...) rather than
`model.forward`, so the engine puts the call itself behind a module: `ObjectiveStep.forward(batch)`
is `objective(model, batch)` with the model as a submodule. Wrapping that step is what lets
torch's engines see each forward pass:

- `SingleProcess`: the step as it is (no process group).
- `DataParallel`: `torch.nn.parallel.DistributedDataParallel` over the step. It starts every
  process from rank 0's parameters and buffers, and all-reduces the gradients in buckets while
  the backward pass is still running (communication overlaps computation). Gradients are
  averaged over the processes, so the loop divides each loss by the accumulated micro-batches
  only; micro-batches before the last run their forward under `no_sync()` (`sync=False`).
  `find_unused_parameters` is on because objectives use different parts of a model (a
  tabular model has three heads, a causal LM's head objectives leave the LM head alone).
  What DDP does with a parameter no process used: its `.grad` stays None, so the optimizer
  skips it as one process would; one that some processes used gets the average with zeros
  from the others. Both are what the hand-written all-reduce that DDP replaced did
  (tests/test_distributed.py checks them); no guarantee of that path was lost.
- `Sharded` (`TrainConfig.fsdp`): FSDP2 (`torch.distributed.fsdp.fully_shard`) on each of
  the model's `shard_units()` (a causal LM's decoder layers; none for the small tabular model,
  whose layers are entered through their submodules) and then on the step as the root, so the
  root's own parameters (embeddings, heads, norms) are gathered when the step runs. LoRA
  models shard the same way (FSDP2 keeps frozen and trainable parameters apart). Validation
  decodes a different number of rows and tokens on each process, which a per-layer
  all-gather could not survive, so `evaluating()` gathers the whole model once and decodes
  with plain tensors. `finish()` turns the model back into a plain module
  holding the full trained weights on every process (classes, hooks and parameters restored),
  so saving and prediction after training do not know FSDP was there.

The gradient of P processes with local batch B is the gradient of the P * B global batch in
all three: per-process losses are means over equal slices (`decoreg.data_order.BatchOrder`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from decoreg.core import Batch, Objective
from decoreg.devices import model_device
from decoreg.distributed import World
from decoreg.errors import ConfigError


class ObjectiveStep(nn.Module):
    """A module whose forward is one objective call, so DDP and FSDP hooks see it.

    Args:
        model: The regression model (a submodule: its parameters are the step's).
        objective: The loss; a plain object, not a module.
    """

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        return self.objective(self.model, batch)


class Engine:
    """Runs micro-batches for the loop; the base class is one process with no engine.

    Args:
        model: The model to train (in place).
        objective: The training loss.
    """

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        self.model = model
        self.step = ObjectiveStep(model, objective)

    def __call__(self, batch: Batch, *, sync: bool = True) -> tuple[Tensor, dict[str, float]]:
        """(loss, metrics) of one micro-batch; the caller runs the backward pass.

        Args:
            batch: The micro-batch.
            sync: Whether the backward pass of this loss synchronizes the gradients over the
                processes; False for the micro-batches before the last of an optimizer step
                (their gradients accumulate locally and travel with the last one's).
        """
        return self.step(batch)

    def evaluating(self) -> contextlib.AbstractContextManager:
        """Context in which each process may call the model on its own rows, any number of
        times (validation)."""
        return contextlib.nullcontext()

    def finish(self) -> None:
        """After the last step: leave `model` a plain module with the trained weights."""


class SingleProcess(Engine):
    """No process group: the objective runs as it is."""


class DataParallel(Engine):
    """DistributedDataParallel over the objective step (NCCL on CUDA, gloo on CPU)."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__(model, objective)
        device = model_device(model)
        self.ddp = DistributedDataParallel(
            self.step,
            device_ids=[device] if device.type == "cuda" else None,
            find_unused_parameters=True,
            gradient_as_bucket_view=True,  # no copy of each bucket back into `.grad`
        )

    def __call__(self, batch: Batch, *, sync: bool = True) -> tuple[Tensor, dict[str, float]]:
        # DDP decides in the forward pass whether the backward pass all-reduces.
        with contextlib.nullcontext() if sync else self.ddp.no_sync():
            return self.ddp(batch)


class Sharded(Engine):
    """FSDP2 on each of the model's `shard_units()`, then on the step (the root)."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        super().__init__(model, objective)
        self._plain = PlainModules(model)
        # On the model's device type: FSDP's default mesh is CUDA wherever CUDA is present.
        mesh = init_device_mesh(model_device(model).type, (dist.get_world_size(),))
        self.blocks = model.shard_units()
        for block in self.blocks:
            fully_shard(block, mesh=mesh)
        self.root = fully_shard(self.step, mesh=mesh)

    def __call__(self, batch: Batch, *, sync: bool = True) -> tuple[Tensor, dict[str, float]]:
        self.root.set_requires_gradient_sync(sync)  # read by the coming backward pass
        return self.step(batch)

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        self._gather()
        try:
            yield
        finally:  # FSDP's training defaults: blocks reshard after forward, the root keeps
            self.root.set_reshard_after_forward(True)  # its parameters for the backward pass
            self.root.set_reshard_after_forward(False, recurse=False)
            for unit in (*self.blocks, self.root):
                unit.reshard()

    def finish(self) -> None:
        self._gather()
        self._plain.restore()

    def _gather(self) -> None:
        """All-gather every parameter and keep them gathered through forward passes."""
        self.root.set_reshard_after_forward(False)  # recurses into the blocks
        for unit in (self.root, *self.blocks):
            unit.unshard()


def make_engine(model: nn.Module, objective: Objective, world: World, *, fsdp: bool) -> Engine:
    """The engine for this process's place: FSDP2 when asked, DDP with several processes."""
    check_fsdp(fsdp, world)
    if fsdp:
        return Sharded(model, objective)
    if world.is_distributed:
        return DataParallel(model, objective)
    return SingleProcess(model, objective)


def check_fsdp(fsdp: bool, world: World) -> None:
    """A ConfigError for FSDP without a process group to shard over."""
    if fsdp and not world.is_distributed:
        raise ConfigError(
            "fsdp shards the model over the processes of a torch.distributed group, and this "
            "is a single process: launch with `torchrun --nproc-per-node N -m decoreg.cli train "
            "... --fsdp` (or accelerate launch), or drop --fsdp"
        )


class PlainModules:
    """What a module tree looked like before FSDP2 changed it, to put it back.

    `fully_shard` swaps a module's class for an FSDP subclass, adds forward and state-dict
    hooks and replaces its parameters by sharded DTensors. `restore` undoes the three: each
    module gets its class and hook tables back, and each parameter becomes a plain
    `nn.Parameter` holding the full tensor FSDP has gathered (call it when gathered).
    """

    _HOOK_TABLES = (
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_forward_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_hooks_always_called",
        "_state_dict_pre_hooks",
        "_load_state_dict_pre_hooks",
    )

    def __init__(self, model: nn.Module) -> None:
        self.modules: list[tuple[nn.Module, type, dict[str, Any]]] = [
            (m, type(m), {t: dict(vars(m)[t]) for t in self._HOOK_TABLES}) for m in model.modules()
        ]

    def restore(self) -> None:
        plain: dict[int, nn.Parameter] = {}  # by the gathered tensor: tied weights stay tied
        for module, cls, hooks in self.modules:
            module.__class__ = cls
            for table, entries in hooks.items():
                vars(module)[table].clear()
                vars(module)[table].update(entries)
            for name, param in list(module._parameters.items()):
                if param is None:
                    continue
                if id(param) not in plain:  # a copy: FSDP owns the gathered buffer
                    full = param.detach().clone()
                    plain[id(param)] = nn.Parameter(full, requires_grad=param.requires_grad)
                module._parameters[name] = plain[id(param)]
