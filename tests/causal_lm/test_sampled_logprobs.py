import numpy as np
import torch

from decoreg.causal_lm.decoding import DECODERS
from decoreg.causal_lm.decoding.sampling import sample_sequences
from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.config import DecodeConfig
from tests.conftest import tiny_llama
from tests.fakes import fixed_regressor


def tiny(tokenizer) -> CausalLMRegressor:
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=1)
    return CausalLMRegressor(tiny_llama(len(tokenizer), seed=5), tokenizer, spec).eval()


def test_sampled_logprobs_equal_a_from_scratch_computation(tokenizer):
    """Each sampled row is re-scored alone (prompt + its tokens up to EOS, no padding, no
    cache); the per-token log-probs agree to 1e-5 in fp32, and are 0 after EOS."""
    model = tiny(tokenizer)
    prompts = model.prepare_inputs(["short", "a much longer prompt here"])
    sampled = sample_sequences(
        model,
        prompts,
        num_samples=6,
        max_new_tokens=5,
        temperature=1.3,
        generator=torch.Generator().manual_seed(0),
    )
    assert sampled.token_ids.shape == (12, 5) and len(sampled.texts) == 12
    for row in range(12):
        prompt = prompts[row // 6]
        length = int(sampled.lengths[row])
        tokens = sampled.token_ids[row, :length].tolist()
        with torch.no_grad():
            logits = model.lm(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
        logprobs = torch.log_softmax(logits, -1)
        reference = torch.stack([logprobs[len(prompt) - 1 + k, t] for k, t in enumerate(tokens)])
        torch.testing.assert_close(sampled.logprobs[row, :length], reference, rtol=0, atol=1e-5)
        assert torch.all(sampled.logprobs[row, length:] == 0)
        if length < 5:
            assert tokens[-1] == model.eos_id


def test_lengths_count_tokens_up_to_eos(tokenizer):
    """'4', '.', '5', EOS: length 4; log-probs log 0.5, log 1, log 1, log 1."""
    model = fixed_regressor(
        tokenizer, [{"3": 0.5, "4": 0.5}, {".": 1.0}, {"5": 1.0}, {"<eos>": 1.0}]
    )
    sampled = sample_sequences(
        model,
        model.prepare_inputs(["a"]),
        num_samples=4,
        max_new_tokens=6,
        temperature=1.0,
        generator=torch.Generator().manual_seed(1),
    )
    assert sampled.lengths.tolist() == [4, 4, 4, 4]
    np.testing.assert_allclose(sampled.logprobs[:, 0], np.log(0.5), rtol=1e-6)
    assert torch.all(sampled.logprobs[:, 1:] == 0)


def test_sample_quantile_on_a_mock_distribution(tokenizer):
    """Every sample is '2' or '4' with p = 1/2. With 64 samples the 10% quantile is 2 and the
    90% quantile 4 unless fewer than 7 (or more than 57) of 64 fair draws are '2', which has
    probability about 2e-10; the returned value is always one of the sampled numbers."""
    model = fixed_regressor(tokenizer, [{"2": 0.5, "4": 0.5}, {"<eos>": 1.0}])
    batch = model.make_batch(model.prepare_inputs(["a", "b"]), None)

    def quantile(q):
        decoder = DECODERS["sample-quantile"](DecodeConfig(num_samples=64, quantile=q))
        return decoder(model, batch, generator=torch.Generator().manual_seed(3)).values

    np.testing.assert_array_equal(quantile(0.1), [2.0, 2.0])
    np.testing.assert_array_equal(quantile(0.9), [4.0, 4.0])
