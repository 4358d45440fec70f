"""`decoreg train`: its options (model, method, data columns, training, LoRA, checkpoints,
decoding) and the handler that fits, saves and reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from decoreg.atomic_files import remove_stale_temporaries
from decoreg.causal_lm.heads import HEAD_KINDS
from decoreg.causal_lm.methods import INIT_CHOICES, PAPER_METHODS, method_params
from decoreg.causal_lm.pretrained import DEFAULT_MODEL
from decoreg.checkpoint import Checkpointer, checkpoint_name
from decoreg.cli.common import (
    add_command,
    add_decode_options,
    decode_params,
    metrics_table,
    parse_options,
    split_list,
)
from decoreg.config import TrainConfig
from decoreg.data import numeric_targets, read_table
from decoreg.distributed import World, init_from_environment
from decoreg.estimator import DecodingRegressor
from decoreg.families import FAMILIES

METRICS_FILE = "metrics.json"
CHECKPOINTS_SUFFIX = ".checkpoints"


def add_train_command(commands) -> None:
    summary = "fine-tune a model on a data file and save it"
    p = add_command(commands, "train", run_train, summary, description=run_train.__doc__)
    p.add_argument("data", type=Path, help="training rows")
    p.add_argument("--text-column", help="column holding the input text")
    p.add_argument("--feature-columns", help="comma-separated columns serialized as text")
    p.add_argument("--target-column", required=True, help="numeric column to predict")
    p.add_argument("--output", type=Path, required=True, help="folder to write the model to")
    p.add_argument("--validation", type=Path, help="validation rows (same columns)")
    p.add_argument("--family", default="causal-lm", choices=sorted(FAMILIES))
    p.add_argument(  # no default here: the tabular family refuses a model (it builds its own)
        "--model", help=f"built-in name or local HF folder (default {DEFAULT_MODEL})"
    )
    _add_method_options(p)
    _add_training_options(p)
    _add_scale_options(p.add_argument_group("LoRA, checkpoints and large models"))
    add_decode_options(p)


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
        "reward=gaussian, reward_sigma=0.1, expert_weight=0.05 (repeatable)",
    )
    p.add_argument(
        "--tabular-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tabular model option with --family tabular, e.g. d_model=64, layers=2, "
        "nan_policy=impute, tokenizer=p10, tokenizer_options='{\"digits\": 4}' (JSON for { or "
        "[; repeatable; see TabularModelConfig)",
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
    p.add_argument("--scale-targets", default="auto", choices=["auto", "always", "never"])
    p.add_argument("--max-prompt-tokens", type=int, default=256)


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """Options whose default is the family's: the help names both families' values."""
    defaults, tabular = TrainConfig(), FAMILIES["tabular"].train_defaults

    def family_default(name: str) -> str:
        return f"default {getattr(defaults, name)}; --family tabular: {tabular[name]}"

    p.add_argument(
        "--max-steps",
        type=int,
        help=f"optimizer steps ({family_default('max_steps')}); 0 saves the zero-shot model",
    )
    p.add_argument("--learning-rate", type=float, help=family_default("learning_rate"))
    p.add_argument("--batch-size", type=int, help=family_default("batch_size"))
    p.add_argument("--grad-accum-steps", type=int, default=defaults.grad_accum_steps)
    p.add_argument("--warmup-steps", type=int, help=family_default("warmup_steps"))
    p.add_argument(
        "--schedule", default=defaults.schedule, choices=["constant", "linear", "cosine"]
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
        default=defaults.select_by,
        choices=["rmse", "mae", "reward"],
        help="validation score that keeps the best checkpoint and drives early stopping; "
        "'reward' (the RL objectives' mean reward of the decoded predictions) is higher-better",
    )
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--no-bf16", action="store_true", help="train in fp32 instead of bf16")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a local model folder run its own code (off by default)",
    )
    p.add_argument("--seed", type=int, default=0)


def _add_scale_options(g) -> None:
    defaults = TrainConfig()
    g.add_argument(
        "--lora-rank",
        type=int,
        default=0,
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
    g.add_argument(
        "--checkpoint-every",
        type=int,
        default=defaults.checkpoint_every,
        help=f"write a kill-safe checkpoint every N steps (default {defaults.checkpoint_every}; "
        "0: never)",
    )
    g.add_argument(
        "--checkpoint-dir",
        type=Path,
        help=f"checkpoint folder (default: OUTPUT{CHECKPOINTS_SUFFIX} next to the output); "
        "deleted once the model is saved",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint (same command and data; from step 1 if none)",
    )


# --------------------------------------------------------------------------- handler
def run_train(args: argparse.Namespace) -> int:
    """Fine-tune on DATA (CSV, TSV, JSONL or Parquet) and save a model folder plus
    metrics.json. Without --validation a seeded share of DATA is held out to keep the
    checkpoint with the best validation RMSE."""
    world = init_from_environment()  # joins the process group under torchrun/accelerate
    method = _method_choices(args)  # a conflicting --method fails before any file is read
    frame = read_table(args.data)
    targets = numeric_targets(frame, args.target_column, str(args.data))
    eval_set = None
    if args.validation is not None:
        val_frame = read_table(args.validation)
        eval_set = (
            val_frame.drop(columns=[args.target_column]),
            numeric_targets(val_frame, args.target_column, str(args.validation)),
        )
    estimator = DecodingRegressor(**_estimator_params(args, method))
    estimator.fit(
        frame.drop(columns=[args.target_column]), targets, eval_set=eval_set, source=str(args.data)
    )
    if world.rank != 0:
        return 0  # data-parallel: rank 0 saves and reports
    estimator.save(args.output, target_column=args.target_column)
    _remove_checkpoints(_checkpoint_dir(args))
    result = estimator.train_result_
    metrics = {
        "steps_run": result.steps_run,
        "best_step": result.best_step,
        "best_validation": result.best_validation,
        "evaluations": result.evaluations,
        "train_seconds": result.seconds,
        "train_rows": estimator.n_train_rows_,
        "log": result.log,
    }
    (args.output / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    print(f"saved the model to {args.output}")
    if result.best_validation is not None:
        print(metrics_table({f"validation (step {result.best_step})": result.best_validation}))
    return 0


def _estimator_params(args: argparse.Namespace, method: dict) -> dict:
    """The `DecodingRegressor` parameters the options and `_method_choices` set (None: the
    family's default)."""
    return {
        "model": args.model,
        "objective": method["objective"],
        "decoder": method["decoder"],
        "head": method["head"],
        "special_token": args.special_token,
        "init": method["init"],
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
        "max_steps": method["max_steps"],
        "warmup_steps": args.warmup_steps,
        "schedule": args.schedule,
        "eval_every": args.eval_every,
        "early_stopping_patience": args.early_stopping_patience,
        "select_by": args.select_by,
        "validation_fraction": args.validation_fraction,
        "bf16": False if args.no_bf16 else None,
        "trust_remote_code": args.trust_remote_code,
        "init_from": None if args.init_from is None else str(args.init_from),
        "random_state": args.seed,
        "lora_rank": args.lora_rank,
        "lora_alpha": args.lora_alpha,
        "lora_targets": split_list(args.lora_targets),
        "gradient_checkpointing": args.gradient_checkpointing,
        "checkpoint_dir": str(_checkpoint_dir(args)),
        "checkpoint_every": args.checkpoint_every,
        "resume": args.resume,
        **decode_params(args),
    }


def _method_choices(args: argparse.Namespace) -> dict:
    """Objective, decoder, head, init and steps: from --method, checked against explicit flags."""
    given = {
        "objective": args.objective,
        "decoder": args.decoder,
        "head": args.head,
        "init": args.init,
        "max_steps": args.max_steps,
    }
    chosen = method_params(args.method, given) if args.method else dict(given)
    # No objective or max_steps default here: the estimator picks the family's.
    defaults = {"init": "pretrained"}
    return {key: defaults.get(key) if chosen.get(key) is None else chosen[key] for key in given}


def _checkpoint_dir(args: argparse.Namespace) -> Path:
    return args.checkpoint_dir or args.output.with_name(args.output.name + CHECKPOINTS_SUFFIX)


def _remove_checkpoints(folder: Path) -> None:
    """Delete the run's checkpoint files once its model is saved; other files are left alone."""
    for step in Checkpointer(folder, World()).steps():
        (folder / checkpoint_name(step)).unlink(missing_ok=True)
    if folder.is_dir():
        remove_stale_temporaries(folder)
        if not any(folder.iterdir()):
            folder.rmdir()
