"""A code-metric regression set built from the Python standard library's own source.

It stands in for GenRe2's code-metric regression (its APPS data is not offline): each row is one
function's source text, paired with numbers measured from that text:

- ``log2_bytecode_bytes``: log2 of the bytecode size of the compiled function, counting the
  function's own code object and every code object nested in it (lambdas, comprehensions,
  inner functions and classes);
- ``cyclomatic_complexity``: McCabe's number, 1 + one per decision point (``if``/``elif``,
  conditional expression, loop, ``except`` clause, ``match`` case, comprehension ``for`` and
  ``if``, ``assert``, and each extra operand of ``and``/``or``), not counting nested functions.

The sources are pinned by the interpreter's version: `STDLIB_SOURCES` names standard-library
modules and packages (every module of a package, its test packages left out) that CPython
3.11-3.13 ship as pure Python, read from the running interpreter's library folder without
importing them, so loading is offline. The set is deterministic for one Python version: the
files in sorted module order, every (async) function or method in source order, kept when its
dedented text has between `MIN_LINES` and `MAX_LINES` lines and at most `MAX_CHARS` characters
(so it fits an LM prompt), with exact duplicate texts dropped. On CPython 3.11.7 that is
8,328 functions from 340 modules (6,662 in the 80% training split; 3,213 dropped), complexity
1-16 and log2 bytecode bytes 2.58-10.37 (3.12.1: 8,198 functions, 2.00-10.24; 3.13.0: 8,415,
2.00-10.38; complexity 1-16 on all three). Bytecode (and so the first target) changes between
Python versions; the text and complexity do not change unless the library's source does. The
frame is built once (10-20 s on 2 cores) and cached per exact Python version.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import sys
import sysconfig
import textwrap
import types
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from decoreg.datasets.fetch import read_frame, write_frame
from decoreg.errors import DataError
from decoreg.paths import cache_dir

# Pure-Python standard-library modules and packages present in CPython 3.11-3.13, by import
# name; a package stands for all of its modules (test packages left out).
STDLIB_SOURCES = (
    "_collections_abc", "_pydecimal", "_pyio", "_strptime", "abc", "argparse", "ast",
    "asyncio", "base64", "bdb", "bisect", "bz2", "calendar", "cmd", "code", "codecs", "codeop",
    "collections", "colorsys", "compileall", "concurrent", "configparser", "contextlib", "copy",
    "copyreg", "cProfile", "csv", "ctypes", "dataclasses", "datetime", "dbm", "decimal",
    "difflib", "dis", "email", "enum", "filecmp", "fileinput", "fnmatch", "fractions", "ftplib",
    "functools", "genericpath", "getopt", "getpass", "gettext", "glob", "graphlib", "gzip",
    "hashlib", "heapq", "hmac", "html", "http", "imaplib", "importlib", "inspect", "io",
    "ipaddress", "json", "keyword", "linecache", "locale", "logging", "lzma", "mailbox",
    "mimetypes", "modulefinder", "multiprocessing", "netrc", "ntpath", "numbers", "nturl2path",
    "operator", "optparse", "os", "pathlib", "pdb", "pickle", "pickletools", "pkgutil",
    "platform", "plistlib", "poplib", "posixpath", "pprint", "profile", "pstats", "pty",
    "py_compile", "pyclbr", "pydoc", "queue", "quopri", "random", "re", "reprlib",
    "rlcompleter", "runpy", "sched", "secrets", "selectors", "shelve", "shlex", "shutil",
    "signal", "site", "smtplib", "socket", "socketserver", "sqlite3", "ssl", "stat",
    "statistics", "string", "subprocess", "symtable", "sysconfig", "tabnanny", "tarfile",
    "tempfile", "textwrap", "threading", "timeit", "token", "tokenize", "tomllib", "trace",
    "traceback", "tracemalloc", "tty", "types", "typing", "unittest", "urllib", "uuid",
    "venv", "warnings", "wave", "weakref", "webbrowser", "wsgiref", "xml", "xmlrpc", "zipapp",
    "zipfile", "zipimport", "zoneinfo",
)  # fmt: skip
_TEST_PARTS = ("test", "tests", "idle_test")
MIN_LINES = 3
MAX_LINES = 40
MAX_CHARS = 1200
TARGETS = ("log2_bytecode_bytes", "cyclomatic_complexity")

_DECISIONS = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler,
              ast.Assert, ast.comprehension, ast.match_case)  # fmt: skip
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def cyclomatic_complexity(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """McCabe complexity of one function's body, excluding nested functions and classes.

    Example: ``def f(x):\\n if x and y: return 1\\n for i in x: pass`` has 1 + 1 (if)
    + 1 (and) + 1 (for) = 4.
    """
    count = 1
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, _DECISIONS):
            count += 1 + (len(node.ifs) if isinstance(node, ast.comprehension) else 0)
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        stack.extend(ast.iter_child_nodes(node))
    return count


def bytecode_bytes(code: types.CodeType) -> int:
    """Bytes of bytecode in `code` and in every code object nested in its constants."""
    return len(code.co_code) + sum(
        bytecode_bytes(c) for c in code.co_consts if isinstance(c, types.CodeType)
    )


def _function_code(source: str, name: str, origin: str) -> types.CodeType:
    try:
        module = compile(source, origin, "exec", dont_inherit=True)
    except SyntaxError as error:  # e.g. a method using a name only legal in its class
        raise DataError(f"{origin}: cannot compile function {name!r}: {error}") from None
    for const in module.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            return const
    raise DataError(f"{origin}: compiled {name!r} but found no code object for it")


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _functions(tree: ast.AST) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every (async) function, nested ones included. A def is a statement, so only statement
    blocks are searched (not expressions): the same functions as `ast.walk`, far faster."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node
        for block in _BLOCKS:
            stack.extend(getattr(node, block, ()))


def code_metric_frame(sources: Mapping[str, str]) -> tuple[pd.DataFrame, int]:
    """Measure every fitting function of each module's source.

    Args:
        sources: Module name -> its source text, in the order rows should come.

    Returns:
        The frame (columns ``text``, ``module``, ``function``, then `TARGETS`, rows sorted by
        module then position in the file) and the number of functions dropped for their size,
        as duplicates, or because they do not compile on their own.

    Raises:
        DataError: If a module's source does not parse.
    """
    rows, seen, dropped = [], set(), 0
    for module in sources:
        source = sources[module]
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            raise DataError(f"module {module!r} does not parse: {error}") from None
        lines_of_file = source.splitlines(keepends=True)
        functions = sorted(_functions(tree), key=lambda f: (f.lineno, f.col_offset))
        for function in functions:
            segment = "".join(lines_of_file[function.lineno - 1 : function.end_lineno])
            text = textwrap.dedent(segment).strip("\n")
            lines = text.count("\n") + 1
            if not (MIN_LINES <= lines <= MAX_LINES and len(text) <= MAX_CHARS) or text in seen:
                dropped += 1
                continue
            try:
                code = _function_code(text, function.name, f"<{module}>")
            except DataError:
                dropped += 1
                continue
            seen.add(text)
            rows.append(
                {
                    "text": text,
                    "module": module,
                    "function": function.name,
                    "log2_bytecode_bytes": math.log2(bytecode_bytes(code)),
                    "cyclomatic_complexity": float(cyclomatic_complexity(function)),
                }
            )
    if not rows:
        raise DataError("no function in the given sources fits the size limits")
    frame = pd.DataFrame(rows)
    frame["text"] = frame["text"].astype(str)
    return frame, dropped


def stdlib_files(
    names: Iterable[str] = STDLIB_SOURCES, root: Path | None = None
) -> dict[str, Path]:
    """The files of the named modules and packages, found under the library folder `root`
    (default: the running interpreter's) without importing anything.

    A package gives every ``.py`` file below it except those in test packages and
    ``test_*.py`` files; a name with no file there (e.g. one a Python version dropped) gives
    nothing.

    Returns:
        Module name -> file, sorted by module name.
    """
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else root
    files = {}
    for name in names:
        base = root.joinpath(*name.split("."))
        if base.with_suffix(".py").is_file():
            files[name] = base.with_suffix(".py")
            continue
        for path in sorted(base.rglob("*.py")) if base.is_dir() else ():
            parts = path.relative_to(root).with_suffix("").parts
            if any(p in _TEST_PARTS for p in parts) or parts[-1].startswith("test_"):
                continue
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[module] = path
    return dict(sorted(files.items()))


def stdlib_sources(names: Iterable[str] = STDLIB_SOURCES) -> dict[str, str]:
    """Module name -> source text of `stdlib_files(names)`, in its order."""
    return {
        module: path.read_text(encoding="utf-8") for module, path in stdlib_files(names).items()
    }


def python_version() -> str:
    """``major.minor`` of the running interpreter, on which the bytecode target depends."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


# Bump when `code_metric_frame`'s output changes, so older cached frames are not reused.
CODE_FRAME_FORMAT = 2


def stdlib_code_frame(target: str) -> tuple[pd.DataFrame, int]:
    """The standard-library code-metric set with one target, cached per Python version.

    Args:
        target: One of `TARGETS`.

    Returns:
        Columns ``text`` and `target`, and the number of functions dropped.
    """
    if target not in TARGETS:
        raise DataError(f"target={target!r} is not a code metric; valid: {', '.join(TARGETS)}")
    key = json.dumps([CODE_FRAME_FORMAT, sys.version, STDLIB_SOURCES, MIN_LINES, MAX_LINES,
                      MAX_CHARS])  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = cache_dir("datasets", "frames") / f"stdlib-code-py{python_version()}-{digest}.parquet"
    cached = read_frame(path)
    if cached is None:
        frame, dropped = code_metric_frame(stdlib_sources())
        write_frame(path, frame, {"dropped": dropped})
    else:
        frame, dropped = cached[0], int(cached[1]["dropped"])
    return frame.loc[:, ["text", target]].reset_index(drop=True), dropped
