import logging

import numpy as np
import pytest
import torch
from sklearn.base import clone

from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.conftest import tiny_lm_estimator

TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(24)]
TARGETS = np.array([4.0 if i % 2 else 2.0 for i in range(24)])


def tiny_estimator(model_dir, **params):
    return tiny_lm_estimator(model_dir, **{"num_samples": 3, **params})


@pytest.mark.parametrize(
    ("objective", "decoder"), [("raft", "grid-mean"), ("ce", "greedy"), ("ce", "sample-median")]
)
def test_fit_predict_evaluate(tiny_model_dir, objective, decoder):
    est = tiny_estimator(tiny_model_dir, objective=objective, decoder=decoder)
    assert est.fit(TEXTS, TARGETS) is est
    predictions = est.predict(TEXTS[:5])
    assert predictions.shape == (5,) and np.isfinite(predictions).all()
    metrics = est.evaluate(TEXTS, TARGETS)
    assert set(metrics) >= {"rmse", "mae", "r2", "pearson", "spearman", "unparseable_share"}
    assert est.train_result_.steps_run == 2
    assert est.train_result_.best_step in (1, 2)


def test_save_and_load_give_identical_predictions(tiny_model_dir, tmp_path):
    est = tiny_estimator(tiny_model_dir, decoder="grid-mean").fit(TEXTS, TARGETS)
    before = est.predict(TEXTS)
    est.save(tmp_path / "saved")
    loaded = DecodingRegressor.load(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.predict(TEXTS), before)
    assert loaded.get_params() == est.get_params()
    assert (tmp_path / "saved" / "lm" / "model.safetensors").exists()


def test_one_training_step_changes_every_parameter(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, max_steps=0).fit(TEXTS, TARGETS)
    before = {n: p.detach().clone() for n, p in est.model_.named_parameters()}
    est2 = tiny_estimator(
        tiny_model_dir, max_steps=1, warmup_steps=0, schedule="constant", validation_fraction=0.0
    ).fit(TEXTS, TARGETS)
    after = dict(est2.model_.named_parameters())
    unchanged = [n for n, p in before.items() if torch.equal(p, after[n].detach())]
    assert unchanged == []


def test_training_is_seeded_and_reproducible(tiny_model_dir):
    first = tiny_estimator(tiny_model_dir, max_steps=3).fit(TEXTS, TARGETS)
    second = tiny_estimator(tiny_model_dir, max_steps=3).fit(TEXTS, TARGETS)
    losses = [row["loss"] for row in first.train_result_.log]
    assert losses == [row["loss"] for row in second.train_result_.log]


def test_clone_and_params_follow_sklearn_rules(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, learning_rate=0.5)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "model_")
    assert copy.set_params(max_steps=7) is copy and copy.max_steps == 7


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"objective": "mse"}, r"unknown objective 'mse'.*\['ce', .*'raft', .*'rloo'\]"),
        ({"decoder": "beam"}, r"unknown decoder 'beam'.*'greedy'"),
        ({"objective_options": {"normalise": True}}, "bad objective_options"),
        ({"template": "no placeholder "}, "placeholder"),
        ({"learning_rate": -1.0}, "learning_rate must be > 0"),
        ({"family": "nope"}, "unknown family"),
    ],
)
def test_bad_options_fail_before_any_model_is_loaded(params, message):
    est = DecodingRegressor(model="/does/not/exist", **params)
    with pytest.raises(ConfigError, match=message):
        est.fit(["a", "b"], [1.0, 2.0])


def test_targets_outside_the_grid_need_scaling(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, grid=[0, 1, 2, 3], scale_targets="never")
    with pytest.raises(ConfigError, match=r"targets span \[12, 14\].*scale_targets='never'"):
        est.fit(TEXTS, TARGETS + 10)


def test_targets_outside_the_grid_are_scaled_and_inverted(tiny_model_dir):
    y = TARGETS * 100.0  # 200 and 400, far outside the digit grid
    est = tiny_estimator(tiny_model_dir, max_steps=0).fit(TEXTS, y)
    assert est.model_.spec.grid == tuple(float(v) for v in range(10))
    predictions = est.predict(TEXTS)
    assert np.all((predictions >= 200.0 - 1e-6) & (predictions <= 400.0 + 1e-6))


def test_grid_of_multi_token_numbers_is_scored_by_the_trie(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, grid=[10, 20, 30], max_steps=0)
    predictions = est.fit(TEXTS, TARGETS * 10).predict(TEXTS[:4])
    assert np.all((predictions >= 20.0 - 1e-6) & (predictions <= 40.0 + 1e-6))


def test_grid_the_number_format_cannot_write_is_refused(tiny_model_dir):
    est = tiny_estimator(tiny_model_dir, grid="0:1:0.25", decimals=1, max_steps=0)
    with pytest.raises(ConfigError, match=r"grid value 0.25 is written '0.2' with decimals=1"):
        est.fit(TEXTS, TARGETS / 4)


def test_long_inputs_are_shortened_with_a_counted_warning(tiny_model_dir, caplog):
    est = tiny_estimator(tiny_model_dir, max_steps=0, max_prompt_tokens=20)
    est.fit(TEXTS, TARGETS)
    texts = ["short", "x" * 500, "y" * 300]
    with caplog.at_level(logging.WARNING):
        prepared = est.model_.prepare_inputs(texts)
    assert "2 of 3 inputs were longer than max_prompt_tokens=20" in caplog.text
    assert max(len(p) for p in prepared) == 20
    suffix = est.model_.tokenizer("\nA: ", add_special_tokens=False)["input_ids"]
    assert all(p[-len(suffix) :] == suffix for p in prepared)  # the answer cue survives
