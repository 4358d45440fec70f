"""`decoreg bench` and `decoreg datasets`: the command-line faces of the harness."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from decoreg.datasets import DATASETS, dataset_names, load_dataset
from decoreg.errors import ConfigError

DEFAULT_RESULTS = Path("benchmarks", "results")


def add_bench_command(commands) -> None:
    p = commands.add_parser(
        "bench",
        help="run a benchmark suite (datasets x methods x models x seeds) and report it",
        description="Run every unfinished cell of SUITE (a built-in suite name or a YAML file), "
        "append one JSONL row per cell to OUTPUT/results.jsonl, and render OUTPUT/results.md "
        "with Markdown tables (mean ± std over seeds) and PNG plots. A failed cell is recorded "
        "and the suite goes on.",
    )
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
    p.add_argument("--lock", type=Path, help="hold an flock on this file while each cell runs")
    p.add_argument("--report-only", action="store_true", help="only re-render results.md/plots")
    p.add_argument("--list", action="store_true", help="list built-in suites and the methods")
    p.set_defaults(handler=run_bench_command)


def run_bench_command(args: argparse.Namespace) -> int:
    from decoreg.bench.methods import METHODS, missing_pieces
    from decoreg.bench.publish import write_report
    from decoreg.bench.runner import run_suite
    from decoreg.bench.suite import builtin_suites, load_suite

    if args.list:
        print("built-in suites: " + ", ".join(builtin_suites()))
        print("methods:")
        for name, method in METHODS.items():
            missing = missing_pieces(method)
            status = "" if missing is None else f"  [not available: {missing}]"
            print(f"  {name:<24} {method.label}: {method.description}{status}")
        return 0
    if not args.suite:
        raise ConfigError(f"name a suite; built-in suites: {', '.join(builtin_suites())}")
    suite = load_suite(args.suite)
    output = args.output or DEFAULT_RESULTS / (suite.name + ("-quick" if args.quick else ""))
    if not args.report_only:
        command = _command_line(args, output)
        summary = run_suite(
            suite, output, quick=args.quick, resume=args.resume, lock=args.lock, command=command
        )
        print(
            f"{summary.run} cells run ({summary.failed} failed), {summary.skipped} skipped, "
            f"{summary.wall_seconds / 60:.1f} min"
        )
    path = write_report(suite, output, quick=args.quick)
    print(f"wrote {path}")
    return 0


def _command_line(args: argparse.Namespace, output: Path) -> str:
    """The bench command as a user would type it again (with the resolved output folder)."""
    parts = ["decoreg", "bench", args.suite, "--output", str(output)]
    parts += [flag for flag, on in (("--quick", args.quick), ("--resume", args.resume)) if on]
    if args.lock:
        parts += ["--lock", str(args.lock)]
    return " ".join(shlex.quote(part) for part in parts)


def add_datasets_command(commands) -> None:
    p = commands.add_parser("datasets", help="list, describe or fetch the built-in datasets")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="one line per dataset").set_defaults(handler=_list)
    show = actions.add_parser("show", help="a dataset's source, licence, size and target range")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    fetch = actions.add_parser("fetch", help="download, check and cache datasets")
    fetch.add_argument("names", nargs="*", help="dataset names (default: all)")
    fetch.set_defaults(handler=_fetch)


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ConfigError(f"dataset {name!r} is unknown; valid names: {', '.join(dataset_names())}")


def _list(args: argparse.Namespace) -> int:
    for name in dataset_names():
        info = DATASETS[name]
        low, high = info.target_range
        print(f"{name:<20} {info.kind:<8} {info.target_column} ({low:g} to {high:g})")
    return 0


def _show(args: argparse.Namespace) -> int:
    _check_name(args.name)
    info = DATASETS[args.name]
    data = load_dataset(args.name)
    sizes = ", ".join(f"{len(data.splits[s]):,} {s}" for s in ("train", "validation", "test"))
    print(f"{info.name}: {info.description}")
    print(f"  source:  {info.source}")
    print(f"  licence: {info.license}")
    print(f"  kind:    {info.kind}; inputs: {', '.join(info.input_columns)}")
    print(f"  target:  {info.target_column}, documented range {info.target_range}")
    print(f"  rows:    {len(data.frame):,} ({sizes} with seed 0); dropped: {data.dropped}")
    if info.template:
        example = info.template.replace("{text}", str(data.frame[info.text_column].iloc[0]))
        print("  first prompt:\n    " + example.replace("\n", "\n    "))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    names = args.names or dataset_names()
    for name in names:
        _check_name(name)
    for name in names:
        data = load_dataset(name)
        print(f"{name}: {len(data.frame):,} rows ready")
    return 0
