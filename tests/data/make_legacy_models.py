"""Writes tests/data/legacy_v0_1/: model folders saved by decoreg 0.1.0 before the layout change.

Run once, with that version checked out (commit 41455a8), from the project root:
    python tests/data/make_legacy_models.py
Each folder sits beside `expected.json`, the predictions it made when it was saved, so that
tests/estimator/test_legacy_models.py can check that today's code loads it and predicts the same.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from decoreg.estimator import DecodingRegressor  # noqa: E402
from tests.conftest import char_tokenizer, tiny_llama  # noqa: E402

OUT = ROOT / "tests" / "data" / "legacy_v0_1"
TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(12)]
TARGETS = [float(2 + 2 * (i % 2)) for i in range(12)]
FRAME = pd.DataFrame({"a": np.linspace(0, 1, 40), "b": np.cos(np.arange(40)), "c": ["x", "y"] * 20})
Y = 3 * FRAME["a"].to_numpy() + FRAME["b"].to_numpy() + (FRAME["c"] == "x")


def main() -> None:
    torch.set_num_threads(1)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    base = OUT / "tiny-llama"
    tok = char_tokenizer()
    tiny_llama(len(tok)).save_pretrained(base, safe_serialization=True)
    tok.save_pretrained(base)
    common = dict(
        model=str(base),
        template="Q: {text}\nA: ",
        max_steps=40,
        batch_size=4,
        learning_rate=1e-2,
        eval_every=0,
        validation_fraction=0.0,
        bf16=False,
        verbose=False,
    )
    causal = {
        "raft-grid-mean": dict(objective="raft", decoder="grid-mean"),
        "ce-greedy": dict(objective="ce", decoder="greedy"),
        "head-token": dict(objective="head", head="token"),
        "raft-lora": dict(objective="raft", decoder="grid-mean", lora_rank=2),
    }
    expected = {}
    for name, params in causal.items():
        est = DecodingRegressor(**common, **params).fit(TEXTS, TARGETS)
        est.save(OUT / name)
        expected[name] = {"kind": "texts", "predictions": est.predict(TEXTS).tolist()}
    tabular = DecodingRegressor(
        family="tabular",
        objective="ce",
        decoder="greedy",
        max_steps=150,
        verbose=False,
        tabular_options={"d_model": 16, "ff_size": 32, "layers": 1, "encoder_layers": 1},
    )
    tabular.fit(FRAME, Y)
    tabular.save(OUT / "tabular-ce-greedy")
    expected["tabular-ce-greedy"] = {
        "kind": "frame",
        "predictions": tabular.predict(FRAME).tolist(),
    }
    shutil.rmtree(base)  # each causal folder holds its own copy of the weights
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
