"""The default search space of each family and kind of objective, and the checks that turn
defaults plus a file into the space a study uses (`resolve_space`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from decoreg.errors import ConfigError
from decoreg.families import FAMILIES
from decoreg.rl import RL_OBJECTIVES
from decoreg.tune.space import (
    STEP_PARAMS,
    ParamSpec,
    SearchSpace,
    apply_values,
    check_name,
    merge_entries,
    read_search_space,
)

CAUSAL_LM_SPACE = (
    ParamSpec("learning_rate", "float", 1e-5, 1e-3, log=True),
    ParamSpec("epochs", "int", 1, 3),
    ParamSpec("warmup_steps", "int", 0, 50, step=10),
    ParamSpec("batch_size", "categorical", choices=(4, 8, 16)),
    ParamSpec("lora_rank", "categorical", choices=(0, 8, 16)),  # 0: every weight trains
)
"""Fine-tuning a pretrained LM (ce, raft, mbr, head, learnable-raft)."""

TABULAR_SPACE = (
    ParamSpec("tabular_options.tokenizer_options.base", "categorical", choices=(4, 10)),
    ParamSpec("tabular_options.tokenizer_options.digits", "int", 2, 4),
    ParamSpec("tabular_options.d_model", "categorical", choices=(32, 64, 128)),
    ParamSpec("tabular_options.layers", "int", 1, 3),
    ParamSpec("tabular_options.dropout", "float", 0.0, 0.3),
    # periodic helps on 3 of GenRe2's 10 panel sets and hurts abalone: the study's choice
    # (benchmarks/results/numeric-embedding/summary.md)
    ParamSpec("tabular_options.numeric_embedding", "categorical", choices=("linear", "periodic")),
    ParamSpec("learning_rate", "float", 3e-4, 1e-2, log=True),
)
"""The encoder-decoder trained from scratch (its supervised objectives)."""

RL_OPTIONS = (
    ParamSpec("objective_options.num_samples", "int", 4, 16, step=4),
    ParamSpec("objective_options.expert_weight", "float", 0.0, 0.2),
    ParamSpec("objective_options.temperature", "float", 0.5, 1.5),
    # crps trains the sampled distribution the default sample-mean decoder averages
    ParamSpec("objective_options.reward", "categorical", choices=("squared", "crps")),
)
RL_LEARNING_RATES = {"causal-lm": (1e-6, 1e-4), "tabular": (1e-5, 1e-3)}
"""RL starts from a trained model (`init_from`): smaller steps than training it."""


def default_specs(family: str, objective: str) -> tuple[ParamSpec, ...]:
    """The default space of a family and objective (empty for a family with none)."""
    if objective in RL_OBJECTIVES and family in RL_LEARNING_RATES:
        low, high = RL_LEARNING_RATES[family]
        return (ParamSpec("learning_rate", "float", low, high, log=True), *RL_OPTIONS)
    return {"causal-lm": CAUSAL_LM_SPACE, "tabular": TABULAR_SPACE}.get(family, ())


def resolve_space(
    params: Mapping[str, Any], search_space: str | Path | SearchSpace | None = None
) -> SearchSpace:
    """The space a study over `params` (DecodingRegressor parameters) searches.

    Defaults for parameters the caller set are left out (a value given is kept), and so are
    defaults the configuration cannot take (e.g. `base` for a tokenizer without one). A file
    replaces defaults of the same name and adds others; each of its parameters is checked by
    resolving the estimator's plan with each end of its range or each choice.

    Raises:
        ConfigError: Naming the file and the parameter: unknown, an empty range, one the
            family (or its objective) does not take, or a space with nothing to vary.
    """
    from decoreg.estimator import DecodingRegressor

    defaults = DecodingRegressor.param_defaults()
    plan = DecodingRegressor(**params).plan()  # the fixed options' own errors first
    family, objective = plan.family.name, plan.objective_name
    kept = tuple(
        spec
        for spec in default_specs(family, objective)
        if not _given(params, defaults, spec.name) and _accepted(params, spec)
    )
    if isinstance(search_space, SearchSpace):
        entries, include, source = search_space.params, False, search_space.source
    elif search_space is not None:
        entries, include = read_search_space(search_space)
        source = f"search space {search_space}"
    else:
        entries, include, source = (), True, "defaults"
    for entry in entries:
        spec = entry if isinstance(entry, ParamSpec) else None
        name = entry if spec is None else spec.name
        check_name(name, list(defaults), source)
        _check_family(name, family, source)
        for value in () if spec is None else spec.values_to_check():
            _probe(params, {name: value}, f"{source}: parameter {name!r} = {value!r}", plan)
    merged = merge_entries(kept, entries, include)
    if not merged:
        raise ConfigError(
            f"{source}: the search space is empty for the {family} family with objective "
            f"{objective!r}: name at least one parameter under 'params'"
        )
    together = {spec.name: spec.values_to_check()[0] for spec in merged}
    _probe(params, together, f"{source}: parameters {sorted(together)} together", plan)
    return SearchSpace(merged, source)


def _given(params: Mapping[str, Any], defaults: Mapping[str, Any], name: str) -> bool:
    """Whether the caller set `name` (a dotted name: the key is in the dict parameter);
    setting either of `STEP_PARAMS` counts for both."""
    head, *path = name.split(".")
    if head in STEP_PARAMS:
        return any(params.get(p) is not None for p in STEP_PARAMS)
    if not path:
        value = params.get(head, defaults[head])
        return value is not defaults[head] and value != defaults[head]
    node: Any = params.get(head) or {}
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def _accepted(params: Mapping[str, Any], spec: ParamSpec) -> bool:
    try:
        for value in spec.values_to_check():
            _probe(params, {spec.name: value}, spec.name, None)
    except ConfigError:
        return False
    return True


def _check_family(name: str, family: str, source: str) -> None:
    head = name.split(".")[0]
    owners = sorted(f.name for f in FAMILIES.values() if head in f.owned_params)
    if owners and family not in owners:
        raise ConfigError(
            f"{source}: parameter {name!r} is not one the {family} family takes (it is an "
            f"option of the {' and '.join(owners)} family)"
        )


def _probe(params: Mapping[str, Any], values: Mapping[str, Any], where: str, plan) -> None:
    from decoreg.estimator import DecodingRegressor

    try:
        DecodingRegressor(**apply_values(params, values)).plan()
    except ConfigError as error:
        taken = (
            ""
            if plan is None
            else (f" (the {plan.family.name} family, objective {plan.objective_name!r})")
        )
        raise ConfigError(f"{where} is refused{taken}: {error}") from None
