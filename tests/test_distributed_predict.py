"""Prediction under torchrun: rows split across 2 gloo processes, one file in row order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from decoreg.distributed import World
from decoreg.estimator import DecodingRegressor
from decoreg.incremental import predict_file, progress_path
from decoreg.inference import predict_prepared
from tests.conftest import save_untrained_sampler
from tests.distributed_helpers import free_port, run_in_processes

TEXTS = [f"row {i}: {'good' if i % 3 else 'bad'} {'!' * (i % 9)}" for i in range(160)]


@pytest.fixture
def saved_model(tiny_model_dir, tmp_path) -> Path:
    """A sampling decoder (random draws) over an untrained tiny model, saved."""
    return save_untrained_sampler(tiny_model_dir, tmp_path / "model", TEXTS)


def _predict_worker(model_dir: str, out_file: str) -> None:
    est = DecodingRegressor.load(model_dir)
    prepared = est.model_.prepare_inputs(TEXTS[:37])
    plan = est.plan()
    split = predict_prepared(est.model_, plan.decoder, prepared, seed=5, world=World.current())
    if World.current().is_main:
        whole = predict_prepared(est.model_, plan.decoder, prepared, seed=5)
        record = {
            "split": split.values.tolist(),
            "whole": whole.values.tolist(),
            "split_texts": split.texts,
            "whole_texts": whole.texts,
        }
        Path(out_file).write_text(json.dumps(record))


def test_predict_prepared_split_over_two_processes_equals_one(saved_model, tmp_path):
    """37 rows (an odd count: rank 0 decodes 19, rank 1 18) with a sampling decoder: the
    gathered predictions are those of one process, row for row, texts included."""
    out = tmp_path / "split.json"
    run_in_processes(_predict_worker, 2, str(saved_model), str(out))
    record = json.loads(out.read_text())
    assert len(record["split"]) == 37
    assert record["split"] == record["whole"]
    assert record["split_texts"] == record["whole_texts"]


def _env() -> dict:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src}


def _launch(*args: str) -> list[str]:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    return [*torchrun, "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *args]


def test_torchrun_predict_is_one_file_byte_identical_after_a_kill(
    saved_model, tmp_path, one_thread
):
    """`torchrun --nproc-per-node 2 -m decoreg.cli predict` writes the bytes one process
    writes; killed (launcher and both workers, SIGKILL) after some chunks and resumed under
    torchrun again, the file is still byte-identical."""
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(data, index=False)

    def command(out: Path, *extra: str) -> list[str]:
        return [
            "-m", "decoreg.cli", "predict", str(saved_model), str(data), "--output", str(out),
            "--chunk-rows", "10", *extra,
        ]  # fmt: skip

    single, pair, killed = (tmp_path / f"{name}.csv" for name in ("single", "pair", "killed"))
    estimator = DecodingRegressor.load(saved_model)  # in this process, as `decoreg predict`
    predict_file(estimator, pd.read_csv(data), single, data_path=data, model_dir=saved_model,
                 chunk_rows=10, resume=False)  # fmt: skip
    done = subprocess.run(_launch(*command(pair)), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("wrote 160 predictions") == 1  # rank 0 alone reports
    assert pair.read_bytes() == single.read_bytes()

    victim = subprocess.Popen(
        _launch(*command(killed)), env=_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while _rows_done(killed) < 40:
        assert victim.poll() is None, "prediction ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    workers = Path(f"/proc/{victim.pid}/task/{victim.pid}/children").read_text().split()
    for pid in workers:  # the workers run in sessions of their own: kill each
        os.kill(int(pid), signal.SIGKILL)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert _rows_done(killed) < 160
    done = subprocess.run(
        _launch(*command(killed, "--resume")), env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "kept from before" in done.stdout
    assert killed.read_bytes() == single.read_bytes()


def test_torchrun_evaluate_reports_the_metrics_of_one_process(saved_model, tmp_path, one_thread):
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": TEXTS[:50], "y": np.arange(50) % 5 + 1.0}).to_csv(data, index=False)
    command = ["-m", "decoreg.cli", "evaluate", str(saved_model), str(data)]
    command += ["--target-column", "y", "--json"]
    two = subprocess.run(_launch(*command), env=_env(), capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    frame = pd.read_csv(data)
    one = DecodingRegressor.load(saved_model).evaluate(frame, frame["y"], source=str(data))
    assert json.loads(two.stdout) == pytest.approx(one, rel=1e-12)  # printed once, by rank 0


def _rows_done(output: Path) -> int:
    try:
        return json.loads(progress_path(output).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return 0
