"""The machine a suite runs on: peak and resident memory, versions, and a shared CPU lock."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import os
import platform
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_PACKAGES = ("decoreg", "torch", "transformers", "numpy", "pandas", "scikit-learn")


def reset_peak_memory() -> bool:
    """Reset the process's peak resident set size (Linux); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status ("VmHWM", "VmRSS") in MiB; None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MiB since the last reset (or since start)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_memory_mb() -> float | None:
    """Resident memory of this process now, in MiB (None where /proc is missing)."""
    return _status_mb("VmRSS")


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every row."""
    import torch

    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
    }


@contextlib.contextmanager
def cpu_lock(path: str | Path | None) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (if given) while running heavy work."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
