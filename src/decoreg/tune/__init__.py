"""Optuna studies over `DecodingRegressor` parameters, for either family and any objective.

    space.py     ParamSpec / SearchSpace: what a study varies, and its YAML file
    defaults.py  the default space per family and kind of objective; checking a file's
    storage.py   the SQLite study: writable URL, fingerprint, resume after a kill
    study.py     `tune`: trials pruned on the training loop's validation RMSE
    outputs.py   params.yaml (for `decoreg train --config`), trials.csv, PNG plots

Optuna is imported only when a study runs, so `import decoreg` works without it.
"""

from decoreg.tune.space import ParamSpec, SearchSpace
from decoreg.tune.study import TuneResult, tune

__all__ = ["ParamSpec", "SearchSpace", "TuneResult", "tune"]
