"""What the command modules share: making a subcommand, decoding and trust options, KEY=VALUE
and comma-separated values, the metrics table, and turning a `DecoregError` into exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from decoreg.data import numeric_targets, read_table
from decoreg.errors import DecoregError
from decoreg.estimator import META_FILE
from decoreg.metrics import METRIC_NAMES

Handler = Callable[[argparse.Namespace], int]
ERROR_EXIT = 2  # also argparse's exit code for a bad command line


def add_command(
    commands, name: str, handler: Handler, summary: str, description: str | None = None
) -> argparse.ArgumentParser:
    """Add the subcommand `name` (listed with `summary`) that runs `handler`.

    A command with a paragraph of its own passes its handler's docstring as `description`: the
    text that says what the handler does is what ``decoreg NAME --help`` shows.
    """
    parser = commands.add_parser(name, help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


def run_handler(args: argparse.Namespace) -> int:
    """Run the command's handler; a `DecoregError` is printed as one line and exits with 2."""
    try:
        return args.handler(args)
    except DecoregError as error:
        print(f"decoreg: error: {error}", file=sys.stderr)
        return ERROR_EXIT


# --------------------------------------------------------------------------- options
def add_model_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", type=Path, help="a folder written by `decoreg train`")


def add_trust_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let the model folder run its own code (off by default)",
    )


def add_device_options(p: argparse.ArgumentParser, *, saved: bool) -> None:
    """--device and --precision (`decoreg.devices`); left off, the estimator's defaults (or,
    with `saved`, the saved model's precision) apply."""
    from decoreg.devices import DEVICE_CHOICES, PRECISIONS

    g = p.add_argument_group("devices and precision")
    g.add_argument(
        "--device",
        help=f"{DEVICE_CHOICES}: where to compute (default auto: CUDA, else MPS, else the CPU)",
    )
    default = "the saved model's" if saved else "bf16-mixed for causal LMs, fp32 for tabular"
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        help=f"fp32; bf16-mixed (fp32 weights, bf16 autocast); bf16 (bf16 weights, half the "
        f"memory); fp16-mixed (fp16 autocast, gradient scaler; not on the CPU); default "
        f"{default}",
    )


def add_decode_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The decoding group; without `defaults` an unset option keeps the saved model's value."""
    g = p.add_argument_group("decoding")
    g.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help="samples per input for sample-* decoders (default 32 for causal LMs, 128 for "
        "the tabular family)",
    )
    g.add_argument(
        "--temperature",
        type=float,
        default=1.0 if defaults else None,
        help="sampling temperature (default 1.0; 0 is greedy)",
    )
    g.add_argument(
        "--quantile",
        type=float,
        default=0.5 if defaults else None,
        help="quantile reported by *-quantile decoders",
    )
    g.add_argument(
        "--no-normalize-grid",
        action="store_true",
        help="do not renormalize grid probabilities in grid decoders",
    )


def decode_params(args: argparse.Namespace) -> dict:
    """The estimator parameters the decoding options set (unset ones are left out)."""
    params = {
        "num_samples": args.num_samples,
        "temperature": args.temperature,
        "quantile": args.quantile,
    }
    params = {k: v for k, v in params.items() if v is not None}
    if args.no_normalize_grid:
        params["normalize_grid"] = False
    return params


# ---------------------------------------------------------------------------- values
def split_list(text: str | None) -> list[str] | None:
    """``"a, b,"`` -> ``["a", "b"]``; None stays None (the option was not given)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def parse_options(pairs: list[str]) -> dict | None:
    """Repeated ``KEY=VALUE`` options -> a dict (None when there are none); see `literal`."""
    options = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise DecoregError(f"options are given as KEY=VALUE, got {pair!r}")
        options[key.strip()] = literal(raw.strip())
    return options or None


def literal(raw: str):
    """true/false, an int, a float, JSON for a value starting with { or [ (e.g.
    tokenizer_options={"digits": 4}), else the text itself."""
    if raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError as error:
            raise DecoregError(f"option value {raw!r} is not valid JSON: {error}") from None
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def saved_target_column(model_dir: Path) -> str | None:
    """The target column `decoreg train` recorded in a model folder (None if it recorded none)."""
    return json.loads((model_dir / META_FILE).read_text()).get("target_column")


# ---------------------------------------------------------------------------- output
def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    """A plain-text metrics table: one row per data set, one column per metric."""
    header = ["data", *METRIC_NAMES, "n"]
    lines = [header]
    for name, metrics in rows.items():
        lines.append(
            [name, *[_fmt(metrics.get(m)) for m in METRIC_NAMES], str(int(metrics.get("n", 0)))]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def read_training_rows(args: argparse.Namespace):
    """`(inputs, targets, eval_set)` from DATA and --validation (None without it); a bad
    target names the file, the row and the column."""
    frame = read_table(args.data)
    targets = numeric_targets(frame, args.target_column, str(args.data))
    eval_set = None
    if args.validation is not None:
        val_frame = read_table(args.validation)
        eval_set = (
            val_frame.drop(columns=[args.target_column]),
            numeric_targets(val_frame, args.target_column, str(args.validation)),
        )
    return frame.drop(columns=[args.target_column]), targets, eval_set
