"""Suites with `epochs`: a later layer's max_steps or epochs replaces both of the earlier
layers', and one mapping setting both is refused."""

from __future__ import annotations

import copy

import pytest

from decoreg.bench.suite import parse_suite
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.bench.test_suite import BASE


def suite(grid_params, quick_params=None, method_params=None):
    data = copy.deepcopy(BASE)
    data["grids"][0]["params"] = grid_params
    if quick_params is not None:
        data["quick"]["params"] = quick_params
    if method_params is not None:
        data["grids"][0]["method_params"] = method_params
    return parse_suite(data, "t.yaml")


def params_of(suite_, method, quick=False):
    cells = [c for c in suite_.cells(quick=quick) if c.method.name == method]
    return cells[0].params


def test_a_grids_epochs_reach_the_cells_and_the_estimator():
    params = params_of(suite({"epochs": 2}), "ce-greedy")
    assert params["epochs"] == 2 and "max_steps" not in params
    assert DecodingRegressor(**params).plan().epochs == 2


def test_quick_max_steps_replace_a_grids_epochs():
    params = params_of(suite({"epochs": 2}, quick_params={"max_steps": 1}), "ce-greedy", True)
    assert params["max_steps"] == 1 and "epochs" not in params


def test_a_methods_epochs_replace_the_grids_max_steps():
    params = params_of(
        suite({"max_steps": 20}, method_params={"ce-rail": {"epochs": 1}}), "ce-rail"
    )
    assert params["epochs"] == 1 and "max_steps" not in params


def test_zero_shot_stays_zero_shot_under_a_grids_epochs():
    params = params_of(suite({"epochs": 2}), "zero-shot-rail-grid")
    assert params["max_steps"] == 0 and "epochs" not in params


def test_one_mapping_with_both_is_refused_naming_where():
    with pytest.raises(ConfigError, match=r"grids\[0\]\.params: max_steps and epochs are refused"):
        suite({"max_steps": 20, "epochs": 1})
