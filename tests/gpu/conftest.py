"""The `gpu` tier: the device it compares with the CPU, and helpers to compare."""

from __future__ import annotations

import pytest
import torch

from decoreg.devices import resolve_device
from tests.conftest import gpu_tier_device_name

# Normwise relative tolerance per precision: fp32 differs only in summation order; bf16
# rounds every matmul input to 8 bits of mantissa (2^-8 ~ 0.4%), compounded over two layers.
TOLERANCE = {"fp32": 1e-4, "bf16-mixed": 3e-2}


@pytest.fixture
def other_device() -> torch.device:
    return resolve_device(gpu_tier_device_name())


def assert_close_normwise(actual: torch.Tensor, expected: torch.Tensor, tolerance: float, what):
    """||actual - expected|| <= tolerance * ||expected|| (plus a floor for all-zero tensors)."""
    actual, expected = actual.detach().float().cpu(), expected.detach().float().cpu()
    assert actual.shape == expected.shape, what
    error = float((actual - expected).norm())
    scale = float(expected.norm())
    assert error <= tolerance * scale + 1e-7, f"{what}: |diff| {error:.3g} vs |ref| {scale:.3g}"
