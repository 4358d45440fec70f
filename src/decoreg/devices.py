"""Device and precision policy: where the model lives, the dtype of its weights, autocast.

Everything decoreg creates follows the model: a tensor is made with `device=` the device of
the tensor or model it meets (`model_device`), so choosing the device is one decision, made
by `resolve_device` before anything is loaded. Random draws are the exception by design:
they are made on a CPU `torch.Generator` (`HOST`) and moved, so a seed gives the same samples
on every device.

The precisions (`Precision`):

| name         | weights | forward and backward              | gradient scaling |
|--------------|---------|-----------------------------------|------------------|
| `fp32`       | fp32    | fp32                              | no               |
| `bf16-mixed` | fp32    | bf16 autocast (matmuls in bf16)   | no               |
| `bf16`       | bf16    | bf16 autocast (fp32 inputs cast)  | no               |
| `fp16-mixed` | fp32    | fp16 autocast                     | `GradScaler`     |
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from decoreg.errors import ConfigError

DEVICE_CHOICES = "auto|cpu|cuda|cuda:N|mps"
PRECISIONS = ("fp32", "bf16-mixed", "bf16", "fp16-mixed")
DEFAULT_PRECISION = "bf16-mixed"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(name: str) -> torch.device:
    """The device for `name`: "auto" (CUDA when present, then MPS, then the CPU), "cpu",
    "cuda", "cuda:N" or "mps"; a ConfigError for a device this machine does not have.

    Args:
        name: The `--device` / `device=` option.
    """
    if not isinstance(name, str):
        raise ConfigError(f"device must be a string ({DEVICE_CHOICES}), got {name!r}")
    key = name.strip().lower()
    if key == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "mps":
        if not _mps_available():
            built = torch.backends.mps.is_built()
            why = "this macOS or machine does not support it" if built else "torch lacks it"
            raise ConfigError(f"device 'mps' is not available here ({why}); use cpu or auto")
        return torch.device("mps")
    match = _CUDA.fullmatch(key)
    if match is None:
        raise ConfigError(f"unknown device {name!r}; choose {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ConfigError(
            f"device {name!r}: CUDA is not available here (torch {torch.__version__}, {build}, "
            "no usable GPU); use --device cpu or auto"
        )
    index = torch.cuda.current_device() if match.group(1) is None else int(match.group(1))
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"numbered from 0"
        )
    return torch.device("cuda", index)


def _mps_available() -> bool:
    return bool(torch.backends.mps.is_available())


@dataclass(frozen=True)
class Precision:
    """How weights are stored and the forward and backward passes computed.

    Attributes:
        name: One of `PRECISIONS` (see the module's table).
    """

    name: str = DEFAULT_PRECISION

    def __post_init__(self) -> None:
        if self.name not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.name!r}")

    @classmethod
    def of(cls, precision: str | None, bf16: bool | None, default: str) -> Precision:
        """The precision of the options: `precision`, else the old `bf16` switch (True:
        "bf16-mixed", False: "fp32"), else `default`; both together are refused."""
        if precision is not None and bf16 is not None:
            raise ConfigError(
                f"precision={precision!r} and bf16={bf16!r} are refused together: bf16 is the "
                "older switch (True: 'bf16-mixed', False: 'fp32'); give precision alone"
            )
        if precision is not None:
            return cls(precision)
        if bf16 is not None:
            return cls("bf16-mixed" if bf16 else "fp32")
        return cls(default)

    @property
    def weight_dtype(self) -> torch.dtype:
        """The dtype the weights are loaded and trained in."""
        return torch.bfloat16 if self.name == "bf16" else torch.float32

    @property
    def autocast_dtype(self) -> torch.dtype:
        return torch.float16 if self.name == "fp16-mixed" else torch.bfloat16

    @property
    def uses_autocast(self) -> bool:
        return self.name != "fp32"

    def check(self, device: torch.device) -> None:
        """A ConfigError when `device` cannot compute in this precision."""
        if self.name == "fp16-mixed" and device.type == "cpu":
            raise ConfigError(
                "precision 'fp16-mixed' is refused on the CPU (fp16 autocast there is slow and "
                "needs no gradient scaler); use 'bf16-mixed' (the default) or 'fp32'"
            )
        if self.name in ("bf16", "bf16-mixed") and not _supports_bf16(device):
            raise ConfigError(
                f"precision {self.name!r}: device {device} cannot compute in bfloat16; use "
                "'fp16-mixed' or 'fp32'"
            )

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The autocast context of this precision on `device` (disabled for fp32)."""
        return torch.autocast(device.type, dtype=self.autocast_dtype, enabled=self.uses_autocast)

    def loss_scaler(self, device: torch.device) -> LossScaler:
        """A gradient scaler for fp16-mixed, else one that leaves the loss as it is."""
        if self.name == "fp16-mixed":
            return LossScaler(torch.amp.GradScaler(device.type))
        return LossScaler(None)


def _supports_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "mps":
        try:
            torch.ones(1, dtype=torch.bfloat16, device=device)
        except (RuntimeError, TypeError):
            return False
    return True


class LossScaler:
    """`torch.amp.GradScaler`'s three calls, or none of them (every precision but fp16-mixed).

    Args:
        scaler: The GradScaler, or None to scale nothing.
    """

    def __init__(self, scaler: torch.amp.GradScaler | None) -> None:
        self.scaler = scaler

    def scale(self, loss: Tensor) -> Tensor:
        return loss if self.scaler is None else self.scaler.scale(loss)

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring the gradients back to their true scale (before clipping them)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's step (skipped by the scaler when a gradient overflowed)."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()


@dataclass(frozen=True)
class Placement:
    """Where a model is built or loaded: its device and precision, checked together.

    Attributes:
        device: The resolved device.
        precision: The precision.
    """

    device: torch.device
    precision: Precision

    def __post_init__(self) -> None:
        self.precision.check(self.device)

    @classmethod
    def resolve(cls, device: str, precision: Precision) -> Placement:
        return cls(resolve_device(device), precision)

    @property
    def weight_dtype(self) -> torch.dtype:
        return self.precision.weight_dtype

    @property
    def on_cpu(self) -> bool:
        return self.device.type == "cpu"

    def place(self, model: nn.Module) -> nn.Module:
        """`model` moved to the device and the weight dtype (nothing to do on the CPU in fp32)."""
        if self.on_cpu and self.weight_dtype == torch.float32:
            return model
        return model.to(device=self.device, dtype=self.weight_dtype)


CPU_FP32 = Placement(torch.device("cpu"), Precision("fp32"))
"""How models were always built and loaded: what a caller that names no placement gets."""


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's (first) parameter: where everything it meets is made."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")  # a model without parameters computes nothing of its own


HOST = torch.device("cpu")
"""Where the float64 bookkeeping (parsed numbers, rewards, advantages) and the random draws
are made on purpose, whatever the model's device: float64 is exact and everywhere on the
CPU, and a CPU generator gives the same samples for every device."""
