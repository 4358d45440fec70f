"""Studies with each family's default space: a tiny causal LM (RAFT, with epochs, LoRA and
batch size searched) and RL on the tabular family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decoreg.tune import tune

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [f"item {i} is {'good' if i % 3 else 'bad'}" for i in range(24)]
TARGETS = np.array([4.0 if i % 3 else 2.0 for i in range(24)])


def test_a_causal_lm_study_searches_its_default_space(tmp_path, tiny_model_dir):
    result = tune(
        TEXTS,
        TARGETS,
        storage=f"sqlite:///{tmp_path / 'lm.db'}",
        n_trials=2,
        output=tmp_path / "best",
        model=str(tiny_model_dir),
        template="Q: {text}\nA: ",
        bf16=False,
        eval_every=2,
        max_eval_rows=8,
    )
    assert result.complete == 2
    assert set(result.study.best_trial.params) == {
        "learning_rate", "epochs", "warmup_steps", "batch_size", "lora_rank",
    }  # fmt: skip
    best = result.study.best_trial.params
    assert result.best_params["epochs"] == best["epochs"] and "max_steps" not in result.best_params
    # 24 rows, 2 held out (validation fraction 0.1): ceil(22 / batch) steps per epoch
    steps = -(-22 // best["batch_size"]) * best["epochs"]
    assert result.study.best_trial.user_attrs["steps_run"] == steps


def test_an_rl_study_on_the_tabular_family(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40)})
    y = (2.0 * frame["a"] + 3.0).to_numpy()
    result = tune(
        frame,
        y,
        storage=f"sqlite:///{tmp_path / 'rl.db'}",
        n_trials=2,
        family="tabular",
        objective="grpo",
        max_steps=2,
        eval_every=1,
        batch_size=8,
        num_samples=2,
        tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
    )
    assert result.complete == 2
    params = result.study.best_trial.params
    assert set(params) == {
        "learning_rate",
        "objective_options.num_samples",
        "objective_options.expert_weight",
        "objective_options.temperature",
        "objective_options.reward",
    }
    assert (
        result.best_params["objective_options"]["num_samples"]
        == params["objective_options.num_samples"]
    )
