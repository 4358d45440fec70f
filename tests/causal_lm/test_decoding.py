import numpy as np
import pytest
import torch

from decoreg.causal_lm.decoding import DECODERS
from decoreg.config import DecodeConfig
from decoreg.inference import predict_prepared
from tests.fakes import fixed_regressor

PROMPTS = ["good", "bad"]


def decode(model, name, seed=0, **options):
    decoder = DECODERS[name](DecodeConfig(**options))
    batch = model.make_batch(model.prepare_inputs(PROMPTS), None)
    return decoder(model, batch, generator=torch.Generator().manual_seed(seed))


def test_greedy_takes_most_likely_token_each_step(tokenizer):
    model = fixed_regressor(
        tokenizer, [{"3": 0.4, "4": 0.6}, {".": 0.9, "<eos>": 0.1}, {"5": 1.0}, {"<eos>": 1.0}]
    )
    out = decode(model, "greedy", max_new_tokens=5)
    assert out.texts == ["4.5", "4.5"]
    np.testing.assert_array_equal(out.values, [4.5, 4.5])
    assert out.parsed.all()


def test_unparseable_output_is_flagged_not_hidden(tokenizer):
    model = fixed_regressor(tokenizer, [{"x": 1.0}, {"<eos>": 1.0}])
    out = decode(model, "greedy")
    assert not out.parsed.any()
    assert np.isnan(out.values).all()
    assert out.texts == ["x", "x"]


def test_grid_mean_median_quantile_on_fixed_distribution(tokenizer):
    """p(1) = 0.2, p(5) = 0.8: mean 0.2 + 4.0 = 4.2, median 5, 10% quantile 1."""
    model = fixed_regressor(tokenizer, [{"1": 0.2, "5": 0.8}])
    np.testing.assert_allclose(decode(model, "grid-mean").values, [4.2, 4.2], rtol=1e-6)
    np.testing.assert_array_equal(decode(model, "grid-median").values, [5.0, 5.0])
    np.testing.assert_array_equal(decode(model, "grid-quantile", quantile=0.1).values, [1.0, 1.0])


def test_grid_mean_normalizes_unless_told_not_to(tokenizer):
    """p(2) = 0.25, p(4) = 0.25, 'x' 0.5: normalized (2+4)/2 = 3; raw 0.5 + 1.0 = 1.5."""
    model = fixed_regressor(tokenizer, [{"2": 0.25, "4": 0.25, "x": 0.5}])
    np.testing.assert_allclose(decode(model, "grid-mean").values, [3.0, 3.0], rtol=1e-6)
    raw = decode(model, "grid-mean", normalize_grid=False).values
    np.testing.assert_allclose(raw, [1.5, 1.5], rtol=1e-6)


TWO_WAY = [{"2": 0.5, "4": 0.5}, {"<eos>": 1.0}]


def test_sampling_is_reproducible_with_the_same_seed(tokenizer):
    model = fixed_regressor(tokenizer, TWO_WAY)
    first = decode(model, "sample-mean", seed=7, num_samples=16)
    second = decode(model, "sample-mean", seed=7, num_samples=16)
    np.testing.assert_array_equal(first.values, second.values)


def test_different_seeds_give_different_samples(tokenizer):
    model = fixed_regressor(tokenizer, TWO_WAY)
    runs = {tuple(decode(model, "sample-mean", seed=s, num_samples=8).values) for s in range(6)}
    assert len(runs) > 1


def test_temperature_zero_ignores_the_seed(tokenizer):
    model = fixed_regressor(tokenizer, [{"2": 0.4, "4": 0.6}, {"<eos>": 1.0}])
    values = {
        tuple(decode(model, "sample-mean", seed=s, temperature=0.0, num_samples=4).values)
        for s in range(4)
    }
    assert values == {(4.0, 4.0)}


def test_sample_mean_and_median_aggregate_the_samples(tokenizer):
    """Samples are 2 or 4 with p = 1/2 each; 400 samples: the mean's sd is 1/sqrt(400) = 0.05."""
    model = fixed_regressor(tokenizer, TWO_WAY)
    mean = decode(model, "sample-mean", seed=1, num_samples=400).values
    assert np.all(np.abs(mean - 3.0) < 0.3)  # 6 standard deviations
    median = decode(model, "sample-median", seed=1, num_samples=401).values
    assert set(median.tolist()) <= {2.0, 4.0}


@pytest.mark.parametrize("name", ["sample-mean", "sample-quantile"])
def test_a_prompts_samples_do_not_depend_on_its_batch(tokenizer, name):
    """Noise is seeded by the seed and each prompt's tokens: the same prompts decoded in
    another order, in a subset, or in batches of two give the same numbers for the same
    prompts (8 samples of 2 or 4 per prompt, so prompts do differ)."""
    model = fixed_regressor(tokenizer, TWO_WAY)
    prompts = [f"row {i}" for i in range(10)]
    inputs = model.prepare_inputs(prompts)

    def values(rows, batch_size=16):
        chosen = [inputs[i] for i in rows]
        decoder = DECODERS[name](DecodeConfig(num_samples=8, quantile=0.3))
        return predict_prepared(model, decoder, chosen, batch_size=batch_size, seed=5).values

    whole = values(range(10))
    order = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(values(order), whole[order])
    np.testing.assert_array_equal(values([6, 1]), whole[[6, 1]])
    np.testing.assert_array_equal(values(range(10), batch_size=2), whole)
    assert len(set(whole.tolist())) > 1


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_decoder_returns_one_value_per_row(tokenizer, name):
    model = fixed_regressor(tokenizer, [{"3": 1.0}, {"<eos>": 1.0}])
    out = decode(model, name, num_samples=3)
    assert out.values.shape == (2,) and len(out.texts) == 2
    np.testing.assert_allclose(out.values, [3.0, 3.0])
