"""A code-metric regression set built from the Python standard library's own source.

It stands in for GenRe2's code-metric regression (its APPS data is not offline): each row is one
function's source text, paired with numbers measured from that text:

- ``log2_bytecode_bytes``: log2 of the bytecode size of the compiled function, counting the
  function's own code object and every code object nested in it (lambdas, comprehensions,
  inner functions and classes);
- ``cyclomatic_complexity``: McCabe's number, 1 + one per decision point (``if``/``elif``,
  conditional expression, loop, ``except`` clause, ``match`` case, comprehension ``for`` and
  ``if``, ``assert``, and each extra operand of ``and``/``or``), not counting nested functions.

The set is deterministic for one Python minor version: a fixed, sorted list of modules, every
(async) function or method in source order, kept when its dedented text has between
`MIN_LINES` and `MAX_LINES` lines and at most `MAX_CHARS` characters (so it fits an LM prompt),
with exact duplicate texts dropped. Bytecode (and so the first target) changes between Python
versions; the text and complexity do not change unless the library's source does.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import math
import sys
import textwrap
import types
from collections.abc import Iterable, Mapping

import pandas as pd

from decoreg.datasets.fetch import read_frame, write_frame
from decoreg.errors import DataError
from decoreg.paths import cache_dir

# Pure-Python standard-library modules present in CPython 3.11-3.13, by import name.
STDLIB_MODULES = (
    "argparse", "ast", "base64", "bisect", "calendar", "cmd", "code", "codeop", "colorsys",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "difflib", "dis", "enum",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext",
    "glob", "gzip", "heapq", "hmac", "html.parser", "imaplib", "inspect", "ipaddress",
    "json.decoder", "json.encoder", "locale", "logging", "mailbox", "mimetypes", "netrc",
    "ntpath", "numbers", "operator", "optparse", "pathlib", "pdb", "pickle", "pickletools",
    "platform", "plistlib", "poplib", "posixpath", "pprint", "pydoc", "queue", "quopri",
    "random", "reprlib", "sched", "secrets", "selectors", "shlex", "shutil", "smtplib",
    "socket", "socketserver", "statistics", "string", "subprocess", "tabnanny", "tarfile",
    "tempfile", "textwrap", "threading", "timeit", "tokenize", "trace", "traceback", "typing",
    "urllib.parse", "urllib.request", "uuid", "wave", "weakref", "webbrowser", "zipapp",
)  # fmt: skip
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


def _functions(tree: ast.AST) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


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


def stdlib_sources(modules: Iterable[str] = STDLIB_MODULES) -> dict[str, str]:
    """Read the source of each standard-library module (skipping ones that are not ``.py``).

    Returns:
        Module name -> source text, sorted by module name.
    """
    sources = {}
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        origin = getattr(spec, "origin", None)
        if origin is None or not origin.endswith(".py"):
            continue
        with open(origin, encoding="utf-8") as handle:
            sources[name] = handle.read()
    return sources


def python_version() -> str:
    """``major.minor`` of the running interpreter, on which the bytecode target depends."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


# Bump when `code_metric_frame`'s output changes, so older cached frames are not reused.
CODE_FRAME_FORMAT = 1


def stdlib_code_frame(target: str) -> tuple[pd.DataFrame, int]:
    """The standard-library code-metric set with one target, cached per Python version.

    Args:
        target: One of `TARGETS`.

    Returns:
        Columns ``text`` and `target`, and the number of functions dropped.
    """
    if target not in TARGETS:
        raise DataError(f"target={target!r} is not a code metric; valid: {', '.join(TARGETS)}")
    key = json.dumps([CODE_FRAME_FORMAT, sys.version, STDLIB_MODULES, MIN_LINES, MAX_LINES,
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
