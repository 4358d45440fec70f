"""The `decoreg` command line: train | predict | evaluate | models | quickstart | bench |
datasets | merge.

One module per command group; each only parses options, calls the library and prints. The
console script and ``python -m decoreg.cli`` (how torchrun launches training) both run `main`.
"""

from __future__ import annotations

import argparse
import logging

from decoreg.cli.bench import add_bench_command
from decoreg.cli.common import parse_options, run_handler
from decoreg.cli.datasets import add_datasets_command
from decoreg.cli.models import add_merge_command, add_models_command
from decoreg.cli.predict import add_evaluate_command, add_predict_command
from decoreg.cli.quickstart import add_quickstart_command
from decoreg.cli.train import add_train_command

__all__ = ["build_parser", "main", "parse_options"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]) and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return run_handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decoreg",
        description="Decoding-based regression: language models that predict numbers by "
        "writing them, fine-tuned with cross-entropy or RAFT.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        add_train_command,
        add_predict_command,
        add_evaluate_command,
        add_models_command,
        add_quickstart_command,
        add_bench_command,
        add_datasets_command,
        add_merge_command,
    ):
        add(commands)
    return parser
