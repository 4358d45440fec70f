"""`decoreg train`: its options (the estimator's, shared with `tune`, a --config file of them,
checkpoints) and the handler that fits, saves and reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from decoreg.checkpoint import Checkpointer
from decoreg.cli.common import add_command, metrics_table, read_training_rows
from decoreg.cli.estimator_options import (
    add_estimator_options,
    estimator_params,
    read_config,
    with_config,
)
from decoreg.config import TrainConfig
from decoreg.distributed import World, init_from_environment
from decoreg.engine import check_fsdp
from decoreg.estimator import DecodingRegressor
from decoreg.reporting import DEFAULT_REPORT_DIR, REPORTERS

METRICS_FILE = "metrics.json"
CHECKPOINTS_SUFFIX = ".checkpoints"


def add_train_command(commands) -> None:
    summary = "fine-tune a model on a data file and save it"
    p = add_command(commands, "train", run_train, summary, description=run_train.__doc__)
    p.add_argument("data", type=Path, help="training rows")
    p.add_argument("--target-column", required=True, help="numeric column to predict")
    p.add_argument("--output", type=Path, required=True, help="folder to write the model to")
    p.add_argument("--validation", type=Path, help="validation rows (same columns)")
    p.add_argument(
        "--config",
        type=Path,
        help="a YAML file of DecodingRegressor parameters, e.g. the params.yaml `decoreg tune` "
        "writes; the options given here override it",
    )
    add_estimator_options(p)
    _add_checkpoint_options(p.add_argument_group("checkpoints"))
    p.add_argument_group("scale").add_argument(
        "--fsdp",
        action="store_true",
        help="shard the model, gradients and optimizer state over the processes with FSDP2 "
        "(under torchrun / accelerate launch; LoRA included); checkpoints are then sharded "
        "folders (torch.distributed.checkpoint). Without it several processes train with DDP",
    )
    _add_report_options(p.add_argument_group("experiment tracking"))


def _add_report_options(g) -> None:
    g.add_argument(
        "--report-to",
        choices=sorted(REPORTERS),
        help="also write the per-step log and every validation pass to TensorBoard event files "
        "or a local MLflow store (default none; needs pip install 'decoreg[logging]'); "
        f"{METRICS_FILE} is written either way",
    )
    g.add_argument(
        "--report-dir",
        type=Path,
        help=f"folder of the event files or MLflow store (default OUTPUT/{DEFAULT_REPORT_DIR})",
    )


def _add_checkpoint_options(g) -> None:
    defaults = TrainConfig()
    g.add_argument(
        "--checkpoint-every",
        type=int,
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
    params = _train_params(args)  # a conflicting --method fails before any file is read
    check_fsdp(bool(params.get("fsdp")), world)  # before the data and the model are loaded
    inputs, targets, eval_set = read_training_rows(args)
    estimator = DecodingRegressor(**params)
    estimator.fit(inputs, targets, eval_set=eval_set, source=str(args.data))
    if world.rank != 0:
        return 0  # data-parallel: rank 0 saves and reports
    estimator.save(args.output, target_column=args.target_column)
    _remove_checkpoints(_checkpoint_dir(args))
    result = estimator.train_result_
    report = estimator.model_.input_report()
    for note in report.get("notes", []):
        print(f"inputs: {note}")
    metrics = {
        "steps_run": result.steps_run,
        "best_step": result.best_step,
        "best_validation": result.best_validation,
        "evaluations": result.evaluations,
        "train_seconds": result.seconds,
        "train_rows": estimator.n_train_rows_,
        "inputs": report,
        "log": result.log,
    }
    (args.output / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    print(f"saved the model to {args.output}")
    if result.best_validation is not None:
        print(metrics_table({f"validation (step {result.best_step})": result.best_validation}))
    return 0


def _train_params(args: argparse.Namespace) -> dict:
    """The estimator parameters: --config's, overridden by the options given, and the
    checkpoint options."""
    config = {} if args.config is None else read_config(args.config)
    params = with_config(config, estimator_params(args))
    checkpoints = {
        "checkpoint_dir": str(_checkpoint_dir(args)),
        "checkpoint_every": args.checkpoint_every,
        "resume": args.resume or None,
        "fsdp": args.fsdp or None,
        "report_to": args.report_to,
        "report_dir": None if args.report_to is None else str(_report_dir(args)),
    }
    return {**params, **{k: v for k, v in checkpoints.items() if v is not None}}


def _checkpoint_dir(args: argparse.Namespace) -> Path:
    return args.checkpoint_dir or args.output.with_name(args.output.name + CHECKPOINTS_SUFFIX)


def _report_dir(args: argparse.Namespace) -> Path:
    return args.report_dir or args.output / DEFAULT_REPORT_DIR


def _remove_checkpoints(folder: Path) -> None:
    """Delete the run's checkpoint files once its model is saved; other files are left alone."""
    Checkpointer(folder, World()).remove_all()
