"""Where decoreg keeps converted models and fetched datasets."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "DECOREG_CACHE"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a directory under the decoreg cache.

    The cache lives in `$DECOREG_CACHE` when set, else `~/.cache/decoreg`.
    """
    root = os.environ.get(CACHE_ENV_VAR) or os.path.join(Path.home(), ".cache", "decoreg")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
