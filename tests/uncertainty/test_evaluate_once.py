"""`evaluate` decodes X once: its numbers are `predict`'s bit for bit, its distribution scores
those of `predict_distribution`, for grid and sampling decoders of both families."""

import numpy as np
import pytest

from decoreg.causal_lm.decoding.generated import SampleAggregate
from decoreg.metrics import regression_report
from decoreg.tabular.decoding import SamplingDecoder
from decoreg.uncertainty import uncertainty_report
from tests.conftest import tiny_lm_estimator as tiny
from tests.tabular.test_estimator import linear_rows, small
from tests.uncertainty.test_estimator import TARGETS, TEXTS


def _assert_one_pass_matches_two(est, X, y):
    details, pred = est.predict_with_distribution(X)
    reference = est.predict_details(X)
    np.testing.assert_array_equal(details.values, reference.values)  # NaN where unparsed alike
    np.testing.assert_array_equal(details.parsed, reference.parsed)
    assert details.texts == reference.texts
    separate = est.predict_distribution(X)
    np.testing.assert_array_equal(pred.values, separate.values)
    np.testing.assert_array_equal(pred.weights, separate.weights)
    report = est.evaluate(X, y)
    expected = regression_report(y, est.predict(X), reference.parsed)
    expected |= uncertainty_report(separate, y)
    assert report.keys() == expected.keys()
    for name, value in expected.items():  # exactly equal, not close
        assert report[name] == value or (np.isnan(report[name]) and np.isnan(value)), name


@pytest.mark.parametrize("decoder", ["grid-mean", "grid-median"])
def test_grid_decoders_score_the_grid_once(tiny_model_dir, monkeypatch, decoder):
    est = tiny(tiny_model_dir, decoder=decoder, normalize_grid=False).fit(TEXTS, TARGETS)
    _assert_one_pass_matches_two(est, TEXTS, TARGETS)
    calls = []
    scored = est.model_.grid_logprobs
    monkeypatch.setattr(est.model_, "grid_logprobs", lambda p: calls.append(len(p)) or scored(p))
    est.evaluate(TEXTS, TARGETS)
    assert sum(calls) == len(TEXTS)  # every row scored once, not once per output


def test_causal_lm_samples_are_drawn_once(tiny_model_dir, monkeypatch):
    est = tiny(tiny_model_dir, max_steps=0, decoder="sample-median", num_samples=5)
    est.fit(TEXTS, TARGETS)
    _assert_one_pass_matches_two(est, TEXTS[:10], TARGETS[:10])
    calls = []
    draw = SampleAggregate._samples
    monkeypatch.setattr(SampleAggregate, "_samples",
                        lambda self, m, b, g: calls.append(1) or draw(self, m, b, g))  # fmt: skip
    est.evaluate(TEXTS[:10], TARGETS[:10])
    evaluate_batches = len(calls)
    calls.clear()
    est.predict(TEXTS[:10])
    assert evaluate_batches == len(calls) >= 1  # as many draws as predict alone


@pytest.mark.parametrize("decoder", ["sample-mean", "sample-clipped-median"])
def test_tabular_samples_are_drawn_once(monkeypatch, decoder):
    frame, y = linear_rows(n=80)
    est = small(max_steps=5, decoder=decoder).fit(frame, y)
    _assert_one_pass_matches_two(est, frame.iloc[:30], y[:30])
    calls = []
    draw = SamplingDecoder._token_ids
    monkeypatch.setattr(SamplingDecoder, "_token_ids",
                        lambda self, m, b, g: calls.append(1) or draw(self, m, b, g))  # fmt: skip
    est.evaluate(frame.iloc[:30], y[:30])
    predict_batches = len(calls)
    calls.clear()
    est.predict(frame.iloc[:30])
    assert predict_batches == len(calls) >= 1  # as many draws as predict alone
