"""The result folder's JSONL files: rows appended durably, read back past a torn last line.

``results.jsonl`` holds one row per cell run and ``runs.jsonl`` one row per invocation; the
newest row of a cell key wins, which is what resuming and reporting both rely on.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
RUNS_FILE = "runs.jsonl"
PREDICTIONS_DIR = "predictions"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a line cut short by a crash is skipped with a warning."""
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("%s:%d is not valid JSON; skipped", path, number)
    return rows


def latest_rows(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest row of each cell key."""
    return {row["key"]: row for row in rows}


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append `row` as one JSON line and fsync it, so a kill leaves at most a torn last line."""
    with open(path, "a") as handle:
        handle.write(json.dumps(row, default=_json_default) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def now() -> str:
    """The current UTC time as recorded in rows (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | tuple):
        return list(value)
    return str(value)
