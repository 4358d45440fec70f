"""A parsed suite and its expansion into cells: grids, dataset entries, and each cell's
parameters, config and keys.

Parameters of a decoding cell are merged in this order, later ones winning: the dataset's
columns and template, the grid's `params`, the dataset's `params`, the grid's
`method_params[method]`, in quick mode the quick `params`, and last the method's own
registry parameters (so zero-shot stays zero-shot in quick mode). Dict parameters
(`tabular_options`, `objective_options`) merge key by key. A layer that sets
`max_steps` or `epochs` replaces both of the earlier layers' (so `params: {epochs: 1}` and a
quick `{max_steps: 4}` never meet). Suites are read from YAML by `decoreg.bench.suite`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decoreg.bench.methods import Method, get_method
from decoreg.datasets import DATASETS

SIZE_KEYS = ("train_rows", "validation_rows", "test_rows")
_CELL_PARAM_DEFAULTS = {"verbose": False}
# How a cell picks its rows (part of its key): a seeded sample of each split. Cells measured
# on the splits' first rows (before 2026-12-02, biased on files sorted by the target) differ.
ROWS_FROM = "seeded-sample"
DEFAULT_BUDGET_MINUTES = 90  # a suite file's budget_minutes when it names none
STEP_PARAMS = ("max_steps", "epochs")  # either sets a run's length; the estimator takes one


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
        return {"name": self.name, **{k: getattr(self, k) for k in SIZE_KEYS},
                "rows_from": ROWS_FROM, **dict(self.file_options)}  # fmt: skip


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
    budget_minutes: int = DEFAULT_BUDGET_MINUTES  # what the full suite may take on 2 cores

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
    sizes = {k: min(getattr(entry, k), quick[k]) for k in SIZE_KEYS}
    return DatasetEntry(
        entry.name, **sizes, params=entry.params, file_options=entry.file_options, path=entry.path
    )


def _dataset_params(entry: DatasetEntry, method: Method) -> dict[str, Any]:
    if entry.is_file:
        options = dict(entry.file_options)
        columns = {k: options.get(k) for k in ("text_column", "feature_columns", "template")}
    else:
        columns = DATASETS[entry.name].estimator_params()
    if method.family != "causal-lm":
        columns.pop("template", None)
    return {k: v for k, v in columns.items() if v is not None}


def _merged(earlier: Any, later: Any) -> Any:
    """`later`, or for two dicts (tabular_options, objective_options) `earlier` updated by
    `later` key by key, so a dataset's tuned width and a method's reward both hold."""
    if isinstance(earlier, Mapping) and isinstance(later, Mapping):
        return {**earlier, **{k: _merged(earlier.get(k), v) for k, v in later.items()}}
    return later


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
    layers = [grid.params, entry.params, grid.method_params.get(method.name, {})]
    if quick:
        layers.append(suite.quick.get("params", {}))
    for layer in (*layers, method.params):
        if any(name in layer for name in STEP_PARAMS):
            params = {k: v for k, v in params.items() if k not in STEP_PARAMS}
        params.update({k: _merged(params.get(k), v) for k, v in layer.items()})
    if model is not None:
        params["model"] = model
    params["random_state"] = seed
    return params
