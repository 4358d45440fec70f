import math

import numpy as np
import pytest
import torch

from decoreg.aggregation import aggregate
from decoreg.causal_lm.decoding import DECODERS
from decoreg.config import DecodeConfig
from decoreg.errors import ConfigError
from decoreg.tabular.decoding import GreedyDecoder
from decoreg.uncertainty import Predictive, check_coverage
from tests.fakes import fixed_regressor


def hand_grid():
    """Grid (5, 1, 2) with p = (0.5, 0.2, 0.3): sorted 1: 0.2, 2: 0.3, 5: 0.5."""
    return Predictive.from_grid(np.array([5.0, 1.0, 2.0]), np.array([[0.5, 0.2, 0.3]]))


def test_a_grid_is_sorted_and_its_statistics_derived_by_hand():
    """Cumulative 0.2, 0.5, 1.0 on (1, 2, 5); mean 0.2 + 0.6 + 2.5 = 3.3."""
    pred = hand_grid()
    np.testing.assert_array_equal(pred.values, [[1.0, 2.0, 5.0]])
    np.testing.assert_allclose(pred.weights, [[0.2, 0.3, 0.5]])
    np.testing.assert_allclose(pred.mean(), [3.3])
    assert pred.quantile(0.2)[0] == 1.0 and pred.quantile(0.21)[0] == 2.0
    assert pred.median()[0] == 2.0  # exactly 0.5 cumulative stays on the lower value
    assert pred.quantile(0.51)[0] == 5.0
    np.testing.assert_allclose(pred.cdf(2.0), [0.5])  # P(Y <= 2)
    np.testing.assert_allclose(pred.cdf_left(2.0), [0.2])  # P(Y < 2)
    np.testing.assert_allclose(pred.cdf(0.0), [0.0])
    np.testing.assert_allclose(pred.cdf(9.0), [1.0])


def test_grid_probabilities_are_renormalized():
    pred = Predictive.from_grid(np.array([0.0, 1.0]), np.array([[0.1, 0.3]]))
    np.testing.assert_allclose(pred.weights, [[0.25, 0.75]])
    assert pred.median()[0] == 1.0


def test_samples_skip_unusable_values_and_use_the_aggregation_rule():
    samples = np.array([[3.0, np.nan, 1.0, np.inf, 2.0, 4.0], [np.nan] * 6])
    pred = Predictive.from_samples(samples)
    np.testing.assert_allclose(pred.weights[0], [0.25, 0, 0.25, 0, 0.25, 0.25])
    assert pred.usable.tolist() == [True, False]
    assert pred.mean()[0] == 2.5 and np.isnan(pred.mean()[1])
    assert pred.median()[0] == 2.0  # inverted CDF: the 2nd of [1, 2, 3, 4]
    for q in (0.0, 0.1, 0.25, 0.26, 0.5, 0.75, 0.9, 1.0):
        assert pred.quantile(q)[0] == aggregate(samples[:1], "quantile", quantile=q)[0]
    assert np.isnan(pred.quantile(0.5)[1])
    np.testing.assert_allclose(pred.cdf([2.0, 2.0]), [0.5, 0.0])


def test_a_row_without_usable_samples_falls_back_to_a_point_mass():
    pred = Predictive.from_samples(np.array([[1.0, 2.0], [np.nan, np.nan]])).with_fallback(7.0)
    np.testing.assert_array_equal(pred.median(), [1.0, 7.0])
    np.testing.assert_array_equal(pred.interval(0.9)[1], [2.0, 7.0])


@pytest.mark.parametrize("kind", ["grid", "samples"])
def test_quantiles_commute_with_an_increasing_map(kind):
    rng = np.random.default_rng(0)
    if kind == "grid":
        pred = Predictive.from_grid(np.linspace(0, 1, 11), rng.dirichlet(np.ones(11), size=5))
    else:
        pred = Predictive.from_samples(rng.normal(size=(5, 40)))
    mapped = pred.map_values(lambda v: np.exp(3 * v + 1))
    for q in (0.05, 0.3, 0.5, 0.95):
        np.testing.assert_array_equal(mapped.quantile(q), np.exp(3 * pred.quantile(q) + 1))


def test_take_and_concatenate_keep_rows():
    pred = Predictive.from_samples(np.arange(12.0).reshape(4, 3))
    again = Predictive.concatenate([pred.take(np.array([2, 3])), pred.take(np.array([0, 1]))])
    np.testing.assert_array_equal(again.mean(), [7.0, 10.0, 1.0, 4.0])
    with pytest.raises(ValueError, match="kinds"):
        Predictive.concatenate([pred, hand_grid()])


@pytest.mark.parametrize("bad", [0, 1, 1.0, -0.1, 1.5, math.nan, "0.9", None, True])
def test_coverage_outside_the_open_unit_interval_is_refused(bad):
    with pytest.raises(ConfigError, match="coverage must be strictly between 0 and 1"):
        check_coverage(bad)


def test_grid_decoder_gives_the_probabilities_it_decodes_with(tokenizer):
    """p(1) = 0.2, p(5) = 0.8 on grid 1..5: the distribution holds exactly these."""
    model = fixed_regressor(tokenizer, [{"1": 0.2, "5": 0.8}])
    batch = model.make_batch(model.prepare_inputs(["a", "b"]), None)
    decoder = DECODERS["grid-median"](DecodeConfig())
    pred = decoder.distribution(model, batch, generator=torch.Generator().manual_seed(0))
    assert pred.kind == "grid"
    np.testing.assert_array_equal(pred.values[0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(pred.weights[0], [0.2, 0, 0, 0, 0.8], atol=1e-6)
    point = decoder(model, batch, generator=torch.Generator().manual_seed(0)).values
    np.testing.assert_array_equal(pred.median(), point)


def test_sample_decoder_gives_the_samples_it_aggregates(tokenizer):
    model = fixed_regressor(tokenizer, [{"2": 0.5, "4": 0.5}, {"<eos>": 1.0}])
    batch = model.make_batch(model.prepare_inputs(["a", "b"]), None)
    decoder = DECODERS["sample-mean"](DecodeConfig(num_samples=16))
    pred = decoder.distribution(model, batch, generator=torch.Generator().manual_seed(3))
    assert pred.kind == "samples" and pred.values.shape == (2, 16)
    assert set(np.unique(pred.values)) <= {2.0, 4.0}
    point = decoder(model, batch, generator=torch.Generator().manual_seed(3)).values
    np.testing.assert_allclose(pred.mean(), point, rtol=1e-12)


def test_a_point_decoder_refuses_a_distribution():
    with pytest.raises(ConfigError, match="one number per row, not a distribution"):
        GreedyDecoder().distribution(None, None, generator=torch.Generator())
