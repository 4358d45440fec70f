"""Predictions over a large file, written chunk by chunk, resumable after a kill.

Rows are predicted in chunks of `chunk_rows`. Each chunk's CSV lines are appended to the output
and fsynced, then a small progress record next to it (`OUTPUT.progress.json`, written
atomically) is advanced to the new row count and byte size. A run killed at any instant leaves
a record that describes a prefix of complete chunks; `resume` cuts the output back to that
prefix (dropping a half-written chunk), checks that its row ids are exactly 0..k-1, and carries
on from row k. Each chunk draws its random numbers from (seed, chunk index), so a resumed run
writes the same bytes as an uninterrupted one. The record is deleted when the file is complete.

`write_incrementally` does this for any chunk function; `predict_file` runs a fitted estimator
over a table with it (what `decoreg predict` does).

Under `torchrun` every process runs the same loop: each chunk's rows are split across the
processes (`decoreg.inference.predict_prepared`), and rank 0 alone reads the progress record,
appends the chunk and advances the record, so there is one output file in row order, and its
bytes do not depend on where a kill landed. A resume must use the same number of processes only
as far as the numbers do: each row's prediction depends on its chunk's seed and the row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from decoreg.atomic_files import atomic_write_text, fsync_directory
from decoreg.distributed import World, run_on_main
from decoreg.errors import ConfigError, DataError
from decoreg.estimator import META_FILE
from decoreg.inference import take_rows

logger = logging.getLogger(__name__)

PROGRESS_SUFFIX = ".progress.json"
ROW_COLUMN = "row"


@dataclass(frozen=True)
class IncrementalSummary:
    """What a run did: rows in the finished file, rows predicted now, rows kept from before."""

    rows: int
    predicted: int
    resumed_from: int


@dataclass(frozen=True)
class PredictionFile:
    """What `predict_file` wrote: the run's summary and how many rows did not parse."""

    summary: IncrementalSummary
    unparseable: int


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + PROGRESS_SUFFIX)


def chunk_seed(seed: int, chunk_index: int) -> int:
    """A seed for one chunk that depends only on the run's seed and the chunk's index."""
    return int(np.random.SeedSequence([seed, chunk_index]).generate_state(1)[0])


def write_incrementally(
    output: str | Path,
    n_rows: int,
    predict_chunk: Callable[[int, int, int], pd.DataFrame],
    *,
    chunk_rows: int,
    resume: bool,
    fingerprint: dict,
    seed: int,
) -> IncrementalSummary:
    """Write `predict_chunk(start, stop, seed)` frames for rows 0..n_rows-1 to a CSV file.

    Args:
        output: The CSV file to write.
        n_rows: Rows in the input.
        predict_chunk: Returns the frame of rows start..stop-1; its first column is `row`,
            holding start..stop-1.
        chunk_rows: Rows per chunk (the unit of progress).
        resume: Continue a killed run's file instead of starting again.
        fingerprint: What must be the same for a resume (input digest, model, options).
        seed: The run's seed; chunk k uses `chunk_seed(seed, k)`.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
    output = Path(output)
    record_path = progress_path(output)
    fingerprint = json.loads(json.dumps({**fingerprint, "chunk_rows": chunk_rows, "seed": seed}))
    world = World.current()

    def first_row() -> int:  # rank 0's file work before the first chunk
        output.parent.mkdir(parents=True, exist_ok=True)
        start = _resume_point(output, record_path, n_rows, fingerprint) if resume else None
        if start is None:
            _write_record(record_path, fingerprint, rows=0, size=0)  # before emptying the output
            output.write_bytes(b"")
            start = 0
        return start

    start = resumed_from = run_on_main(first_row, world)
    while start < n_rows:
        stop = min(start + chunk_rows, n_rows)
        frame = predict_chunk(start, stop, chunk_seed(seed, start // chunk_rows))  # collective
        if world.is_main:
            _append_chunk(output, record_path, fingerprint, frame, start, stop)
        start = stop
    if world.is_main:
        record_path.unlink(missing_ok=True)
        fsync_directory(output.parent)
    return IncrementalSummary(
        rows=n_rows, predicted=n_rows - resumed_from, resumed_from=resumed_from
    )


def _append_chunk(
    output: Path, record_path: Path, fingerprint: dict, frame: pd.DataFrame, start: int, stop: int
) -> None:
    """Append rows start..stop-1 to the output, make them durable, then advance the record."""
    _check_rows(frame, start, stop)
    data = frame.to_csv(
        index=False, header=start == 0, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    ).encode("utf-8")  # every text quoted: a bare '\r' in model output would split a row
    with open(output, "ab") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    _write_record(record_path, fingerprint, rows=stop, size=output.stat().st_size)


def _resume_point(output: Path, record_path: Path, n_rows: int, fingerprint: dict) -> int | None:
    """The first row still to predict, or None when there is nothing to resume."""
    if not record_path.is_file():
        if not output.exists():
            logger.warning("nothing to resume at %s; starting from row 0", output)
            return None
        _check_row_ids(output, n_rows, complete=True)
        return n_rows  # a finished file: nothing left to do
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        rows, size, saved = int(record["rows"]), int(record["bytes"]), record["fingerprint"]
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{record_path}: unreadable progress record ({error!r})") from None
    if saved != fingerprint:
        differences = sorted(
            k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k)
        )
        raise ConfigError(
            f"cannot resume {output}: it was written with other inputs or options "
            f"(different: {differences}); run without --resume to start again"
        )
    if not output.is_file() or output.stat().st_size < size:
        raise DataError(f"{output} is shorter than its progress record says; cannot resume")
    with open(output, "r+b") as file:
        file.truncate(size)  # drop a chunk a kill left half-written
    if rows:
        _check_row_ids(output, rows, complete=False)
    return rows


def _check_row_ids(output: Path, rows: int, *, complete: bool) -> None:
    try:
        ids = pd.read_csv(output, usecols=[ROW_COLUMN])[ROW_COLUMN].to_numpy()
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{output} cannot be read back to resume: {error}") from None
    if len(ids) != rows or not np.array_equal(ids, np.arange(rows)):
        what = "a complete prediction file" if complete else "the rows its progress record says"
        raise DataError(
            f"{output} is not {what}: expected row ids 0..{rows - 1}, found {len(ids)} rows; "
            "run without --resume to start again"
        )


def _check_rows(frame: pd.DataFrame, start: int, stop: int) -> None:
    if frame.columns[0] != ROW_COLUMN or not np.array_equal(
        frame[ROW_COLUMN].to_numpy(), np.arange(start, stop)
    ):
        raise ValueError(f"predict_chunk must return rows {start}..{stop - 1} in a 'row' column")


def _write_record(path: Path, fingerprint: dict, *, rows: int, size: int) -> None:
    record = {"rows": rows, "bytes": size, "fingerprint": fingerprint}
    atomic_write_text(path, json.dumps(record, indent=1))


# ------------------------------------------------------------------- an estimator's file
def predict_file(
    estimator,
    frame: pd.DataFrame,
    output: str | Path,
    *,
    data_path: str | Path,
    model_dir: str | Path,
    quantiles: list[float] | None = None,
    interval: float | None = None,
    chunk_rows: int,
    resume: bool,
) -> PredictionFile:
    """Predict every row of `frame` into the CSV `output` chunk by chunk (resumable).

    The file has the columns ``row, prediction, parsed, text`` and, for each level of
    `quantiles`, ``q<level>``, and for a conformal `interval` ``lower<coverage>`` and
    ``upper<coverage>`` (`DecodingRegressor.predict_interval`). A resume must see the same
    inputs (by digest), model folder, decoder, decoding options, quantiles, interval (and
    calibration rows), chunk size and seed as the run it continues.

    Args:
        estimator: A fitted `DecodingRegressor`.
        frame: The rows to predict, as read from `data_path`.
        output: The CSV file to write.
        data_path: Where `frame` was read from (named in errors; part of the fingerprint).
        model_dir: The folder `estimator` was loaded from.
        quantiles: Levels in (0, 1) of each prediction's distribution to write too.
        interval: The coverage of a conformal interval to write too, calibrated on the
            estimator's calibration rows.
        chunk_rows: Rows predicted and appended at a time.
        resume: Continue a killed run's output instead of starting again.

    Raises:
        ConfigError: If `resume` meets a file written with other inputs or options.
        DataError: If the file to resume is damaged beyond its progress record.
    """
    source = str(data_path)
    inputs = estimator.input_texts(frame, source=source)  # texts, or feature rows (tabular)

    def predict_chunk(start: int, stop: int, seed: int) -> pd.DataFrame:
        details = estimator.predict_texts(take_rows(inputs, np.arange(start, stop)), seed=seed)
        out = pd.DataFrame(
            {
                ROW_COLUMN: np.arange(start, stop),
                "prediction": details.values,
                "parsed": details.parsed,
                "text": details.texts,
            }
        )
        if quantiles:
            bounds = estimator.predict_quantiles(frame.iloc[start:stop], quantiles=quantiles)
            for column, level in enumerate(quantiles):
                out[f"q{level:g}"] = bounds[:, column]
        if interval is not None:
            lower_upper = estimator.predict_interval(frame.iloc[start:stop], coverage=interval)
            out[f"lower{interval:g}"], out[f"upper{interval:g}"] = lower_upper.T
        return out

    fingerprint = {
        "data": str(Path(data_path).resolve()),
        "inputs_sha256": _digest(inputs),
        "model_dir": str(Path(model_dir).resolve()),
        "model_meta_sha256": _file_digest(Path(model_dir) / META_FILE),
        "decoder": estimator.decoder_name(),
        "decode": estimator.decode_config().to_dict(),
        "quantiles": list(quantiles or []),
    }
    if interval is not None:  # the interval depends on the calibration rows too
        fingerprint["interval"] = interval
        rows = estimator.calibration_  # None: predict_interval says what to do
        fingerprint["calibration_sha256"] = None if rows is None else _digest(rows.inputs)
    summary = write_incrementally(
        output,
        len(inputs),
        predict_chunk,
        chunk_rows=chunk_rows,
        resume=resume,
        fingerprint=fingerprint,
        seed=estimator.random_state,
    )

    def unparseable() -> int:
        return int((~pd.read_csv(output, usecols=["parsed"])["parsed"].astype(bool)).sum())

    return PredictionFile(summary, unparseable=run_on_main(unparseable, World.current()))


def _digest(inputs) -> str:
    """SHA-256 of the model inputs: a list of texts or a frame of feature rows."""
    digest = hashlib.sha256()
    if isinstance(inputs, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(inputs, index=False).to_numpy().tobytes())
        return digest.hexdigest()
    for text in inputs:
        digest.update(str(text).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
