"""`decoreg datasets list | show NAME | fetch [NAME...]`: the built-in datasets."""

from __future__ import annotations

import argparse

from decoreg.cli.common import add_command
from decoreg.datasets import DATASETS, dataset_names, load_dataset
from decoreg.errors import ConfigError


def add_datasets_command(commands) -> None:
    p = commands.add_parser("datasets", help="list, describe or fetch the built-in datasets")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_command(actions, "list", run_list, "one line per dataset")
    show = add_command(
        actions, "show", run_show, "a dataset's source, licence, size and target range"
    )
    show.add_argument("name")
    fetch = add_command(actions, "fetch", run_fetch, "download, check and cache datasets")
    fetch.add_argument("names", nargs="*", help="dataset names (default: all)")


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ConfigError(f"dataset {name!r} is unknown; valid names: {', '.join(dataset_names())}")


def run_list(args: argparse.Namespace) -> int:
    for name in dataset_names():
        info = DATASETS[name]
        low, high = info.target_range
        print(f"{name:<20} {info.kind:<8} {info.target_column} ({low:g} to {high:g})")
    return 0


def run_show(args: argparse.Namespace) -> int:
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
    if info.max_train_rows is not None:
        print(
            f"  cap:     training split at most {info.max_train_rows:,} rows; "
            f"{data.unused_train_rows:,} training rows unused"
        )
    for column, reason in info.dropped_columns.items():
        print(f"  left out: {column}: {reason}")
    if info.template:
        example = info.template.replace("{text}", str(data.frame[info.text_column].iloc[0]))
        print("  first prompt:\n    " + example.replace("\n", "\n    "))
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    names = args.names or dataset_names()
    for name in names:
        _check_name(name)  # every name before the first download
    for name in names:
        data = load_dataset(name)
        print(f"{name}: {len(data.frame):,} rows ready")
    return 0
