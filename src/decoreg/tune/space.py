"""Search spaces: what a study varies, as frozen and validated parameter specs.

A parameter is named as the estimator names it: a `DecodingRegressor` parameter
(``learning_rate``, ``epochs``, ``lora_rank``) or a dotted path into one of its dict
parameters (``tabular_options.d_model``, ``tabular_options.tokenizer_options.base``,
``objective_options.num_samples``), so the best trial's values are estimator parameters as
they are. A YAML file changes the defaults (`decoreg.tune.defaults`)::

    include_defaults: true          # false: only the parameters below
    params:
      learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
      tabular_options.layers: {low: 1, high: 4}        # int bounds: an int parameter
      tabular_options.d_model: {choices: [32, 64, 128]}
      tabular_options.dropout: null                    # a default left out of the study

Every spec is checked against the family: an unknown parameter, an empty range, or a
parameter the family does not take is a ConfigError naming the file and the parameter.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from decoreg.errors import ConfigError, check_keys

KINDS = ("float", "int", "categorical")
DICT_PARAMS = ("tabular_options", "objective_options")
"""Estimator parameters holding a dict; a dotted name sets one of their keys."""
STEP_PARAMS = ("max_steps", "epochs")
"""Either sets the run's length; the estimator refuses the two together."""
_SPEC_KEYS = {"type", "low", "high", "log", "step", "choices"}
_FILE_KEYS = {"include_defaults", "params"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a study.

    Attributes:
        name: An estimator parameter, or ``dict_param.key[.key]`` into `DICT_PARAMS`.
        kind: "float", "int" or "categorical".
        low: Smallest value (float and int).
        high: Largest value (float and int); above `low`.
        log: Sample on a log scale (low must be > 0).
        step: Spacing of the values (None: any float, every int).
        choices: The values of a categorical parameter.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        where = f"parameter {self.name!r}"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: type must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "categorical":
            if self.low is not None or self.high is not None or self.log or self.step:
                raise ConfigError(f"{where}: choices take no low, high, log or step")
            if not self.choices:
                raise ConfigError(f"{where}: the choices are empty; give at least one value")
            object.__setattr__(self, "choices", tuple(self.choices))
            for choice in self.choices:
                if choice is not None and not isinstance(choice, str | bool | int | float):
                    raise ConfigError(
                        f"{where}: a choice must be a number, text, true/false "
                        f"or null, got {choice!r}"
                    )
            return
        if self.choices is not None:
            raise ConfigError(f"{where}: give low and high, or choices, not both")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if not _is_number(value):
                raise ConfigError(f"{where}: {bound} must be a number, got {value!r}")
            if self.kind == "int" and not _is_int(value):
                raise ConfigError(f"{where}: an int parameter needs int bounds, got {value!r}")
        if not self.low < self.high:
            raise ConfigError(
                f"{where}: the range [{self.low}, {self.high}] is empty; low must be below high"
            )
        if self.log and self.low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, got {self.low}")
        if self.step is not None and (self.log or not _is_number(self.step) or self.step <= 0):
            raise ConfigError(f"{where}: step must be a number > 0, and not with log")

    def values_to_check(self) -> tuple[Any, ...]:
        """Values the family must accept: every choice, or both ends of the range."""
        return self.choices if self.kind == "categorical" else (self.low, self.high)

    def suggest(self, trial) -> Any:
        """This parameter's value for an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(
            self.name, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = None if self.choices is None else list(self.choices)
        return data

    @classmethod
    def from_mapping(cls, name: str, value: Any) -> ParamSpec:
        """A spec from a search-space file's entry (the type inferred when not given)."""
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"parameter {name!r}: expected a mapping such as {{low: 0.0, high: 1.0}} or "
                f"{{choices: [a, b]}} (or null to leave a default out), got {value!r}"
            )
        unknown = sorted(set(value) - _SPEC_KEYS)
        if unknown:
            raise ConfigError(
                f"parameter {name!r}: unknown key(s) {unknown}; valid: {sorted(_SPEC_KEYS)}"
            )
        kind = value.get("type")
        if kind is None:
            ints = _is_int(value.get("low")) and _is_int(value.get("high"))
            kind = "categorical" if "choices" in value else "int" if ints else "float"
        choices = value.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise ConfigError(f"parameter {name!r}: choices must be a list, got {choices!r}")
        return cls(
            name=name,
            kind=kind,
            low=value.get("low"),
            high=value.get("high"),
            log=bool(value.get("log", False)),
            step=value.get("step"),
            choices=None if choices is None else tuple(choices),
        )


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a study varies, in a fixed order.

    Attributes:
        params: One spec per parameter.
        source: Where it came from, for messages ("defaults" or a file name).
    """

    params: tuple[ParamSpec, ...]
    source: str = "defaults"

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.params]
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.source}: a parameter is named twice in {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.params)

    def suggest(self, trial) -> dict[str, Any]:
        """A trial's values, by parameter name."""
        return {spec.name: spec.suggest(trial) for spec in self.params}

    def to_list(self) -> list[dict[str, Any]]:
        return [spec.to_dict() for spec in self.params]


def apply_values(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Estimator parameters with the study's values set (dotted names into dict parameters);
    `params` is not changed."""
    result = copy.deepcopy(dict(params))
    for name, value in values.items():
        head, *path = name.split(".")
        if not path:
            result[head] = value
            continue
        node = result[head] = dict(result.get(head) or {})
        for key in path[:-1]:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[path[-1]] = value
    return result


def read_search_space(path: str | Path) -> tuple[tuple[ParamSpec | str, ...], bool]:
    """A search-space file's entries and its `include_defaults`: a spec per parameter, or
    the name alone for a default left out (null). Checks the file's shape, not the family."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"search space {path}: cannot read it: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"search space {path}: not valid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"search space {path}: expected a mapping with a 'params' key")
    check_keys(data, _FILE_KEYS, f"search space {path}", hint="(parameters go under 'params')")
    params = data.get("params") or {}
    include = data.get("include_defaults", True)
    if not isinstance(params, Mapping) or not isinstance(include, bool):
        raise ConfigError(
            f"search space {path}: 'params' must be a mapping of parameter names and "
            "'include_defaults' true or false"
        )
    entries: list[ParamSpec | str] = []
    for name, value in params.items():
        if value is None:
            entries.append(str(name))
            continue
        try:
            entries.append(ParamSpec.from_mapping(str(name), value))
        except ConfigError as error:
            raise ConfigError(f"search space {path}: {error}") from None
    return tuple(entries), include


def merge_entries(
    defaults: Sequence[ParamSpec], entries: Sequence[ParamSpec | str], include_defaults: bool
) -> tuple[ParamSpec, ...]:
    """The defaults (if included) with a file's entries: a spec replaces the default of its
    name (one of `STEP_PARAMS` replaces the other too), a bare name removes it."""
    named = {spec.name for spec in entries if isinstance(spec, ParamSpec)}
    if named & set(STEP_PARAMS):
        named |= set(STEP_PARAMS)
    removed = {entry for entry in entries if isinstance(entry, str)}
    kept = [s for s in defaults if s.name not in named | removed] if include_defaults else []
    return (*kept, *(spec for spec in entries if isinstance(spec, ParamSpec)))


def check_name(name: str, estimator_params: Sequence[str], source: str) -> None:
    """A ConfigError unless `name` is an estimator parameter or a key of a dict one."""
    head, *path = name.split(".")
    if head not in estimator_params:
        raise ConfigError(
            f"{source}: unknown parameter {name!r}; a parameter is a DecodingRegressor "
            f"parameter or {' / '.join(f'{p}.KEY' for p in DICT_PARAMS)}"
        )
    if path and head not in DICT_PARAMS:
        raise ConfigError(
            f"{source}: unknown parameter {name!r}: {head!r} holds no options to name with a "
            f"dot (only {', '.join(DICT_PARAMS)} do)"
        )
    if head in DICT_PARAMS and not path:
        raise ConfigError(f"{source}: parameter {name!r}: name one option, e.g. {head}.KEY")


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def grid_values(space: SearchSpace) -> dict[str, list[Any]]:
    """Every value of each parameter, for Optuna's GridSampler.

    Raises:
        ConfigError: Naming a float range, which has no finite list of values.
    """
    values: dict[str, list[Any]] = {}
    for spec in space.params:
        if spec.kind == "categorical":
            values[spec.name] = list(spec.choices)
        elif spec.kind == "int":
            values[spec.name] = list(range(int(spec.low), int(spec.high) + 1, int(spec.step or 1)))
        else:
            raise ConfigError(
                f"{space.source}: sampler 'grid' needs a finite list of values, and parameter "
                f"{spec.name!r} is a float range: give it choices (e.g. {{choices: [1.0e-4, "
                "3.0e-4]}) in a search-space file, or use sampler 'tpe' or 'random'"
            )
    return values
