"""`decoreg predict` (chunked, resumable prediction files) and `decoreg evaluate` (metrics).

Both run data-parallel under `torchrun` / `accelerate launch`: every process loads the model,
the rows are split across them, and rank 0 alone writes the file and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from decoreg.cli.common import (
    add_command,
    add_decode_options,
    add_device_options,
    add_model_dir_argument,
    add_trust_option,
    decode_params,
    metrics_table,
    saved_target_column,
    split_list,
)
from decoreg.data import numeric_targets, read_table
from decoreg.distributed import init_from_environment
from decoreg.errors import DecoregError
from decoreg.estimator import DecodingRegressor
from decoreg.incremental import predict_file
from decoreg.uncertainty.distribution import check_coverage
from decoreg.uncertainty.report import uncertainty_table, write_evaluation_plots

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
    p.add_argument(
        "--interval",
        type=float,
        metavar="COVERAGE",
        help="also write a split-conformal interval (lower<c>, upper<c>) that covers the truth "
        "with this probability, e.g. 0.9; calibrated on the validation rows held out in "
        "training, or on --calibration",
    )
    _add_calibration_options(p)
    p.add_argument(
        "--target-column", help="target column of --calibration (default: the one trained on)"
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
    p.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write a reliability plot (PIT histogram, coverage vs nominal) and a 90%% "
        "interval plot (conformal when there are calibration rows) to DIR",
    )
    _add_calibration_options(p)
    _add_loaded_model_options(p)


def _add_calibration_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="held-out rows with targets (the training columns) to calibrate intervals on, "
        "instead of the validation rows saved with the model",
    )


def _add_loaded_model_options(p: argparse.ArgumentParser) -> None:
    """What both commands take last: trust for the folder, device, and decoding overrides."""
    add_trust_option(p)
    add_device_options(p, saved=True)
    add_decode_options(p, defaults=False)


def run_predict(args: argparse.Namespace) -> int:
    world = init_from_environment()  # joins the process group under torchrun/accelerate
    estimator = _load(args)
    frame = read_table(args.data)
    levels = [float(q) for q in split_list(args.quantiles)] if args.quantiles else None
    if args.interval is not None:
        check_coverage(args.interval)
        _calibrate(estimator, args)
    written = predict_file(
        estimator,
        frame,
        args.output,
        data_path=args.data,
        model_dir=args.model_dir,
        quantiles=levels,
        interval=args.interval,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
    )
    if not world.is_main:
        return 0
    summary = written.summary
    kept = f", {summary.resumed_from} kept from before" if summary.resumed_from else ""
    print(
        f"wrote {summary.rows} predictions to {args.output} ({written.unparseable} "
        f"unparseable{kept})"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    world = init_from_environment()
    estimator = _load(args)
    frame = read_table(args.data)
    target_column = args.target_column or saved_target_column(args.model_dir)
    if not target_column:
        raise DecoregError(
            f"{args.model_dir} does not record a target column: pass --target-column"
        )
    targets = numeric_targets(frame, target_column, str(args.data))
    _calibrate(estimator, args)
    metrics = estimator.evaluate(frame, targets, source=str(args.data))
    if args.plots is not None:
        name = Path(args.data).stem
        plots = write_evaluation_plots(
            estimator, frame, targets, args.plots, name=name, write=world.is_main
        )
        for path in plots:
            print(f"wrote {path}", file=sys.stderr)
    if not world.is_main:
        return 0
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(metrics_table({str(args.data): metrics}))
        if "crps" in metrics:
            print(uncertainty_table({str(args.data): metrics}))
    return 0


def _calibrate(estimator: DecodingRegressor, args: argparse.Namespace) -> None:
    """Calibrate on --calibration's rows, when given."""
    if args.calibration is None:
        return
    target_column = args.target_column or saved_target_column(args.model_dir)
    if not target_column:
        raise DecoregError(
            f"{args.model_dir} does not record a target column: pass --target-column"
        )
    frame = read_table(args.calibration)
    source = str(args.calibration)
    estimator.calibrate(frame, numeric_targets(frame, target_column, source), source=source)


def _load(args: argparse.Namespace) -> DecodingRegressor:
    """The saved model with the command's decoder and decoding overrides."""
    estimator = DecodingRegressor.load(
        args.model_dir,
        trust_remote_code=args.trust_remote_code,
        device=args.device or "auto",
        precision=args.precision,
    )
    overrides = decode_params(args)
    if args.decoder:
        overrides["decoder"] = args.decoder
    return estimator.set_params(**overrides)
