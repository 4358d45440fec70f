"""`decoreg models` (the built-in pretrained models) and `decoreg merge` (LoRA into weights)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from decoreg.causal_lm.lora import is_lora
from decoreg.causal_lm.pretrained import BUILTIN_MODELS, DEFAULT_MODEL
from decoreg.cli.common import add_command, add_trust_option, saved_target_column
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor


def add_models_command(commands) -> None:
    add_command(commands, "models", run_models, "list the built-in pretrained models")


def add_merge_command(commands) -> None:
    summary = "fold a LoRA model's adapters into its weights and save a plain model"
    p = add_command(commands, "merge", run_merge, summary, description=run_merge.__doc__)
    p.add_argument("model_dir", type=Path, help="a LoRA model folder written by decoreg train")
    p.add_argument("output", type=Path, help="folder to write the merged model to")
    add_trust_option(p)


def run_models(args: argparse.Namespace) -> int:
    for name, entry in BUILTIN_MODELS.items():
        installed = importlib.util.find_spec(entry.module) is not None
        status = "installed" if installed else f"missing: {entry.install}"
        marker = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{marker}\n  {entry.description}\n  licence: {entry.license}; {status}")
    print("Any local Hugging Face model folder also works: --model PATH")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """Read the LoRA model folder MODEL_DIR (from `decoreg train --lora-rank`), add the
    adapters' updates to the base weights and write a plain model folder to OUTPUT that
    predicts the same."""
    estimator = DecodingRegressor.load(args.model_dir, trust_remote_code=args.trust_remote_code)
    if estimator.family != "causal-lm" or not is_lora(estimator.model_.lm):
        raise ConfigError(f"{args.model_dir} holds no LoRA adapters; there is nothing to merge")
    estimator.model_.merge_lora()
    estimator.set_params(lora_rank=0, lora_alpha=None, lora_targets=None)
    estimator.save(args.output, target_column=saved_target_column(args.model_dir))
    print(f"merged the LoRA adapters into {args.output}")
    return 0
