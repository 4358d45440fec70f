"""The standard-library code-metric set at size: which files it reads, its row count, and
that it is the same frame on every load."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from decoreg.datasets import load_dataset
from decoreg.datasets.code_metrics import (
    STDLIB_SOURCES,
    code_metric_frame,
    stdlib_code_frame,
    stdlib_files,
    stdlib_sources,
)


def test_stdlib_files_expand_packages_and_leave_out_tests(tmp_path: Path) -> None:
    """A module file, a package (its __init__, a module and a subpackage's module), and what
    is left out: a test package, a test_*.py file, a name with no file."""
    for name in ("alone.py", "pkg/__init__.py", "pkg/core.py", "pkg/sub/__init__.py",
                 "pkg/sub/deep.py", "pkg/tests/__init__.py", "pkg/tests/helper.py",
                 "pkg/test_core.py", "pkg/sub/test/x.py"):  # fmt: skip
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    files = stdlib_files(("pkg", "alone", "gone", "pkg.sub"), root=tmp_path)
    assert list(files) == ["alone", "pkg", "pkg.core", "pkg.sub", "pkg.sub.deep"]
    assert files["pkg.sub"] == tmp_path / "pkg" / "sub" / "__init__.py"
    assert files["alone"] == tmp_path / "alone.py"


def test_building_a_frame_twice_gives_the_same_frame() -> None:
    sources = stdlib_sources(("json", "email.utils", "textwrap"))
    assert list(sources)[:2] == ["email.utils", "json"]  # sorted module names
    first, dropped = code_metric_frame(sources)
    second, again = code_metric_frame(stdlib_sources(("textwrap", "email.utils", "json")))
    pd.testing.assert_frame_equal(first, second)
    assert dropped == again and list(first["module"].unique())[:2] == ["email.utils", "json"]


def test_the_stdlib_set_holds_2000_training_functions_and_loads_the_same_twice() -> None:
    """One full build (about 10-20 s on 2 cores), then the cached copy: identical frames."""
    first = load_dataset("code-complexity")
    second = load_dataset("code-complexity")  # from the cache
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert first.splits["train"].tolist() == second.splits["train"].tolist()
    assert len(first.splits["train"]) >= 2000
    modules = {name.split(".")[0] for name in STDLIB_SOURCES}
    assert {"asyncio", "email", "xml", "unittest"} <= modules
    frame, dropped = stdlib_code_frame("log2_bytecode_bytes")  # the same cached build
    assert len(frame) == len(first.frame) and dropped > 0
    assert frame["text"].tolist() == first.frame["text"].tolist()
    assert first.frame["cyclomatic_complexity"].between(1, 16).all()
    assert frame["log2_bytecode_bytes"].between(2.0, 11.0).all()
    assert frame["text"].str.startswith(("def ", "async def ")).all()
    assert not frame["text"].duplicated().any()
    small = load_dataset("code-bytecode", max_rows=50)
    assert small.info.kind == "text" and small.info.template.endswith(": ")
