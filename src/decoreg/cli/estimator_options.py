"""The options that set `DecodingRegressor` parameters, shared by `train` and `tune`.

An option left off the command line sets nothing (its help names the default the estimator
then applies), so a `--config FILE` of estimator parameters (`read_config`) fills in what
the command line leaves out, and every option given overrides the file (`with_config`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from decoreg.causal_lm.heads import HEAD_KINDS
from decoreg.causal_lm.methods import INIT_CHOICES, PAPER_METHODS, method_params
from decoreg.causal_lm.pretrained import DEFAULT_MODEL
from decoreg.cli.common import (
    add_decode_options,
    add_device_options,
    decode_params,
    parse_options,
    split_list,
)
from decoreg.config import TrainConfig
from decoreg.errors import ConfigError
from decoreg.families import FAMILIES

STEP_PARAMS = ("max_steps", "epochs")  # either sets the run's length; never both
DICT_PARAMS = ("objective_options", "tabular_options")  # merged key by key with a file's


def add_estimator_options(p: argparse.ArgumentParser) -> None:
    """Data columns, family and model, method, training, LoRA and decoding options."""
    p.add_argument("--text-column", help="column holding the input text")
    p.add_argument("--feature-columns", help="comma-separated columns serialized as text")
    p.add_argument("--family", choices=sorted(FAMILIES), help="model family (default causal-lm)")
    p.add_argument(  # no default here: the tabular family refuses a model (it builds its own)
        "--model", help=f"built-in name or local HF folder (default {DEFAULT_MODEL})"
    )
    _add_method_options(p)
    _add_training_options(p)
    _add_lora_options(p.add_argument_group("LoRA and large models"))
    add_device_options(p, saved=False)
    add_decode_options(p, defaults=False)


def _add_method_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        choices=sorted(PAPER_METHODS),
        help="a RAFT-paper method by name (sets objective/decoder/head/init/max-steps)",
    )
    p.add_argument(
        "--objective",
        help="training objective (default raft for causal LMs, ce for --family tabular); "
        "RL: remax, grpo, rloo, genre2 (with --init-from)",
    )
    p.add_argument(
        "--init-from",
        type=Path,
        help="start from a saved model folder (e.g. a CE model for RL) instead of a new one",
    )
    p.add_argument(
        "--objective-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an objective option, e.g. normalize=true, or for RL num_samples=8, "
        "reward=gaussian, reward_sigma=0.1, expert_weight=0.05, reward=crps (each sample's "
        "leave-one-out credit to its group's CRPS; num_samples >= 3) (repeatable)",
    )
    p.add_argument(
        "--tabular-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tabular model option with --family tabular, e.g. d_model=64, layers=2, "
        "nan_policy=error (missing values: indicator, the default: median plus indicator, "
        "a level of its own for categories; impute: median or unknown category; error), "
        "max_categories=1000, tokenizer=p10, tokenizer_options='{\"digits\": 4}' (JSON for { "
        "or [; repeatable; see TabularModelConfig)",
    )
    p.add_argument(
        "--decoder", help="how numbers are read out (default grid-mean; head objectives: head)"
    )
    p.add_argument("--head", choices=list(HEAD_KINDS), help="predictive head (objective head)")
    p.add_argument("--special-token", help="token whose logit the 'token' head reads (def. EOS)")
    p.add_argument(
        "--init", choices=list(INIT_CHOICES), help="pretrained weights (default) or random"
    )
    p.add_argument("--template", help="prompt template with {text}, ending with a space")
    p.add_argument(
        "--grid",
        help="grid values: start:stop:step (e.g. 0:5:0.1) or comma-separated (default: the "
        "digits over the targets)",
    )
    p.add_argument("--decimals", type=int, help="decimals when writing targets")
    p.add_argument("--scale-targets", choices=["auto", "always", "never"], help="default auto")
    p.add_argument("--max-prompt-tokens", type=int, help="default 256")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """Options whose default is the family's: the help names both families' values."""
    defaults, tabular = TrainConfig(), FAMILIES["tabular"].train_defaults
    lm_by_objective = FAMILIES["causal-lm"].objective_train_defaults

    def family_default(name: str) -> str:
        by_objective = {o: d[name] for o, d in lm_by_objective.items() if name in d}
        lm = f"default {getattr(defaults, name)}"
        if by_objective:
            lm = "default by objective: " + ", ".join(f"{o} {v}" for o, v in by_objective.items())
            lm += f", others {getattr(defaults, name)}"
        return f"{lm}; --family tabular: {tabular[name]}"

    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--max-steps",
        type=int,
        help=f"optimizer steps ({family_default('max_steps')}); 0 saves the zero-shot model",
    )
    length.add_argument(
        "--epochs",
        type=int,
        help="passes over the training rows instead of --max-steps (not with it): "
        "ceil(rows / (batch size x accumulation x processes)) x epochs steps",
    )
    p.add_argument("--learning-rate", type=float, help=family_default("learning_rate"))
    p.add_argument("--batch-size", type=int, help=family_default("batch_size"))
    p.add_argument("--grad-accum-steps", type=int, help=f"default {defaults.grad_accum_steps}")
    p.add_argument("--warmup-steps", type=int, help=family_default("warmup_steps"))
    p.add_argument(
        "--schedule",
        choices=["constant", "linear", "cosine"],
        help=f"default {defaults.schedule}",
    )
    p.add_argument("--eval-every", type=int, help=family_default("eval_every"))
    p.add_argument(
        "--early-stopping-patience",
        type=int,
        help=f"evaluations without a better validation RMSE before stopping, 0: never "
        f"({family_default('early_stopping_patience')})",
    )
    p.add_argument(
        "--select-by",
        choices=["rmse", "mae", "reward"],
        help="validation score that keeps the best checkpoint and drives early stopping; "
        "'reward' (the RL objectives' mean reward of the decoded predictions) is higher-better "
        f"(default {defaults.select_by})",
    )
    p.add_argument("--validation-fraction", type=float, help="default 0.1")
    p.add_argument(
        "--no-bf16", action="store_true", help="the older --precision fp32 (not with --precision)"
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a local model folder run its own code (off by default)",
    )
    p.add_argument("--seed", type=int, help="default 0")


def _add_lora_options(g) -> None:
    g.add_argument(
        "--lora-rank",
        type=int,
        help="train LoRA adapters of this rank instead of every weight (default 0: off)",
    )
    g.add_argument("--lora-alpha", type=float, help="LoRA scale numerator (default 2 x rank)")
    g.add_argument(
        "--lora-targets",
        help="comma-separated module names LoRA adapts, e.g. q_proj,v_proj (default: every "
        "linear layer but the output)",
    )
    g.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute activations in the backward pass (less memory, ~30%% more time)",
    )


def estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """The `DecodingRegressor` parameters of the options given; an option left out sets
    nothing (the estimator's default applies, or the --config file's value)."""
    method = method_choices(args)
    params = {
        **method,
        "special_token": args.special_token,
        "family": args.family,
        "text_column": args.text_column,
        "feature_columns": split_list(args.feature_columns),
        "template": args.template,
        "decimals": args.decimals,
        "grid": args.grid,
        "scale_targets": args.scale_targets,
        "max_prompt_tokens": args.max_prompt_tokens,
        "objective_options": parse_options(args.objective_option),
        "tabular_options": parse_options(args.tabular_option),
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "grad_accum_steps": args.grad_accum_steps,
        "epochs": args.epochs,
        "warmup_steps": args.warmup_steps,
        "schedule": args.schedule,
        "eval_every": args.eval_every,
        "early_stopping_patience": args.early_stopping_patience,
        "select_by": args.select_by,
        "validation_fraction": args.validation_fraction,
        "bf16": False if args.no_bf16 else None,
        "device": args.device,
        "precision": args.precision,
        "trust_remote_code": args.trust_remote_code or None,
        "init_from": None if args.init_from is None else str(args.init_from),
        "random_state": args.seed,
        "lora_rank": args.lora_rank,
        "lora_alpha": args.lora_alpha,
        "lora_targets": split_list(args.lora_targets),
        "gradient_checkpointing": args.gradient_checkpointing or None,
        "model": args.model,
        **decode_params(args),
    }
    return {name: value for name, value in params.items() if value is not None}


def method_choices(args: argparse.Namespace) -> dict[str, Any]:
    """Objective, decoder, head, init and steps: from --method, checked against explicit flags."""
    given = {
        "objective": args.objective,
        "decoder": args.decoder,
        "head": args.head,
        "init": args.init,
        "max_steps": args.max_steps,
    }
    return method_params(args.method, given) if args.method else dict(given)


def read_config(path: Path) -> dict[str, Any]:
    """A --config file: a YAML mapping of DecodingRegressor parameters (as `decoreg tune`
    writes to params.yaml); an unknown name is an error naming the file."""
    from decoreg.estimator import DecodingRegressor

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"--config {path}: cannot read it: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config {path}: not valid YAML: {error}") from None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"--config {path}: expected a mapping of estimator parameters")
    valid = DecodingRegressor.param_defaults()
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(
            f"--config {path}: unknown parameter(s) {unknown}; valid: {sorted(valid)}"
        )
    return dict(data)


def with_config(config: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The options given over the file's values: --objective-option and --tabular-option
    override the file's options key by key; giving max_steps or epochs (or a --method that
    sets the steps) replaces both of the file's."""
    merged = dict(config)
    if any(name in given for name in STEP_PARAMS):
        merged = {k: v for k, v in merged.items() if k not in STEP_PARAMS}
    for name, value in given.items():
        if name in DICT_PARAMS and isinstance(merged.get(name), Mapping):
            value = {**merged[name], **value}
        merged[name] = value
    return merged
