"""Tabular decoders: grammar-valid output, seeding, aggregation and head readouts."""

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from decoreg.core import Batch
from decoreg.errors import ConfigError
from decoreg.tabular import (
    TABULAR_DECODERS,
    SamplingDecoder,
    TabularModelConfig,
    build_tabular_model,
)
from decoreg.tabular.decoding import riemann_readout, sample_token_ids
from decoreg.tabular.model import DecodingState
from decoreg.tabular.target import TargetTransform
from decoreg.tokenizers import NormalizedTokenizer

TINY_OPTIONS = {"d_model": 16, "heads": 2, "layers": 2, "ff_size": 32, "memory_tokens": 2}
TINY = TabularModelConfig(**TINY_OPTIONS)


pytestmark = pytest.mark.usefixtures("one_thread")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_model(config: TabularModelConfig = TINY, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=32), "c": rng.choice(["u", "v"], 32)})
    model = build_tabular_model(frame, rng.normal(size=32), dataclasses.replace(config, seed=seed))
    return model.eval(), model.make_batch(frame.iloc[:8], None)


@pytest.mark.parametrize(
    ("tokenizer", "options", "special"),
    [
        ("normalized", {}, False),
        ("normalized", {"base": 2, "digits": 6}, True),
        ("p10", {}, False),
        ("p10", {"digits": 2, "max_exponent": 3}, True),
        ("ieee", {}, False),
        ("ieee", {"base": 2, "exponent_digits": 3, "mantissa_digits": 5}, True),
    ],
)
def test_constrained_sampling_on_a_random_model_always_parses(tokenizer, options, special):
    config = dataclasses.replace(
        TINY, tokenizer=tokenizer, tokenizer_options=options, special_values=special
    )
    for seed in range(3):
        model, batch = random_model(config, seed)
        # Flatten logits so every allowed token has a real chance of being drawn.
        ids = sample_token_ids(model, batch, num_samples=64, temperature=3.0, seed=seed)
        assert ids.shape == (8, 64, model.tokenizer.num_tokens)
        flat = ids.reshape(-1, ids.shape[-1]).numpy()
        assert model.tokenizer.valid_rows(flat).all()
        for row in flat[:50]:  # the slow, token-string path agrees
            model.tokenizer.from_tokens(model.tokenizer.ids_to_tokens(row))
        predictions = TABULAR_DECODERS["sample-median"](model, batch, generator=seeded(seed))
        assert predictions.parsed.all() and np.isfinite(predictions.values).all()
        assert all(model.tokenizer.is_valid(re.findall(r"<[^>]*>", t)) for t in predictions.texts)


def test_same_seed_same_output_and_different_seeds_differ():
    model, batch = random_model()
    decoder = TABULAR_DECODERS["sample-mean"]
    first = decoder(model, batch, generator=seeded(1))
    again = decoder(model, batch, generator=seeded(1))
    other = decoder(model, batch, generator=seeded(2))
    np.testing.assert_array_equal(first.values, again.values)
    assert first.texts == again.texts
    assert not np.array_equal(first.values, other.values)


def test_greedy_ignores_the_seed_and_chunking():
    model, batch = random_model()
    greedy = TABULAR_DECODERS["greedy"]
    a = greedy(model, batch, generator=seeded(1))
    b = greedy(model, batch, generator=seeded(2))
    np.testing.assert_array_equal(a.values, b.values)
    whole = sample_token_ids(model, batch, num_samples=4, temperature=0.0)
    chunked = sample_token_ids(model, batch, num_samples=4, temperature=0.0, max_sequences=5)
    assert torch.equal(whole, chunked)
    assert (whole == whole[:, :1]).all()  # temperature 0: all samples identical


def test_predictions_do_not_depend_on_row_order_or_batch():
    """Each row's noise comes from the seed and its own features: decoding the rows permuted,
    a subset of them, or chunked gives exactly the same numbers for the same rows."""
    model, _ = random_model()
    frame = pd.DataFrame({"a": np.linspace(-2, 2, 12), "c": ["u", "v"] * 6})
    decoder = SamplingDecoder(num_samples=16, temperature=2.0)
    whole = decoder(model, model.make_batch(frame, None), generator=seeded(3)).values
    order = np.random.default_rng(0).permutation(12)
    permuted = decoder(model, model.make_batch(frame.iloc[order], None), generator=seeded(3))
    np.testing.assert_array_equal(permuted.values, whole[order])
    subset = decoder(model, model.make_batch(frame.iloc[[7, 2]], None), generator=seeded(3))
    np.testing.assert_array_equal(subset.values, whole[[7, 2]])
    chunked = dataclasses.replace(decoder, max_sequences=40)  # 2 rows per chunk
    again = chunked(model, model.make_batch(frame, None), generator=seeded(3)).values
    np.testing.assert_array_equal(again, whole)
    assert len(set(whole.tolist())) > 1  # the rows do differ


def test_the_estimator_predicts_permuted_and_partial_frames_consistently():
    """What scikit-learn's check_estimator asks of `predict` (sample-mean, the default);
    batch_size 4 predicts in batches of 8, so the permuted rows meet other batch mates."""
    from decoreg.estimator import DecodingRegressor

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    y = frame["a"].to_numpy() * 2.0
    est = DecodingRegressor(
        family="tabular",
        max_steps=2,
        batch_size=4,
        num_samples=8,
        verbose=False,
        tabular_options=TINY_OPTIONS,
    ).fit(frame, y)
    whole = est.predict(frame)
    order = rng.permutation(40)
    np.testing.assert_array_equal(est.predict(frame.iloc[order]), whole[order])
    np.testing.assert_array_equal(est.predict(frame.iloc[5:9]), whole[5:9])


class FixedLogits:
    """A stand-in decoder: one binary digit with logits (0, log 3), so p(<1>) = 3/4."""

    tokenizer = NormalizedTokenizer(base=2, digits=1)
    target = TargetTransform(mean=0.0, std=1.0, z_min=0.0, z_max=1.0)
    device = torch.device("cpu")

    def start_decoding(self, inputs, repeats: int) -> DecodingState:
        n = len(inputs["numeric"]) * repeats
        return DecodingState(memory_kv=[(torch.zeros(n, 1, 1, 1), torch.zeros(n, 1, 1, 1))])

    def decode_step(self, state: DecodingState, last_ids):
        n = state.memory_kv[0][0].shape[0]
        return torch.tensor([0.0, math.log(3)]).expand(n, 2)


def test_sampling_follows_the_model_distribution_and_temperature():
    """<1> reads as 0.5 and <0> as 0, so the mean sample is 0.5 * p(<1>): 0.375 at T = 1.
    At T = 0.5, p is proportional to p^2: 9 / 10, mean 0.45. 4,000 samples: sd < 0.004."""
    batch = Batch({"numeric": torch.zeros(1, 1)})
    for temperature, expected in [(1.0, 0.375), (0.5, 0.45)]:
        decoder = SamplingDecoder(num_samples=4000, temperature=temperature)
        predictions = decoder(FixedLogits(), batch, generator=seeded(0))
        assert predictions.values[0] == pytest.approx(expected, abs=0.015)


def test_aggregation_hand_worked():
    """Row [0.1, 0.2, 0.9, NaN]: mean 0.4, median 0.2, 25% quantile 0.1 (NaN skipped; the
    inverted CDF takes the ceil(0.25 * 3) = 1st smallest; linear interpolation gave 0.15).
    Row [-0.5, 0.5, 1.5, inf] clipped to [-0.1, 1.1]: -0.1, 0.5, 1.1 -> mean 0.5."""
    samples = np.array([[0.1, 0.2, 0.9, np.nan], [-0.5, 0.5, 1.5, np.inf]])
    mean = SamplingDecoder(aggregate="mean").aggregate_samples(samples, 0.1)
    assert mean[0] == pytest.approx(0.4) and mean[1] == pytest.approx(0.5)
    median = SamplingDecoder(aggregate="median").aggregate_samples(samples, 0.1)
    assert median[0] == pytest.approx(0.2)
    quantile = SamplingDecoder(aggregate="quantile", quantile=0.25)
    assert quantile.aggregate_samples(samples, 0.1)[0] == pytest.approx(0.1)
    clipped = SamplingDecoder(aggregate="clipped-mean").aggregate_samples(samples, 0.1)
    assert clipped[1] == pytest.approx(0.5)
    clipped_median = SamplingDecoder(aggregate="clipped-median")
    assert clipped_median.aggregate_samples(samples[1:], None)[0] == pytest.approx(0.5)
    nothing = SamplingDecoder().aggregate_samples(np.array([[np.nan, np.inf]]), 0.1)
    assert np.isnan(nothing).all()


def test_riemann_readout_hand_worked():
    """4 bins of width 0.25, centers 0.125 ... 0.875.
    p = (0.1, 0.2, 0.3, 0.4): mean 0.0125 + 0.075 + 0.1875 + 0.35 = 0.625; the CDF
    (0.1, 0.3, 0.6, 1.0) crosses 1/2 in bin 2, (0.5 - 0.3) / 0.3 of the way: 0.25 * 2.667.
    p = (0.5, 0.5, 0, 0): mean 0.25 and median 0.25 (the CDF reaches 1/2 at bin 0's end)."""
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(riemann_readout(probs, "mean"), torch.tensor([0.625, 0.25]).double())
    expected_median = torch.tensor([0.25 * (2 + 0.2 / 0.3), 0.25]).double()
    torch.testing.assert_close(riemann_readout(probs, "median"), expected_median)


def test_head_decoders_read_the_heads():
    model, batch = random_model()
    pointwise = TABULAR_DECODERS["head-pointwise"](model, batch, generator=seeded(0))
    np.testing.assert_allclose(
        pointwise.values, model.pointwise(batch).detach().double().numpy(), rtol=1e-6
    )
    riemann = TABULAR_DECODERS["head-riemann"](model, batch, generator=seeded(0))
    assert ((riemann.values > 0) & (riemann.values < 1)).all() and riemann.parsed.all()
    assert pointwise.texts[0] == f"{pointwise.values[0]:.6g}"


def test_special_value_samples_are_skipped_and_greedy_reports_them():
    """A model whose every sample is NaN yields NaN and parsed False."""
    model, batch = random_model(dataclasses.replace(TINY, special_values=True))
    with torch.no_grad():
        model.lm_head.bias.fill_(0.0)
        model.lm_head.weight.fill_(0.0)
        model.lm_head.bias[model.tokenizer.token_to_id["<NAN>"]] = 100.0
    greedy = TABULAR_DECODERS["greedy"](model, batch, generator=seeded(0))
    assert not greedy.parsed.any() and np.isnan(greedy.values).all()
    assert greedy.texts[0] == "<NAN>" * 3  # the default normalized tokenizer: 3 digits
    sampled = SamplingDecoder(num_samples=8)(model, batch, generator=seeded(0))
    assert not sampled.parsed.any()


@pytest.mark.parametrize(
    "options",
    [
        {"aggregate": "mode"},
        {"num_samples": 0},
        {"temperature": 0.0},
        {"quantile": 1.5},
    ],
)
def test_sampling_options_are_validated(options: dict):
    with pytest.raises(ConfigError):
        SamplingDecoder(**options)
