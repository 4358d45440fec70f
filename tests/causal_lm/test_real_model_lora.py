"""LoRA on the real embedded model (SmolLM2-135M): train, save, load, merge (runs in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from decoreg.estimator import DecodingRegressor

pytestmark = pytest.mark.real_model

TEXTS = [
    "Love this dress, fits perfectly and the fabric is soft.",
    "Terrible quality, it ripped after one wash.",
    "It is okay, nothing special but fine for the price.",
    "Absolutely gorgeous, I bought it in two colors.",
    "Runs very small and the color is not as pictured.",
    "Nice top, a little see-through but comfortable.",
]
RATINGS = np.array([5.0, 1.0, 3.0, 5.0, 2.0, 4.0])


def test_lora_on_the_embedded_model_saves_loads_and_merges(tmp_path):
    """Rank-4 adapters on every linear layer of the 30 Llama blocks (7 per block: q, k, v, o,
    gate, up, down) train about 1.6M of 134.5M weights."""
    est = DecodingRegressor(
        model="smollm2-135m",
        template="Review: {text}\nRating (1 to 5 stars): ",
        max_steps=2,
        batch_size=3,
        learning_rate=1e-3,
        validation_fraction=0.0,
        lora_rank=4,
        gradient_checkpointing=True,
        verbose=False,
    ).fit(TEXTS, RATINGS)
    trainable = sum(p.numel() for p in est.model_.parameters() if p.requires_grad)
    assert 1_000_000 < trainable < 2_500_000
    before = est.predict(TEXTS)
    est.save(tmp_path / "lora")
    loaded = DecodingRegressor.load(tmp_path / "lora")
    np.testing.assert_array_equal(loaded.predict(TEXTS), before)
    # Merged weights match in fp32; under bf16 autocast the cast of W + BA to bf16 can round
    # a small update away, so the comparison runs in fp32.
    fp32 = loaded.set_params(bf16=False).predict(TEXTS)
    loaded.model_.merge_lora()
    np.testing.assert_allclose(loaded.predict(TEXTS), fp32, rtol=0, atol=1e-4)
