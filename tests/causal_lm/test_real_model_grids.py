"""Multi-token grid scoring on the real embedded model (SmolLM2-135M); runs in CI."""

import numpy as np
import pytest
import torch

from decoreg.estimator import DecodingRegressor

pytestmark = pytest.mark.real_model

REVIEWS = ["Love this dress, fits perfectly.", "Terrible quality, it ripped.", "It is okay."] * 4
RATINGS = np.array([5.0, 1.0, 3.0] * 4)


def test_trie_scores_of_a_decimal_grid_match_plain_scoring_on_smollm2():
    """Grid 1:5:0.5 (9 values, 3 tokens each) scored through the trie vs each string run as a
    plain sequence: log-probs within 5e-5 (fp32 kernels differ by ~1e-5, see
    benchmarks/results/trie_scoring.json) and probabilities within 1e-5."""
    est = DecodingRegressor(
        grid="1:5:0.5",
        max_steps=0,
        template="Review: {text}\nRating (1 to 5 stars): ",
        verbose=False,
    ).fit(REVIEWS, RATINGS)
    model = est.model_
    assert model.spec.decimals == 1 and len(model.grid_trie.inner) > 0
    prompts = model.prepare_inputs(REVIEWS[:2])
    with torch.no_grad():
        fast = model.grid_logprobs(prompts)
        slow = torch.zeros_like(fast)
        for b, prompt in enumerate(prompts):
            for g, value in enumerate(model.spec.grid):
                seq = model._encode(model.number_format.format(value))
                logits = model.lm(input_ids=torch.tensor([prompt + seq])).logits[0].float()
                logprobs = torch.log_softmax(logits, -1)
                slow[b, g] = sum(logprobs[len(prompt) - 1 + k, t] for k, t in enumerate(seq))
    torch.testing.assert_close(fast, slow, rtol=0, atol=5e-5)
    torch.testing.assert_close(fast.exp(), slow.exp(), rtol=0, atol=1e-5)
    predictions = est.predict(REVIEWS[:3])
    assert np.all((predictions >= 1.0) & (predictions <= 5.0))
