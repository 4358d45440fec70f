"""Host and device memory during training: what a run needs, and giving back what it freed.

- `check_memory_fits` compares the floor a full fine-tune needs (weights, gradients and the
  two AdamW moments of every trainable parameter, the weights of the frozen ones) with the
  memory available on the model's device, and refuses before the first step.
- `release_free_memory` hands freed heap pages back to the OS: PyTorch's CPU tensors come from
  glibc malloc, whose heaps keep the holes that activations and gradients of a step leave;
  without it the next step's differently shaped tensors land beside them and the resident
  size creeps up by a GB over a run of SmolLM2-135M (benchmarks/results/train_memory.md).
- `spill_to_disk` keeps a state dict (the best weights so far) in a memory-mapped file
  instead of the heap, so it costs page cache the OS can drop, not resident memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import tempfile

import torch
from torch import Tensor, nn

from decoreg.devices import model_device
from decoreg.errors import ConfigError

RELEASE_EVERY = 8
"""The loop releases freed heap pages every this many steps: each release costs the next step
page faults on the memory it reuses (~5% of a step when done every step), so it is amortized."""
ADAMW_BYTES_PER_ELEMENT = 3  # gradient + exp_avg + exp_avg_sq, each the weight's size
GB = 1e9


def training_floor_bytes(model: nn.Module) -> int:
    """Bytes a step cannot do without: every weight, and for the trainable ones a gradient and
    two AdamW moments of the same dtype (16 bytes a parameter in fp32). Activations come on
    top and grow with batch size x sequence length."""
    total = 0
    for p in model.parameters():
        per_element = p.element_size() * (1 + ADAMW_BYTES_PER_ELEMENT * p.requires_grad)
        total += p.numel() * per_element
    return total


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device` (CUDA: the driver's count; CPU: MemAvailable); None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def check_memory_fits(model: nn.Module, available: int | None = None) -> None:
    """A ConfigError before training when the floor (`training_floor_bytes`) exceeds the free
    memory of the model's device (`available`, or `available_bytes`)."""
    device = model_device(model)
    free = available_bytes(device) if available is None else available
    need = training_floor_bytes(model)
    if free is not None and need > free:
        raise out_of_memory_error(model, device, free)


def out_of_memory_error(model: nn.Module, device: torch.device, free: int | None) -> ConfigError:
    """The message for a model too large to train here: what it needs and what would help."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    have = "" if free is None else f", and {free / GB:.2f} GB is free"
    return ConfigError(
        f"the model does not fit in {device.type} memory: training it needs at least "
        f"{training_floor_bytes(model) / GB:.2f} GB ({trainable:,} trainable parameters with "
        f"gradients and AdamW moments, {frozen:,} frozen) plus activations{have}; use "
        "--precision bf16 (bf16 weights), LoRA (--lora-rank 16) to train adapters only, "
        "--fsdp to shard the model over several processes, or a smaller --batch-size"
    )


@functools.cache
def _malloc_trim():
    """glibc's `malloc_trim`, or None where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the C heap's free pages to the OS (glibc; nothing elsewhere)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def model_tensors(model: nn.Module) -> dict[str, Tensor]:
    """The trainable parameters and every buffer, detached but not copied (the names and
    values `decoreg.checkpoint.trainable_state` copies)."""
    tensors = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    return tensors | {n: b.detach() for n, b in model.named_buffers()}


def spill_to_disk(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Copies of the tensors read back memory-mapped from a temporary file that is already
    unlinked (the mapping keeps it alive until the tensors are freed). The tensors are
    written as they are, so pass the live weights (`model_tensors`), not a heap copy."""
    handle, path = tempfile.mkstemp(prefix="decoreg-state-", suffix=".pt")
    os.close(handle)
    try:
        torch.save(state, path)
        return torch.load(path, mmap=True, weights_only=True)
    finally:
        os.unlink(path)
