"""Each family owns the estimator parameters only it reads (`Family.owned_params`); an option
that the chosen family would ignore, set away from its default, is refused before any data is
read."""

from __future__ import annotations

import json
import logging
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from decoreg.config import DecodeConfig
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from decoreg.estimator.plan import SHARED_PARAMS
from decoreg.families import FAMILIES
from decoreg.tabular.decoding import TABULAR_DECODERS

PARAMS = set(DecodingRegressor._get_param_names())
DEFAULTS = DecodingRegressor.param_defaults()

# A value away from the default for every owned parameter.
SET_VALUES = {
    "model": "some-model",
    "text_column": "a",
    "template": "Q: {text} ",
    "decimals": 2,
    "grid": [0, 1, 2],
    "scale_targets": "never",
    "max_prompt_tokens": 64,
    "trust_remote_code": True,
    "head": "mlp",
    "special_token": "<eos>",
    "init": "random",
    "lora_rank": 2,
    "lora_alpha": 8.0,
    "lora_targets": ["q_proj"],
    "gradient_checkpointing": True,
    "normalize_grid": False,
    "max_new_tokens": 4,
    "tabular_options": {"d_model": 8},
}
FOREIGN = [
    (family.name, name)
    for family in FAMILIES.values()
    for other in FAMILIES.values()
    if other is not family
    for name in sorted(other.owned_params - family.owned_params)
]


class RecordingParams(dict):
    """The estimator's parameters, remembering which ones were read."""

    def __init__(self, values):
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_every_parameter_is_shared_or_owned_by_a_family():
    owned = set().union(*(f.owned_params for f in FAMILIES.values()))
    assert SHARED_PARAMS | owned == PARAMS
    assert not SHARED_PARAMS & owned
    assert set(SET_VALUES) == owned  # a new owned parameter needs an example value here


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_reads_only_shared_and_its_own_parameters(name):
    family = FAMILIES[name]
    params = RecordingParams(DecodingRegressor(family=name).get_params())
    family.check_options(params)
    frame = pd.DataFrame({"text": ["a b", "c d"], "x": [1.0, 2.0]})
    family.select_inputs(params, frame, "<input>")
    if name == "tabular":  # builds no pretrained model, so the build can run here
        family.build(params, frame[["x"]], np.array([1.0, 2.0]))
    assert params.read <= SHARED_PARAMS | family.owned_params
    assert params.read & family.owned_params  # the family does read what it owns


def test_tabular_decoders_read_only_the_shared_decoder_options():
    read = set().union(*({f.name for f in fields(d)} for d in TABULAR_DECODERS.values()))
    decode_options = {f.name for f in fields(DecodeConfig)} & read
    assert decode_options <= SHARED_PARAMS
    assert {"normalize_grid", "max_new_tokens"} <= FAMILIES["causal-lm"].owned_params


@pytest.mark.parametrize(("family", "name"), FOREIGN)
def test_an_option_the_family_ignores_is_refused_before_data_is_read(family, name):
    est = DecodingRegressor(family=family, **{name: SET_VALUES[name]})
    with pytest.raises(ConfigError, match=rf"the {family} family ignores {name}=.*an option of"):
        est.fit(object(), None)  # nothing is read: the plan is refused first


def test_the_refusal_names_every_ignored_option_and_its_family():
    est = DecodingRegressor(family="tabular", grid=[1, 2], head="mlp")
    with pytest.raises(ConfigError) as error:
        est.plan()
    message = str(error.value)
    assert "grid=[1, 2]" in message and "head='mlp'" in message
    assert "family='causal-lm'" in message and "them at the default" in message


def test_options_left_at_their_defaults_are_accepted():
    explicit = {name: DEFAULTS[name] for name in FAMILIES["causal-lm"].owned_params}
    plan = DecodingRegressor(family="tabular", **explicit).plan()
    assert plan.family.name == "tabular"
    assert DecodingRegressor(tabular_options=None).plan().family.name == "causal-lm"


def test_a_folder_saved_with_an_ignored_option_loads_without_it(tmp_path, caplog):
    """The previous version saved options the tabular family ignored; loading resets them."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)})
    y = frame["a"].to_numpy() * 2
    est = DecodingRegressor(
        family="tabular", max_steps=2, verbose=False, decoder="greedy",
        tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
    ).fit(frame, y)  # fmt: skip
    before = est.predict(frame)
    est.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "decoreg.json"
    meta = json.loads(meta_path.read_text())
    meta["params"].update(grid=[0, 1], model="smollm2-135m")
    meta.pop("inputs")  # the previous version did not record the fit-time inputs
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        loaded = DecodingRegressor.load(tmp_path / "m")
    assert "ignored grid=[0, 1], model='smollm2-135m'" in caplog.text
    assert loaded.grid is None and loaded.model is None
    np.testing.assert_array_equal(loaded.predict(frame), before)
    assert not hasattr(loaded, "n_features_in_")
