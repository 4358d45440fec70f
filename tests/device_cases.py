"""Every family x objective and every decoder on tiny models, for the device tests (the CPU
factory watch in tests/test_device_placement.py and the CPU-vs-device tier in tests/gpu/)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from decoreg.families import FAMILIES

TABULAR_OPTIONS = {"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32, "dropout": 0.0,
                   "memory_tokens": 2}  # fmt: skip
RL_OPTIONS = {"num_samples": 2}
RL_OBJECTIVES = ("remax", "grpo", "rloo", "genre2")
CAUSAL_OBJECTIVES = tuple(sorted(FAMILIES["causal-lm"].objectives))
TABULAR_OBJECTIVES = tuple(sorted(FAMILIES["tabular"].objectives))
# A decoder and an objective whose model it reads (head decoders need their head trained).
CAUSAL_DECODERS = tuple(
    ("head" if name == "head" else "ce", name) for name in sorted(FAMILIES["causal-lm"].decoders)
)
TABULAR_DECODERS = tuple(
    ("riemann" if name.startswith("head-riemann") else
     "pointwise-mse" if name == "head-pointwise" else "ce", name)
    for name in sorted(FAMILIES["tabular"].decoders)
)  # fmt: skip


def texts_and_targets(n: int = 8) -> tuple[list[str], np.ndarray]:
    return [f"row {i}" for i in range(n)], np.array([float(i % 5) for i in range(n)])


def table_and_targets(n: int = 16) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "kind": ["x", "y"] * (n // 2)})
    return frame, (2.0 * frame["a"] + (frame["kind"] == "x")).to_numpy() + 5.0


def objective_options(objective: str) -> dict | None:
    return dict(RL_OPTIONS) if objective in RL_OBJECTIVES else None


def causal_params(model_dir, objective: str, decoder: str | None = None, **params) -> dict:
    """Two fp32 steps of a tiny local Llama (a multi-token grid, so the trie is used)."""
    return {
        "model": str(model_dir), "objective": objective, "decoder": decoder,
        "objective_options": objective_options(objective), "template": "Q: {text}\nA: ",
        "grid": [0.0, 1.5, 3.0, 4.5] if decoder is None or decoder.startswith("grid") else None,
        "max_steps": 2, "batch_size": 4, "eval_every": 0, "learning_rate": 1e-2,
        "precision": "fp32", "verbose": False, "num_samples": 3, "validation_fraction": 0.25,
        **params,
    }  # fmt: skip


def tabular_params(objective: str, decoder: str | None = None, **params) -> dict:
    return {
        "family": "tabular", "objective": objective, "decoder": decoder,
        "objective_options": objective_options(objective), "tabular_options": TABULAR_OPTIONS,
        "max_steps": 2, "batch_size": 8, "eval_every": 0, "verbose": False, "num_samples": 3,
        "validation_fraction": 0.25, **params,
    }  # fmt: skip
