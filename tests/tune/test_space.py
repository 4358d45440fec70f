"""Search spaces: specs, the defaults per family and objective, and the file's checks."""

from __future__ import annotations

import pytest
import yaml

from decoreg.errors import ConfigError
from decoreg.tune import ParamSpec, SearchSpace
from decoreg.tune.defaults import resolve_space
from decoreg.tune.space import apply_values

TABULAR = dict(family="tabular")


def space_file(tmp_path, params, **top):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({**top, "params": params}))
    return path


# ------------------------------------------------------------------------------ specs
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dict(kind="float", low=1.0, high=1.0), r"the range \[1.0, 1.0\] is empty"),
        (dict(kind="int", low=4, high=2), r"the range \[4, 2\] is empty"),
        (dict(kind="float", low=0.0, high=1.0, log=True), "a log range needs low > 0"),
        (dict(kind="int", low=1, high=2.5), "an int parameter needs int bounds"),
        (dict(kind="categorical", choices=()), "the choices are empty"),
        (dict(kind="categorical", choices=([1, 2],)), "a choice must be a number"),
        (dict(kind="float", low=0.0, high=1.0, step=-1), "step must be a number > 0"),
        (dict(kind="uniform", low=0.0, high=1.0), "type must be one of"),
    ],
)
def test_bad_specs_name_the_parameter(spec, message):
    with pytest.raises(ConfigError, match=message) as caught:
        ParamSpec("x", **spec)
    assert "parameter 'x'" in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ({"low": 1, "high": 3}, "int"),
        ({"low": 1, "high": 3.0}, "float"),
        ({"low": 1, "high": 3, "type": "float"}, "float"),
        ({"choices": [32, 64]}, "categorical"),
    ],
)
def test_a_files_entry_infers_its_type(entry, kind):
    assert ParamSpec.from_mapping("x", entry).kind == kind


def test_dotted_names_set_keys_of_dict_parameters_without_changing_the_base():
    base = {"tabular_options": {"d_model": 32}, "learning_rate": None}
    values = {
        "learning_rate": 0.01,
        "tabular_options.layers": 3,
        "tabular_options.tokenizer_options.base": 4,
        "objective_options.num_samples": 8,
    }
    assert apply_values(base, values) == {
        "learning_rate": 0.01,
        "tabular_options": {"d_model": 32, "layers": 3, "tokenizer_options": {"base": 4}},
        "objective_options": {"num_samples": 8},
    }
    assert base == {"tabular_options": {"d_model": 32}, "learning_rate": None}


# --------------------------------------------------------------------------- defaults
def test_the_tabular_default_space():
    assert resolve_space(TABULAR).names == (
        "tabular_options.tokenizer_options.base",
        "tabular_options.tokenizer_options.digits",
        "tabular_options.d_model",
        "tabular_options.layers",
        "tabular_options.dropout",
        "tabular_options.numeric_embedding",
        "learning_rate",
    )


def test_the_causal_lm_default_space_uses_epochs():
    names = resolve_space({}).names
    assert names == ("learning_rate", "epochs", "warmup_steps", "batch_size", "lora_rank")


@pytest.mark.parametrize("family", ["tabular", "causal-lm"])
def test_rl_objectives_search_the_rl_options(family):
    space = resolve_space({"family": family, "objective": "grpo"})
    assert space.names == (
        "learning_rate",
        "objective_options.num_samples",
        "objective_options.expert_weight",
        "objective_options.temperature",
        "objective_options.reward",
    )
    assert space.params[0].high <= 1e-3  # RL starts from a trained model: smaller steps


def test_a_value_given_is_kept_out_of_the_search():
    params = {**TABULAR, "learning_rate": 1e-3, "tabular_options": {"d_model": 16, "heads": 2}}
    names = resolve_space(params).names
    assert "learning_rate" not in names and "tabular_options.d_model" not in names
    assert "tabular_options.layers" in names


def test_max_steps_given_keeps_epochs_out_of_the_search():
    assert "epochs" not in resolve_space({"max_steps": 100}).names


def test_defaults_the_tokenizer_cannot_take_are_left_out():
    names = resolve_space({**TABULAR, "tabular_options": {"tokenizer": "p10"}}).names
    assert "tabular_options.tokenizer_options.base" not in names  # p10 has no base
    assert "tabular_options.tokenizer_options.digits" in names


# ------------------------------------------------------------------------------ files
def test_a_file_replaces_removes_and_adds_defaults(tmp_path):
    path = space_file(
        tmp_path,
        {
            "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
            "tabular_options.dropout": None,
            "tabular_options.ff_size": {"choices": [64, 128]},
        },
    )
    space = resolve_space(TABULAR, path)
    assert "tabular_options.dropout" not in space.names
    specs = {spec.name: spec for spec in space.params}
    assert specs["learning_rate"].low == 1e-4
    assert specs["tabular_options.ff_size"].choices == (64, 128)
    assert space.source == f"search space {path}"


def test_a_file_without_the_defaults(tmp_path):
    path = space_file(
        tmp_path, {"tabular_options.layers": {"low": 1, "high": 2}}, include_defaults=False
    )
    assert resolve_space(TABULAR, path).names == ("tabular_options.layers",)


def test_a_files_max_steps_replaces_the_default_epochs(tmp_path):
    path = space_file(tmp_path, {"max_steps": {"low": 50, "high": 200}})
    names = resolve_space({}, path).names
    assert "max_steps" in names and "epochs" not in names


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rat": {"low": 1e-4, "high": 1e-2}}, r"unknown parameter 'learning_rat'"),
        ({"max_steps.x": {"low": 1, "high": 2}}, r"unknown parameter 'max_steps.x'"),
        ({"learning_rate": {"low": 1e-2, "high": 1e-4}}, r"parameter 'learning_rate'.*empty"),
        ({"learning_rate": {"lo": 1e-4, "high": 1e-2}}, r"parameter 'learning_rate'.*'lo'"),
        (
            {"lora_rank": {"choices": [0, 8]}},
            r"parameter 'lora_rank' is not one the tabular family takes.*causal-lm",
        ),
        (
            {"tabular_options.d_modle": {"choices": [32]}},
            r"parameter 'tabular_options.d_modle' = 32 is refused.*unknown tabular_options",
        ),
        (
            {"objective_options.num_samples": {"low": 2, "high": 8}},
            r"parameter 'objective_options.num_samples' = 2 is refused.*objective 'ce'",
        ),
        (
            {"tabular_options.d_model": {"choices": [30, 32]}},
            r"parameter 'tabular_options.d_model' = 30 is refused.*heads \(4\) must divide",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_parameter(tmp_path, params, message):
    path = space_file(tmp_path, params)
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_space(TABULAR, path)
    assert str(path) in str(caught.value)


def test_epochs_and_max_steps_in_one_file_are_refused_together(tmp_path):
    path = space_file(
        tmp_path, {"max_steps": {"low": 5, "high": 9}, "epochs": {"low": 1, "high": 2}}
    )
    with pytest.raises(ConfigError, match=rf"{path}.*refused together"):
        resolve_space(TABULAR, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params: [1, 2]", "'params' must be a mapping"),
        (
            "learning_rate: {low: 1, high: 2}",
            r"unknown key 'learning_rate'.*under 'params'",
        ),
        ("params: {a: 1", "not valid YAML"),
        ("include_defaults: false\nparams: {}", "the search space is empty"),
    ],
)
def test_badly_shaped_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_space(TABULAR, path)
    assert str(path) in str(caught.value)


def test_a_space_from_python_is_used_as_it_is():
    space = SearchSpace((ParamSpec("tabular_options.layers", "int", 1, 2),), source="mine")
    assert resolve_space(TABULAR, space).names == ("tabular_options.layers",)
