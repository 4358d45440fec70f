"""`decoreg predict` (chunked, resumable prediction files) and `decoreg evaluate` (metrics)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from decoreg.cli.common import (
    add_command,
    add_decode_options,
    add_model_dir_argument,
    add_trust_option,
    decode_params,
    metrics_table,
    saved_target_column,
    split_list,
)
from decoreg.data import numeric_targets, read_table
from decoreg.distributed import launched_world_size
from decoreg.errors import ConfigError, DecoregError
from decoreg.estimator import DecodingRegressor
from decoreg.incremental import predict_file

DEFAULT_CHUNK_ROWS = 1000


def add_predict_command(commands) -> None:
    p = add_command(commands, "predict", run_predict, "write predictions for a data file")
    add_model_dir_argument(p)
    p.add_argument("data", type=Path, help="rows to predict")
    p.add_argument("--output", type=Path, required=True, help="CSV: row, prediction, text")
    p.add_argument("--decoder", help="override the saved decoder")
    p.add_argument(
        "--quantiles",
        help="also write these quantiles of each prediction, e.g. 0.1,0.9 for an interval "
        "(grid-* and sample-* decoders)",
    )
    g = p.add_argument_group("large files")
    g.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        help=f"rows predicted and appended to the output at a time (default {DEFAULT_CHUNK_ROWS})",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run's output file: keep its complete rows, predict the rest",
    )
    _add_loaded_model_options(p)


def add_evaluate_command(commands) -> None:
    summary = "print metrics of a saved model on a data file"
    p = add_command(commands, "evaluate", run_evaluate, summary)
    add_model_dir_argument(p)
    p.add_argument("data", type=Path, help="rows with targets")
    p.add_argument("--target-column", help="default: the column used in training")
    p.add_argument("--decoder", help="override the saved decoder")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    _add_loaded_model_options(p)


def _add_loaded_model_options(p: argparse.ArgumentParser) -> None:
    """What both commands take last: trust for the folder, and decoding overrides."""
    add_trust_option(p)
    add_decode_options(p, defaults=False)


def run_predict(args: argparse.Namespace) -> int:
    estimator = _load(args)
    frame = read_table(args.data)
    levels = [float(q) for q in split_list(args.quantiles)] if args.quantiles else None
    written = predict_file(
        estimator,
        frame,
        args.output,
        data_path=args.data,
        model_dir=args.model_dir,
        quantiles=levels,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
    )
    summary = written.summary
    kept = f", {summary.resumed_from} kept from before" if summary.resumed_from else ""
    print(
        f"wrote {summary.rows} predictions to {args.output} ({written.unparseable} "
        f"unparseable{kept})"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    estimator = _load(args)
    frame = read_table(args.data)
    target_column = args.target_column or saved_target_column(args.model_dir)
    if not target_column:
        raise DecoregError(
            f"{args.model_dir} does not record a target column: pass --target-column"
        )
    targets = numeric_targets(frame, target_column, str(args.data))
    metrics = estimator.evaluate(frame, targets, source=str(args.data))
    print(json.dumps(metrics, indent=2) if args.json else metrics_table({str(args.data): metrics}))
    return 0


def _load(args: argparse.Namespace) -> DecodingRegressor:
    """The saved model with the command's decoder and decoding overrides."""
    if launched_world_size() > 1:  # every rank would redo all the work
        raise ConfigError(
            f"`decoreg {args.command}` runs in a single process; launch it without torchrun or "
            "accelerate (only `decoreg train` is data-parallel)"
        )
    estimator = DecodingRegressor.load(args.model_dir, trust_remote_code=args.trust_remote_code)
    overrides = decode_params(args)
    if args.decoder:
        overrides["decoder"] = args.decoder
    return estimator.set_params(**overrides)
