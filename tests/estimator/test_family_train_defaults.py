"""Training options left at None take the family's defaults (`Family.train_defaults`): the
LM-tuned TrainConfig values for causal LMs, larger rates and batches for the tabular family.
The CLI passes None for options the user did not give, so both faces agree."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from decoreg.cli import build_parser, main
from decoreg.cli.common import parse_options
from decoreg.config import TrainConfig
from decoreg.errors import DecoregError
from decoreg.estimator import DecodingRegressor
from decoreg.families import FAMILIES
from decoreg.tabular.build import TRAIN_DEFAULTS

RESOLVED = (
    "learning_rate",
    "batch_size",
    "max_steps",
    "warmup_steps",
    "eval_every",
    "early_stopping_patience",
)


def test_tabular_family_resolves_its_training_defaults():
    config = DecodingRegressor(family="tabular").train_config()
    for name in RESOLVED:
        assert getattr(config, name) == TRAIN_DEFAULTS[name]
    assert config.learning_rate == 1e-3 and config.batch_size == 128
    assert config.precision == "fp32"


def test_causal_lm_family_keeps_the_train_config_defaults():
    config, lm_defaults = DecodingRegressor().train_config(), TrainConfig()
    assert FAMILIES["causal-lm"].train_defaults == {}
    for name in RESOLVED:
        assert getattr(config, name) == getattr(lm_defaults, name)


def test_an_objective_default_replaces_the_family_default_for_that_objective(monkeypatch):
    import dataclasses

    family = FAMILIES["tabular"]
    patched = dataclasses.replace(family, objective_train_defaults={"ntl-was": {"learning_rate":
                                  2e-3, "max_steps": 7}})  # fmt: skip
    monkeypatch.setitem(FAMILIES, "tabular", patched)
    ntl = DecodingRegressor(family="tabular", objective="ntl-was")
    assert ntl.train_option("learning_rate") == 2e-3 and ntl.train_config().max_steps == 7
    assert ntl.train_option("batch_size") == TRAIN_DEFAULTS["batch_size"]  # the family's
    ce = DecodingRegressor(family="tabular", objective="ce")
    assert ce.train_option("learning_rate") == TRAIN_DEFAULTS["learning_rate"]
    given = DecodingRegressor(family="tabular", objective="ntl-was", learning_rate=5e-4)
    assert given.train_config().learning_rate == 5e-4  # a value given still wins
    lm = FAMILIES["causal-lm"]
    monkeypatch.setitem(FAMILIES, "causal-lm", dataclasses.replace(
        lm, objective_train_defaults={lm.default_objective: {"learning_rate": 4e-4}}))  # fmt: skip
    assert DecodingRegressor().train_option("learning_rate") == 4e-4  # no objective: default's


def test_the_head_objective_takes_its_own_learning_rate():
    from decoreg.causal_lm.build import OBJECTIVE_TRAIN_DEFAULTS

    head = DecodingRegressor(objective="head").train_config().learning_rate
    assert head == OBJECTIVE_TRAIN_DEFAULTS["head"]["learning_rate"] == 3e-4
    assert DecodingRegressor(objective="remax").train_config().learning_rate == 3e-5  # RL: none
    assert DecodingRegressor(objective="head", learning_rate=1e-5).train_option(
        "learning_rate") == 1e-5  # fmt: skip


def test_explicit_options_win_and_survive_clone():
    estimator = DecodingRegressor(family="tabular", learning_rate=5e-4, early_stopping_patience=0)
    copy = clone(estimator)
    assert copy.get_params()["batch_size"] is None  # unset stays unset
    config = copy.train_config()
    assert config.learning_rate == 5e-4 and config.early_stopping_patience == 0
    assert config.batch_size == TRAIN_DEFAULTS["batch_size"]


def test_cli_leaves_unset_training_options_to_the_family():
    args = build_parser().parse_args(["train", "d.csv", "--target-column", "y", "--output", "o"])
    for name in RESOLVED:
        assert getattr(args, name) is None, name
    assert not args.no_bf16


def test_cli_tabular_training_uses_the_family_rate_and_fp32(tmp_path):
    """The first step's learning rate is peak * (1 + 1) / warmup under the linear warm-up
    (`training._schedule` after one scheduler step): 1e-3 * 2 / 100 = 2e-5 with the tabular
    defaults, where the LM defaults would give 3e-5 * 2 / 10 = 6e-6. bf16 stays unset (None)
    so the family's fp32 applies."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["y"] = 2 * frame["a"] - frame["b"]
    data, out = tmp_path / "rows.csv", tmp_path / "model"
    frame.to_csv(data, index=False)
    options = ["d_model=16", "heads=2", "layers=1", "ff_size=32"]
    code = main(
        ["train", str(data), "--family", "tabular", "--target-column", "y", "--output", str(out)]
        + ["--max-steps", "2", "--num-samples", "4"]
        + [arg for option in options for arg in ("--tabular-option", option)]
    )
    assert code == 0
    log = json.loads((out / "metrics.json").read_text())["log"]
    assert np.isclose(log[0]["lr"], 2e-5)
    params = json.loads((out / "decoreg.json").read_text())["params"]
    assert params["bf16"] is None and params["learning_rate"] is None
    assert DecodingRegressor.load(out).train_config().precision == "fp32"


def test_cli_option_values_starting_with_a_brace_are_json():
    parsed = parse_options(['tokenizer_options={"digits": 4}', "d_model=64", "x=[1, 2]"])
    assert parsed == {"tokenizer_options": {"digits": 4}, "d_model": 64, "x": [1, 2]}
    with pytest.raises(DecoregError, match=r"'\{digits: 4\}' is not valid JSON"):
        parse_options(["tokenizer_options={digits: 4}"])
