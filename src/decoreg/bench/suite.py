"""Benchmark suites: a YAML file naming datasets x methods x models x seeds, checked strictly.

A suite file looks like this (every key is checked; a misspelled key is an error naming it)::

    name: raft-cpu
    description: The RAFT paper's Table 3 on CPU.
    seeds: [0, 1]
    data_seed: 0                  # seed of the dataset's train/validation/test split
    quick:                        # what --quick shrinks every cell to
      train_rows: 32
      validation_rows: 16
      test_rows: 32
      seeds: [0]
      params: {max_steps: 4}
    grids:
      - name: reviews
        datasets:
          clothing-reviews: {train_rows: 400, validation_rows: 64, test_rows: 300}
          my_data.csv: {train_rows: 400, validation_rows: 64, test_rows: 300,
                        target_column: y, text_column: review}
        methods: [zero-shot-rail, raft, ridge-tfidf]
        models: [smollm2-135m]   # for causal-LM methods only
        params: {max_steps: 100}  # DecodingRegressor parameters of every decoding method
                                  # (or {epochs: 1}: a later layer's one replaces both)
        method_params: {raft: {learning_rate: 5.0e-5}}
    orderings: ["raft < ce-rail"]   # the papers' claims, checked on test RMSE per dataset
    budget_minutes: 90              # what the full suite may take on 2 cores (the report checks)

`parse_suite` checks such a document and builds a `decoreg.bench.cells.Suite`, which expands
into cells (that module says in which order a cell's parameters are merged).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from decoreg.bench.cells import (
    DEFAULT_BUDGET_MINUTES,
    SIZE_KEYS,
    STEP_PARAMS,
    DatasetEntry,
    Grid,
    Suite,
)
from decoreg.bench.methods import get_method
from decoreg.datasets import DATASETS, dataset_names
from decoreg.errors import ConfigError, check_keys

SUITES_DIR = Path(__file__).parent / "suites"
_SUITE_KEYS = {"name", "description", "seeds", "data_seed", "quick", "grids", "orderings",
               "budget_minutes"}  # fmt: skip
_QUICK_KEYS = {"train_rows", "validation_rows", "test_rows", "seeds", "params"}
_GRID_KEYS = {"name", "datasets", "methods", "models", "params", "method_params"}
_FILE_KEYS = {"target_column", "text_column", "feature_columns", "template"}
_DATASET_KEYS = {*SIZE_KEYS, "params", *_FILE_KEYS}


def builtin_suites() -> list[str]:
    """Names of the suites shipped with decoreg (``suites/*.yaml``), sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def estimator_param_names() -> set[str]:
    """The parameters `DecodingRegressor` accepts."""
    from decoreg.estimator import DecodingRegressor

    return set(inspect.signature(DecodingRegressor.__init__).parameters) - {"self"}


def _int_list(value: Any, where: str) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError(f"{where}: expected a non-empty list of integers, got {value!r}")
    return tuple(value)


def _rows(value: Any, where: str, allow_zero: bool) -> int:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{where}: expected an integer >= {low}, got {value!r}")
    return value


def _params(value: Any, where: str, names: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    check_keys(value, names, where)
    if all(name in value for name in STEP_PARAMS):
        raise ConfigError(
            f"{where}: max_steps and epochs are refused together (epochs sets the steps from "
            "the training rows); give one of them"
        )
    return dict(value)


def _dataset_entry(name: str, value: Any, where: str, base: Path, names: set[str]):
    check_keys(value, _DATASET_KEYS, where, required=set(SIZE_KEYS))
    file_options = {k: value[k] for k in _FILE_KEYS if k in value}
    path = None
    if name not in DATASETS:
        path = Path(name) if Path(name).is_absolute() else base / name
        if not path.is_file():
            raise ConfigError(
                f"{where}: {name!r} is neither a built-in dataset nor a file; built-in "
                f"datasets: {', '.join(dataset_names())}"
            )
        if "target_column" not in file_options:
            raise ConfigError(f"{where}: a data file needs target_column")
        if ("text_column" in file_options) == ("feature_columns" in file_options):
            raise ConfigError(f"{where}: a data file needs text_column or feature_columns")
        path = str(path)
    elif file_options:
        raise ConfigError(
            f"{where}: {sorted(file_options)} only apply to data files; {name!r} is built in"
        )
    return DatasetEntry(
        name=name,
        train_rows=_rows(value["train_rows"], f"{where}.train_rows", allow_zero=False),
        validation_rows=_rows(value["validation_rows"], f"{where}.validation_rows", True),
        test_rows=_rows(value["test_rows"], f"{where}.test_rows", allow_zero=False),
        params=_params(value.get("params"), f"{where}.params", names),
        file_options=file_options,
        path=path,
    )


def _dataset_kind(entry: DatasetEntry) -> str:
    if entry.is_file:
        return "text" if "text_column" in entry.file_options else "tabular"
    return DATASETS[entry.name].kind


def _grid(value: Any, where: str, base: Path, names: set[str]) -> Grid:
    check_keys(value, _GRID_KEYS, where, required={"name", "datasets", "methods"})
    if not isinstance(value["datasets"], Mapping) or not value["datasets"]:
        raise ConfigError(f"{where}.datasets: expected a non-empty mapping name -> sizes")
    datasets = tuple(
        _dataset_entry(str(n), v, f"{where}.datasets.{n}", base, names)
        for n, v in value["datasets"].items()
    )
    if not isinstance(value["methods"], list) or not value["methods"]:
        raise ConfigError(f"{where}.methods: expected a non-empty list of method names")
    methods = tuple(get_method(str(m)) for m in value["methods"])
    for method in methods:
        for entry in datasets:
            if _dataset_kind(entry) not in method.data_kinds:
                raise ConfigError(
                    f"{where}: method {method.name!r} works on {'/'.join(method.data_kinds)} "
                    f"data but {entry.name!r} is {_dataset_kind(entry)}; put them in "
                    "separate grids"
                )
    models = value.get("models") or ["smollm2-135m"]
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{where}.models: expected a list of model names")
    method_params = value.get("method_params") or {}
    check_keys(method_params, {m.name for m in methods}, f"{where}.method_params")
    return Grid(
        name=str(value["name"]),
        datasets=datasets,
        methods=methods,
        models=tuple(models),
        params=_params(value.get("params"), f"{where}.params", names),
        method_params={
            m: _params(p, f"{where}.method_params.{m}", names) for m, p in method_params.items()
        },
    )


def parse_suite(data: Any, source: str, base: Path = Path()) -> Suite:
    """Check a suite's YAML data and build the `Suite`.

    Args:
        data: The parsed YAML document.
        source: File name used in error messages.
        base: Folder that relative data-file paths are resolved against.

    Raises:
        ConfigError: Naming the key, dataset or method that is wrong.
    """
    check_keys(data, _SUITE_KEYS, source, required={"name", "description", "seeds", "grids"})
    names = estimator_param_names()
    seeds = _int_list(data["seeds"], f"{source}: seeds")
    quick = check_keys(data.get("quick") or {}, _QUICK_KEYS, f"{source}: quick",
                        required={*SIZE_KEYS, "seeds"})  # fmt: skip
    quick = {
        **{k: _rows(quick[k], f"{source}: quick.{k}", k == "validation_rows") for k in SIZE_KEYS},
        "seeds": _int_list(quick["seeds"], f"{source}: quick.seeds"),
        "params": _params(quick.get("params"), f"{source}: quick.params", names),
    }
    if not isinstance(data["grids"], list) or not data["grids"]:
        raise ConfigError(f"{source}: grids must be a non-empty list")
    grids = tuple(
        _grid(g, f"{source}: grids[{i}]", base, names) for i, g in enumerate(data["grids"])
    )
    grid_names = [g.name for g in grids]
    if len(set(grid_names)) != len(grid_names):
        raise ConfigError(f"{source}: grid names must be unique, got {grid_names}")
    orderings = _orderings(data.get("orderings") or [], grids, source)
    data_seed = data.get("data_seed", 0)
    if not isinstance(data_seed, int) or isinstance(data_seed, bool):
        raise ConfigError(f"{source}: data_seed must be an integer, got {data_seed!r}")
    budget = data.get("budget_minutes", DEFAULT_BUDGET_MINUTES)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ConfigError(f"{source}: budget_minutes must be an integer >= 1, got {budget!r}")
    return Suite(
        budget_minutes=budget,
        name=str(data["name"]),
        description=str(data["description"]),
        source=source,
        seeds=seeds,
        data_seed=data_seed,
        quick=quick,
        grids=grids,
        orderings=orderings,
    )


def _orderings(value: Any, grids: tuple[Grid, ...], source: str) -> tuple[tuple[str, str], ...]:
    """``["a < b", ...]`` -> ((a, b), ...): method a should have the lower test RMSE."""
    if not isinstance(value, list):
        raise ConfigError(f"{source}: orderings must be a list of 'method < method' strings")
    methods = {m.name for grid in grids for m in grid.methods}
    pairs = []
    for claim in value:
        parts = [p.strip() for p in str(claim).split("<")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{source}: ordering {claim!r} is not of the form 'a < b'")
        unknown = [p for p in parts if p not in methods]
        if unknown:
            raise ConfigError(
                f"{source}: ordering {claim!r} names {unknown[0]!r}, which no grid runs; the "
                f"suite's methods: {', '.join(sorted(methods))}"
            )
        pairs.append((parts[0], parts[1]))
    return tuple(pairs)


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a built-in suite by name or a suite YAML file.

    Raises:
        ConfigError: If it is neither (listing the built-in suites) or the file is invalid.
    """
    path = Path(name_or_path)
    if not path.is_file():
        builtin = SUITES_DIR / f"{name_or_path}.yaml"
        if not builtin.is_file():
            raise ConfigError(
                f"suite {str(name_or_path)!r} is neither a built-in suite nor a file; "
                f"built-in suites: {', '.join(builtin_suites())}"
            )
        path = builtin
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_suite(data, path.name, base=path.parent)
