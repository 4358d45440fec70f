"""The run plan: resolved once per fit, from the parameters and the family's defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from decoreg.estimator import plan as plan_module
from decoreg.families import FAMILIES
from decoreg.tabular.build import TRAIN_DEFAULTS

SMALL = dict(
    family="tabular",
    max_steps=2,
    verbose=False,
    tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
)


def test_tabular_plan_takes_the_family_defaults():
    plan = DecodingRegressor(family="tabular").plan()
    assert plan.family is FAMILIES["tabular"]
    assert (plan.objective_name, plan.decoder_name) == ("ce", "sample-mean")
    assert plan.decode.num_samples == 128 and plan.decoder.num_samples == 128
    assert plan.train.learning_rate == TRAIN_DEFAULTS["learning_rate"]
    assert plan.max_steps == TRAIN_DEFAULTS["max_steps"] and plan.threads == 1
    assert plan.train.precision == "fp32"
    assert plan.model_options.seed == 0  # TabularModelConfig, seeded from random_state


def test_zero_steps_fit_nothing_but_the_loop_config_keeps_one_step():
    plan = DecodingRegressor(max_steps=0).plan()
    assert plan.max_steps == 0 and plan.train.max_steps == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
        ({"max_steps": -1}, "max_steps must be >= 0"),
        ({"objective": "pointwise-mse", "decoder": "nope"}, "unknown decoder 'nope'"),
    ],
)
def test_bad_plans_are_refused(params, message):
    with pytest.raises(ConfigError, match=message):
        DecodingRegressor(family="tabular", **params).plan()


def test_fit_resolves_one_plan_and_builds_one_objective(monkeypatch):
    calls = {"plans": 0, "objectives": 0}
    resolve = plan_module.resolve_plan
    factory = FAMILIES["tabular"].objectives["ce"]

    def counting_resolve(*args, **kwargs):
        calls["plans"] += 1
        return resolve(*args, **kwargs)

    def counting_factory(**options):
        calls["objectives"] += 1
        return factory(**options)

    monkeypatch.setattr("decoreg.estimator.regressor.resolve_plan", counting_resolve)
    monkeypatch.setitem(FAMILIES["tabular"].objectives, "ce", counting_factory)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    DecodingRegressor(**SMALL).fit(frame, frame["a"].to_numpy())
    assert calls == {"plans": 1, "objectives": 1}


def test_with_decoder_swaps_the_decoder_and_its_options():
    plan = DecodingRegressor(family="tabular", num_samples=8).plan()
    quantile = plan.with_decoder("sample-quantile", quantile=0.9)
    assert quantile.decoder_name == "sample-quantile" and quantile.decoder.quantile == 0.9
    assert quantile.decoder.num_samples == 8 and plan.decode.quantile == 0.5
    with pytest.raises(ConfigError, match="unknown decoder 'grid-quantile' for the tabular"):
        plan.with_decoder("grid-quantile")


def test_the_plan_cannot_be_changed():
    plan = DecodingRegressor(family="tabular").plan()
    with pytest.raises(AttributeError):
        plan.decoder_name = "greedy"
    with pytest.raises(TypeError):
        plan.params["grid"] = [1, 2]
