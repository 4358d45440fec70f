"""RL on the real embedded model (SmolLM2-135M): zero-shot start, one GRPO step, two ReMax
steps through the estimator. Small: 4 reviews, G = 4, a few tokens each."""

import numpy as np
import pytest
import torch

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.pretrained import load_pretrained
from decoreg.estimator import DecodingRegressor
from decoreg.rl import RL_OBJECTIVES

pytestmark = pytest.mark.real_model

REVIEWS = [
    "Love this dress, fits perfectly and the fabric is soft.",
    "Terrible quality, it ripped after one wash.",
    "It is okay, nothing special but fine for the price.",
    "Runs very small and the color is not as pictured.",
]
RATINGS = np.array([5.0, 1.0, 3.0, 2.0])
TEMPLATE = "Review: {text}\nRating (1 to 5 stars): "


def test_grpo_step_on_the_embedded_model_samples_valid_numbers_and_learns():
    lm, tokenizer = load_pretrained("smollm2-135m")
    spec = CausalLMSpec(base_model="smollm2-135m", template=TEMPLATE, decimals=1, grid=(1.0, 5.0))
    model = CausalLMRegressor(lm, tokenizer, spec)
    batch = model.make_batch(model.prepare_inputs(REVIEWS), RATINGS)
    objective = RL_OBJECTIVES["grpo"](num_samples=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, metrics = objective(model, batch)
    loss.backward()
    texts = [t for row in objective.last_scored.rollout.texts for t in row]
    assert all(len(t) == 3 and t[1] == "." and t[0].isdigit() for t in texts), texts  # d.d
    assert metrics["unparseable_share"] == 0.0 and np.isfinite(metrics["loss"])
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_remax_through_the_estimator_from_a_saved_model(tmp_path):
    zero_shot = DecodingRegressor(
        objective="ce", template=TEMPLATE, max_steps=0, decoder="greedy", verbose=False
    ).fit(REVIEWS, RATINGS)
    zero_shot.save(tmp_path / "start")
    rl = DecodingRegressor(
        objective="remax",
        init_from=str(tmp_path / "start"),
        template=TEMPLATE,
        decoder="greedy",
        max_steps=2,
        batch_size=2,
        learning_rate=1e-5,
        warmup_steps=0,
        validation_fraction=0.0,
        objective_options={"num_samples": 2},
        verbose=False,
    ).fit(REVIEWS, RATINGS)
    assert [row["step"] for row in rl.train_result_.log] == [1, 2]
    assert all(np.isfinite(row["reward_mean"]) for row in rl.train_result_.log)
    predictions = rl.predict(REVIEWS)
    assert predictions.shape == (4,) and np.isfinite(predictions).all()
