"""Which row of which file a frame's row came from, so that errors name it as the file counts.

`decoreg.data.read_table` tags each frame it reads with its `RowSource` in ``frame.attrs``
(pandas carries attrs through selections, ``iloc`` and ``reset_index``, and writes them into
Parquet metadata, so the tag is plain JSON: the path, and the data rows as one string, which
pandas copies in O(1)). A row's index label is its 0-based data row in the file; code that
renumbers rows calls `reset_rows`, which keeps the mapping. Errors then say "train.csv,
line 10" for CSV, TSV and JSONL files (the line an editor shows, the header being line 1;
quoted line breaks are counted) and "data.parquet, row 9" for Parquet. The file is scanned
for line numbers only when an error is raised.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROWS_ATTR = "decoreg_rows"
_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_LINE_FORMATS = (".csv", ".tsv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class RowSource:
    """A file and, for a frame whose rows are a selection of it, each label's data row.

    Attributes:
        path: The file.
        data_rows: [N] the file's 0-based data row of each index label 0..N-1; None when the
            labels are the data rows themselves.
    """

    path: str
    data_rows: np.ndarray | None = field(default=None, compare=False)

    def data_row(self, label: int) -> int:
        return int(label if self.data_rows is None else self.data_rows[label])

    def describe(self, label: int) -> str:
        """``"<file>, line L"`` (text formats) or ``"<file>, row R"`` (1-based) of a label."""
        row = self.data_row(label)
        suffix = Path(self.path).suffix.lower()
        if suffix in _LINE_FORMATS:
            line = _line_of(Path(self.path), row, _DELIMITERS.get(suffix))
            if line is not None:
                return f"{self.path}, line {line}"
        return f"{self.path}, row {row + 1}"

    def subset(self, labels: np.ndarray) -> RowSource:
        """The source of a frame whose label i was label ``labels[i]`` of this one."""
        labels = np.asarray(labels, dtype=np.int64)
        rows = labels if self.data_rows is None else self.data_rows[labels]
        identity = np.array_equal(rows, np.arange(len(rows)))
        return RowSource(self.path, None if identity else rows)

    def to_attr(self) -> dict[str, str | None]:
        rows = None if self.data_rows is None else ",".join(map(str, self.data_rows.tolist()))
        return {"path": self.path, "rows": rows}

    @classmethod
    def from_attr(cls, value: object) -> RowSource | None:
        if not isinstance(value, dict) or not isinstance(value.get("path"), str):
            return None
        rows = value.get("rows")
        data_rows = None if not rows else np.array(rows.split(","), dtype=np.int64)
        return cls(value["path"], data_rows)


def tag_rows(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Mark `frame` (read from `path`, one row per data row, in order) with its source."""
    frame.attrs[ROWS_ATTR] = RowSource(str(path)).to_attr()
    return frame


def row_source(frame: pd.DataFrame) -> RowSource | None:
    """The file `frame`'s rows come from, if it was read by `decoreg.data.read_table`."""
    return RowSource.from_attr(frame.attrs.get(ROWS_ATTR))


def describe_row(frame: pd.DataFrame, position: int, source: str | None = None) -> str:
    """Where the row at `position` of `frame` is: its file and line when the frame is tagged,
    else ``"<source>, row N"`` (1-based), else its position and index label."""
    label = frame.index[position]
    tag = row_source(frame)
    if tag is not None and isinstance(label, int | np.integer):
        return tag.describe(int(label))
    if source is not None:
        return f"{source}, row {position + 1}"
    if isinstance(label, np.generic):
        label = label.item()
    return f"row {position} (index label {label!r})"


def reset_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.reset_index(drop=True)`` that keeps a tagged frame's rows traceable."""
    tag = row_source(frame)
    out = frame.reset_index(drop=True)
    if tag is not None:
        labels = frame.index
        if pd.api.types.is_integer_dtype(labels.dtype):
            out.attrs[ROWS_ATTR] = tag.subset(labels.to_numpy()).to_attr()
        else:  # labels set by the caller: the mapping is gone
            del out.attrs[ROWS_ATTR]
    return out


def _line_of(path: Path, data_row: int, delimiter: str | None) -> int | None:
    """The 1-based line where data row `data_row` starts (blank lines skipped, as pandas
    does); None if the file has changed or cannot be read."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            if delimiter is None:  # JSON lines: one record per non-blank line
                records = (n for n, text in enumerate(handle, 1) if text.strip())
                return next((line for i, line in enumerate(records) if i == data_row), None)
            reader = csv.reader(handle, delimiter=delimiter)
            end, seen = 0, -2  # -2: the header comes first
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record:
                    continue
                seen += 1
                if seen == data_row:
                    return start
    except OSError:
        return None
    return None
