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
        method_params: {raft: {learning_rate: 5.0e-5}}
    orderings: ["raft < ce-rail"]   # the papers' claims, checked on test RMSE per dataset

Parameters of a decoding cell are merged in this order, later ones winning: the dataset's
columns and template, the grid's `params`, the dataset's `params`, the grid's
`method_params[method]`, in quick mode the quick `params`, and last the method's own
registry parameters (so zero-shot stays zero-shot in quick mode).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from decoreg.bench.methods import Method, get_method
from decoreg.datasets import DATASETS, dataset_names
from decoreg.errors import ConfigError

SUITES_DIR = Path(__file__).parent / "suites"
_SUITE_KEYS = {"name", "description", "seeds", "data_seed", "quick", "grids", "orderings"}
_QUICK_KEYS = {"train_rows", "validation_rows", "test_rows", "seeds", "params"}
_GRID_KEYS = {"name", "datasets", "methods", "models", "params", "method_params"}
_SIZE_KEYS = ("train_rows", "validation_rows", "test_rows")
_FILE_KEYS = {"target_column", "text_column", "feature_columns", "template"}
_DATASET_KEYS = {*_SIZE_KEYS, "params", *_FILE_KEYS}
_CELL_PARAM_DEFAULTS = {"verbose": False}


def builtin_suites() -> list[str]:
    """Names of the suites shipped with decoreg (``suites/*.yaml``), sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def estimator_param_names() -> set[str]:
    """The parameters `DecodingRegressor` accepts."""
    from decoreg.estimator import DecodingRegressor

    return set(inspect.signature(DecodingRegressor.__init__).parameters) - {"self"}


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of a grid: a registry name or a data file, with its sizes for one run."""

    name: str
    train_rows: int
    validation_rows: int
    test_rows: int
    params: Mapping[str, Any] = field(default_factory=dict)
    file_options: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None  # resolved location of a data file (None for built-in data)

    @property
    def is_file(self) -> bool:
        return self.path is not None

    def spec(self) -> dict[str, Any]:
        """What identifies the rows a cell sees (part of the cell's key)."""
        return {"name": self.name, **{k: getattr(self, k) for k in _SIZE_KEYS},
                **dict(self.file_options)}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One run: a method on a dataset with one model and one seed.

    Attributes:
        grid: Name of the grid the cell belongs to.
        dataset: The dataset entry (sizes already shrunk in quick mode).
        method: The method.
        model: The pretrained model (causal-LM methods) or None.
        seed: Seed of training, sampling and the baseline.
        data_seed: Seed of the dataset's split.
        params: Resolved `DecodingRegressor` parameters (empty for baselines).
    """

    grid: str
    dataset: DatasetEntry
    method: Method
    model: str | None
    seed: int
    data_seed: int
    params: Mapping[str, Any]
    warm_start: Cell | None = None

    @property
    def cell_id(self) -> str:
        return f"{self.grid}/{self.dataset.name}/{self.method.name}/{self.model or '-'}/{self.seed}"

    def config(self) -> dict[str, Any]:
        """Everything that decides the cell's result, as plain JSON-able values."""
        return {
            "grid": self.grid,
            "dataset": self.dataset.spec(),
            "data_seed": self.data_seed,
            "method": self.method.name,
            "model": self.model,
            "seed": self.seed,
            "params": dict(sorted(self.params.items())),
            "warm_start": None if self.warm_start is None else self.warm_start.config(),
        }

    @property
    def key(self) -> str:
        """Hash of `config()`: a finished cell with this key is not run again."""
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def fit_key(self) -> str | None:
        """Cells with equal fit keys can share one fitted model (they differ only in decoding).

        None for baselines, which are cheap and not shared.
        """
        if self.method.is_baseline:
            return None
        fit_params = {k: v for k, v in self.params.items() if k != "decoder"}
        config = {**self.config(), "params": fit_params, "method": None}
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Grid:
    name: str
    datasets: tuple[DatasetEntry, ...]
    methods: tuple[Method, ...]
    models: tuple[str, ...]
    params: Mapping[str, Any]
    method_params: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Suite:
    """A parsed, validated suite."""

    name: str
    description: str
    source: str
    seeds: tuple[int, ...]
    data_seed: int
    quick: Mapping[str, Any]
    grids: tuple[Grid, ...]
    orderings: tuple[tuple[str, str], ...] = ()

    def cells(self, quick: bool = False) -> list[Cell]:
        """All cells in a stable order: seed, grid, dataset, method, model.

        Seeds come first so that a run cut short has every method with its first seeds.
        """
        seeds = tuple(self.quick["seeds"]) if quick else self.seeds
        cells = []
        for seed in seeds:
            for grid in self.grids:
                for entry in grid.datasets:
                    if quick:
                        entry = _shrink(entry, self.quick)
                    for method in grid.methods:
                        models = grid.models if method.uses_pretrained_model else (None,)
                        for model in models:
                            cells.append(self._cell(grid, entry, method, model, seed, quick))
        return cells

    def _cell(self, grid, entry, method, model, seed, quick) -> Cell:
        warm = None
        if method.warm_start is not None:
            warm = self._cell(grid, entry, get_method(method.warm_start), model, seed, quick)
        params = _cell_params(self, grid, entry, method, model, seed, quick)
        return Cell(grid.name, entry, method, model, seed, self.data_seed, params, warm)


def _shrink(entry: DatasetEntry, quick: Mapping[str, Any]) -> DatasetEntry:
    sizes = {k: min(getattr(entry, k), quick[k]) for k in _SIZE_KEYS}
    return DatasetEntry(
        entry.name, **sizes, params=entry.params, file_options=entry.file_options, path=entry.path
    )


def _dataset_params(entry: DatasetEntry, method: Method) -> dict[str, Any]:
    if entry.is_file:
        options = dict(entry.file_options)
        columns = {k: options.get(k) for k in ("text_column", "feature_columns", "template")}
    else:
        info = DATASETS[entry.name]
        columns = {"text_column": info.text_column, "template": info.template,
                   "feature_columns": list(info.feature_columns) or None}  # fmt: skip
    if method.family != "causal-lm":
        columns.pop("template")
    return {k: v for k, v in columns.items() if v is not None}


def _cell_params(
    suite: Suite,
    grid: Grid,
    entry: DatasetEntry,
    method: Method,
    model: str | None,
    seed: int,
    quick: bool,
) -> dict[str, Any]:
    if method.is_baseline:
        return {}
    params = {**_CELL_PARAM_DEFAULTS, **_dataset_params(entry, method)}
    params.update(grid.params)
    params.update(entry.params)
    params.update(grid.method_params.get(method.name, {}))
    if quick:
        params.update(suite.quick.get("params", {}))
    params.update(method.params)
    if model is not None:
        params["model"] = model
    params["random_state"] = seed
    return params


# ----------------------------------------------------------------------------- parsing
def _check_keys(value: Any, allowed: set[str], where: str, required: set[str] = frozenset()):
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}"
            + (f" (and {unknown[1:]})" if len(unknown) > 1 else "")
            + f"; valid keys: {', '.join(sorted(allowed))}"
        )
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    return value


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
    _check_keys(value, names, where)
    return dict(value)


def _dataset_entry(name: str, value: Any, where: str, base: Path, names: set[str]):
    _check_keys(value, _DATASET_KEYS, where, required=set(_SIZE_KEYS))
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
    _check_keys(value, _GRID_KEYS, where, required={"name", "datasets", "methods"})
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
    _check_keys(method_params, {m.name for m in methods}, f"{where}.method_params")
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
    _check_keys(data, _SUITE_KEYS, source, required={"name", "description", "seeds", "grids"})
    names = estimator_param_names()
    seeds = _int_list(data["seeds"], f"{source}: seeds")
    quick = _check_keys(data.get("quick") or {}, _QUICK_KEYS, f"{source}: quick",
                        required={*_SIZE_KEYS, "seeds"})  # fmt: skip
    quick = {
        **{k: _rows(quick[k], f"{source}: quick.{k}", k == "validation_rows") for k in _SIZE_KEYS},
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
    return Suite(
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
