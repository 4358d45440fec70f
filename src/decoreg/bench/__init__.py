"""The benchmark harness: suites of datasets x methods x models x seeds, run resumably, with
Markdown tables and PNG plots.

Example:
    >>> from decoreg.bench import load_suite, run_suite, write_report  # doctest: +SKIP
    >>> suite = load_suite("raft-cpu")  # doctest: +SKIP
    >>> run_suite(suite, Path("out"), quick=True)  # doctest: +SKIP
    >>> write_report(suite, Path("out"), quick=True)  # doctest: +SKIP
"""

from decoreg.bench.cells import Cell, Suite
from decoreg.bench.methods import METHODS, Method, available_methods, get_method
from decoreg.bench.publish import write_report
from decoreg.bench.runner import RunSummary, run_suite
from decoreg.bench.suite import builtin_suites, load_suite, parse_suite

__all__ = [
    "METHODS",
    "Cell",
    "Method",
    "RunSummary",
    "Suite",
    "available_methods",
    "builtin_suites",
    "get_method",
    "load_suite",
    "parse_suite",
    "run_suite",
    "write_report",
]
