"""`decoreg bench`: run a benchmark suite resumably and render its report."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from decoreg.cli.common import add_command, add_device_options
from decoreg.errors import ConfigError

DEFAULT_RESULTS = Path("benchmarks", "results")
DEFAULT_CHECKPOINT_EVERY = 25  # the harness's own default (bench.cell_run), kept in step by a test


def add_bench_command(commands) -> None:
    summary = "run a benchmark suite (datasets x methods x models x seeds) and report it"
    p = add_command(commands, "bench", run_bench, summary, description=run_bench.__doc__)
    p.add_argument("suite", nargs="?", help="built-in suite name or suite YAML file")
    p.add_argument("--quick", action="store_true", help="shrink every cell for a smoke run")
    p.add_argument(
        "--output",
        type=Path,
        help="result folder (default benchmarks/results/SUITE, or SUITE-quick with --quick)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a result folder: finished cells are not rerun, failed ones are",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="STEPS",
        help="steps between a model cell's kill-safe checkpoints, so --resume continues a "
        f"killed cell from its newest one (default {DEFAULT_CHECKPOINT_EVERY}; 0: none)",
    )
    p.add_argument(
        "--datasets",
        type=_names,
        metavar="NAME[,NAME]",
        help="run only these datasets' cells (the report still shows every finished cell)",
    )
    p.add_argument(
        "--methods", type=_names, metavar="NAME[,NAME]", help="run only these methods' cells"
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="with --resume: run the chosen cells again even where finished (after a code fix); "
        "the new rows are reported",
    )
    p.add_argument("--lock", type=Path, help="hold an flock on this file while each cell runs")
    p.add_argument("--report-only", action="store_true", help="only re-render results.md/plots")
    add_device_options(p, saved=False)
    p.add_argument("--list", action="store_true", help="list built-in suites and the methods")


def run_bench(args: argparse.Namespace) -> int:
    """Run every unfinished cell of SUITE (a built-in suite name or a YAML file), append one
    JSONL row per cell to OUTPUT/results.jsonl, and render OUTPUT/results.md with Markdown
    tables (mean ± std over seeds) and PNG plots. A failed cell is recorded and the suite goes
    on."""
    # Imported here: the harness loads matplotlib and scikit-learn, which other commands skip.
    from decoreg.bench.publish import write_report
    from decoreg.bench.runner import run_suite
    from decoreg.bench.suite import builtin_suites, load_suite

    if args.list:
        _print_suites_and_methods()
        return 0
    if not args.suite:
        raise ConfigError(f"name a suite; built-in suites: {', '.join(builtin_suites())}")
    suite = load_suite(args.suite)
    output = args.output or DEFAULT_RESULTS / (suite.name + ("-quick" if args.quick else ""))
    if not args.report_only:
        command = _command_line(args, output)
        summary = run_suite(
            suite, output, quick=args.quick, resume=args.resume, lock=args.lock, command=command,
            placement={"device": args.device, "precision": args.precision},
            checkpoint_every=_checkpoint_every(args), datasets=args.datasets,
            methods=args.methods, rerun=args.rerun,
        )  # fmt: skip
        print(
            f"{summary.run} cells run ({summary.failed} failed), {summary.skipped} skipped, "
            f"{summary.wall_seconds / 60:.1f} min"
        )
    path = write_report(suite, output, quick=args.quick)
    print(f"wrote {path}")
    return 0


def _print_suites_and_methods() -> None:
    from decoreg.bench.methods import METHODS, missing_pieces
    from decoreg.bench.suite import builtin_suites

    print("built-in suites: " + ", ".join(builtin_suites()))
    print("methods:")
    for name, method in METHODS.items():
        missing = missing_pieces(method)
        status = "" if missing is None else f"  [not available: {missing}]"
        print(f"  {name:<24} {method.label}: {method.description}{status}")


def _command_line(args: argparse.Namespace, output: Path) -> str:
    """The bench command as a user would type it again (with the resolved output folder)."""
    parts = ["decoreg", "bench", args.suite, "--output", str(output)]
    flags = (("--quick", args.quick), ("--resume", args.resume), ("--rerun", args.rerun))
    parts += [flag for flag, on in flags if on]
    if args.lock:
        parts += ["--lock", str(args.lock)]
    if args.checkpoint_every is not None:
        parts += ["--checkpoint-every", str(args.checkpoint_every)]
    for flag, names in (("--datasets", args.datasets), ("--methods", args.methods)):
        if names:
            parts += [flag, ",".join(names)]
    return " ".join(shlex.quote(part) for part in parts)


def _names(text: str) -> list[str]:
    """A comma-separated option's names."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _checkpoint_every(args: argparse.Namespace) -> int:
    if args.checkpoint_every is None:
        return DEFAULT_CHECKPOINT_EVERY
    if args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be 0 or more, got {args.checkpoint_every}")
    return args.checkpoint_every
