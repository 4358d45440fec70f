"""Chunked, resumable prediction files: a killed run resumes without duplicating or losing rows."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from decoreg.errors import ConfigError, DataError
from decoreg.incremental import chunk_seed, progress_path, write_incrementally
from tests.conftest import save_untrained_sampler

FINGERPRINT = {"data": "rows.csv", "model": "m"}


def fake_chunk(calls: list | None = None):
    """Rows start..stop-1 with a seeded random 'prediction' and awkward text (quotes, newlines,
    commas, non-ASCII), as the real decoder output can be."""

    def predict(start: int, stop: int, seed: int) -> pd.DataFrame:
        if calls is not None:
            calls.append((start, stop))
        rng = np.random.default_rng(seed)
        rows = np.arange(start, stop)
        return pd.DataFrame(
            {
                "row": rows,
                "prediction": rng.normal(size=len(rows)),
                "parsed": rows % 7 != 3,
                "text": [f'"{r}",\n é {"x" * (r % 4)}' for r in rows],
            }
        )

    return predict


def write(output, n=103, chunk_rows=10, resume=False, fingerprint=FINGERPRINT, calls=None):
    return write_incrementally(
        output,
        n,
        fake_chunk(calls),
        chunk_rows=chunk_rows,
        resume=resume,
        fingerprint=fingerprint,
        seed=3,
    )


def test_chunked_file_reads_back_as_every_row_once(tmp_path):
    out = tmp_path / "p.csv"
    summary = write(out)
    frame = pd.read_csv(out)
    assert frame["row"].tolist() == list(range(103))
    assert frame["text"][5] == '"5",\n é x'
    assert summary.rows == 103 and summary.predicted == 103 and summary.resumed_from == 0
    assert not progress_path(out).exists()


@pytest.mark.parametrize("cut", [0, 1, 57, 200])
def test_a_half_written_chunk_is_dropped_and_redone(tmp_path, cut):
    """Stop after 4 chunks (40 rows), then append the first `cut` bytes of the next chunk, as
    a kill in the middle of a write leaves it: resuming gives the uninterrupted file's bytes."""
    expected = tmp_path / "expected.csv"
    write(expected)
    out = tmp_path / "p.csv"
    write(out, n=40)  # the same first 4 chunks; then pretend the run went on...
    record = {"rows": 40, "bytes": out.stat().st_size, "fingerprint": None}
    full = expected.read_bytes()
    with open(out, "ab") as file:
        file.write(full[record["bytes"] : record["bytes"] + cut])
    fingerprint = {**FINGERPRINT, "chunk_rows": 10, "seed": 3}
    progress_path(out).write_text(json.dumps({**record, "fingerprint": fingerprint}))
    calls = []
    summary = write(out, resume=True, calls=calls)
    assert out.read_bytes() == full
    assert calls[0] == (40, 50) and summary.resumed_from == 40 and summary.predicted == 63


def test_resuming_a_finished_file_predicts_nothing(tmp_path):
    out = tmp_path / "p.csv"
    write(out)
    calls = []
    summary = write(out, resume=True, calls=calls)
    assert calls == [] and summary.predicted == 0


def test_resume_refuses_other_inputs_or_options(tmp_path):
    out = tmp_path / "p.csv"
    write(out, n=20)
    progress_path(out).write_text(
        json.dumps({"rows": 20, "bytes": out.stat().st_size, "fingerprint": {"other": 1}})
    )
    with pytest.raises(ConfigError, match=r"other inputs or options.*'data'"):
        write(out, resume=True)


def test_resume_refuses_a_file_whose_rows_are_not_0_to_k(tmp_path):
    out = tmp_path / "p.csv"
    write(out)
    frame = pd.read_csv(out)
    frame.loc[12, "row"] = 11  # a duplicated row id
    frame.to_csv(out, index=False)
    with pytest.raises(DataError, match=r"expected row ids 0\.\.102, found 103 rows"):
        write(out, resume=True)
    frame.iloc[:50].to_csv(out, index=False)  # a file cut short, with no progress record
    with pytest.raises(DataError, match="found 50 rows"):
        write(out, resume=True)


def test_chunk_seeds_depend_only_on_the_seed_and_the_chunk():
    assert chunk_seed(0, 3) == chunk_seed(0, 3)
    assert len({chunk_seed(s, c) for s in range(5) for c in range(5)}) == 25


# ----------------------------------------------------------- SIGKILL during `decoreg predict`
def test_sigkill_during_predict_then_resume_writes_every_row_once(tiny_model_dir, tmp_path):
    """A sampling decoder (random) over 600 rows in chunks of 25, killed at a random point
    after a random chunk: the resumed file is byte-identical to an uninterrupted run's."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kill_after = rng.randrange(25, 450, 25)
    delay = rng.uniform(0.0, 0.05)
    note = f"seed {seed}: kill after row {kill_after} + {delay:.3f}s"
    texts = [f"row {i}: {'good' if i % 3 else 'bad'} {'!' * (i % 9)}" for i in range(600)]
    save_untrained_sampler(tiny_model_dir, tmp_path / "model", texts)
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}

    def command(out: Path, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "decoreg.cli", "predict", str(tmp_path / "model"), str(data),
            "--output", str(out), "--chunk-rows", "25", *extra,
        ]  # fmt: skip

    expected, out = tmp_path / "expected.csv", tmp_path / "killed.csv"
    subprocess.run(command(expected), env=env, check=True, capture_output=True)
    victim = subprocess.Popen(
        command(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while _rows_done(out) < kill_after:
        assert victim.poll() is None, f"{note}: prediction ended before the kill"
        assert time.monotonic() < deadline, note
        time.sleep(0.002)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, note
    done = subprocess.run(command(out, "--resume"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kept from before" in done.stdout, note
    assert out.read_bytes() == expected.read_bytes(), note
    assert pd.read_csv(out)["row"].tolist() == list(range(600))


def _rows_done(output: Path) -> int:
    try:
        return json.loads(progress_path(output).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return 0
