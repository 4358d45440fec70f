"""Tests of the datasets added for the benchmark: Vacareanu "Original" functions, the
standard-library code-metric set and a user's own data file."""

from __future__ import annotations

import ast
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from decoreg.datasets import DATASETS, load_dataset
from decoreg.datasets.code_metrics import (
    bytecode_bytes,
    code_metric_frame,
    cyclomatic_complexity,
)
from decoreg.datasets.originals import ORIGINALS, original_frame, original_function
from decoreg.datasets.user_table import load_table_dataset
from decoreg.errors import ConfigError, DataError


# ------------------------------------------------------------------------------ originals
def test_original_formulas_at_hand_computed_points() -> None:
    """#1 at x=0: 0 + 10 sin 0 + 10 cos 0 = 10; at x=50: 50 + 10 sin(2.5 pi) + 10 cos(3 pi)
    = 50 + 10 - 10 = 50. #2 at (0, 4 pi, 0, 1): (0 + (0 - 2/sqrt(4 pi))^2)^0.75
    = (1/pi)^0.75. #3 at (1, 1, 0, 1): e + 0 + 1. #4 at (e, e): e/10 sin e + e/10 cos e + 1.
    #5 at equal inputs: 100/3."""
    x1 = np.array([[0.0], [50.0]])
    np.testing.assert_allclose(original_function(1)(x1), [10.0, 50.0], atol=1e-12)
    x2 = np.array([[0.0, 4 * math.pi, 0.0, 1.0]])
    np.testing.assert_allclose(original_function(2)(x2), [(1 / math.pi) ** 0.75])
    np.testing.assert_allclose(original_function(3)(np.array([[1.0, 1.0, 0.0, 1.0]])),
                               [math.e + 1])  # fmt: skip
    e = math.e
    np.testing.assert_allclose(original_function(4)(np.array([[e, e]])),
                               [e / 10 * math.sin(e) + e / 10 * math.cos(e) + 1])  # fmt: skip
    np.testing.assert_allclose(original_function(5)(np.full((1, 3), 7.0)), [100 / 3])


@pytest.mark.parametrize("variant", sorted(ORIGINALS))
def test_original_frames_are_seeded_bounded_and_in_range(variant: int) -> None:
    a = original_frame(variant, n_rows=500, random_state=3)
    b = original_frame(variant, n_rows=500, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(original_frame(variant, n_rows=500, random_state=4))
    for column, (low, high) in zip(a.columns[:-1], ORIGINALS[variant][1], strict=True):
        assert a[column].between(low, high).all()
    low, high = DATASETS[f"original{variant}"].target_range
    assert a["y"].between(low, high).all()
    noisy = original_frame(variant, n_rows=500, noise=1.0, random_state=3)
    pd.testing.assert_frame_equal(a.drop(columns="y"), noisy.drop(columns="y"))
    assert not np.allclose(a["y"], noisy["y"])


def test_original_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="variant"):
        original_frame(6)
    with pytest.raises(ConfigError, match="noise"):
        original_frame(1, noise=-1.0)


def test_original_registry_entry_loads() -> None:
    data = load_dataset("original1", max_rows=100, seed=1)
    assert list(data.frame.columns) == ["x0", "y"] and len(data.frame) == 100


# --------------------------------------------------------------------------- code metrics
FIXTURE_MODULE = '''
def short(x):
    return x


def branchy(x, items):
    """Complexity 1 + if + elif(if) + and + for + comprehension(for) + its if + except = 8."""
    if x and items:
        return 1
    elif x:
        return 2
    for item in items:
        try:
            total = [i for i in item if i]
        except ValueError:
            pass
    return 0


class Box:
    def method(self, y):
        def inner(z):
            if z:
                return z
        while y:
            y -= 1
        return inner(y)
'''


def test_code_metric_frame_on_a_fixture_module() -> None:
    frame, dropped = code_metric_frame({"fixture": FIXTURE_MODULE})
    # short has 2 lines (< 3) and inner is kept as its own function.
    assert frame["function"].tolist() == ["branchy", "method", "inner"]
    assert dropped == 1
    assert frame["cyclomatic_complexity"].tolist() == [8.0, 2.0, 2.0]
    method_text = frame.loc[frame["function"] == "method", "text"].item()
    assert method_text.startswith("def method(self, y):\n    def inner(z):")
    code = compile(method_text, "<t>", "exec").co_consts[0]
    nested = [c for c in code.co_consts if hasattr(c, "co_code")]
    assert len(nested) == 1  # inner's bytecode counts toward method's size
    expected = len(code.co_code) + len(nested[0].co_code)
    assert frame.loc[frame["function"] == "method", "log2_bytecode_bytes"].item() == pytest.approx(
        math.log2(expected)
    )


def test_cyclomatic_complexity_counts_match_cases_and_boolean_operands() -> None:
    """1 + 2 match cases + (a or b or c: 2 extra operands) + assert + ternary = 7."""
    source = textwrap.dedent(
        """
        def f(v, a, b, c):
            match v:
                case 1:
                    pass
                case _:
                    pass
            assert a or b or c
            return 1 if a else 2
        """
    )
    function = ast.parse(source).body[0]
    assert cyclomatic_complexity(function) == 7


def test_bytecode_bytes_sums_nested_code() -> None:
    code = compile("def f():\n    return [x for x in range(3)]\n", "<t>", "exec").co_consts[0]
    nested = sum(len(c.co_code) for c in code.co_consts if hasattr(c, "co_code"))
    assert bytecode_bytes(code) == len(code.co_code) + nested


def test_code_metric_frame_rejects_unparseable_source() -> None:
    with pytest.raises(DataError, match="broken"):
        code_metric_frame({"broken": "def f(:\n"})


# ------------------------------------------------------------------------------ user file
def test_user_table_dataset(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    pd.DataFrame({"review": [f"text {i}" for i in range(20)], "stars": range(20),
                  "other": 0}).to_csv(path, index=False)  # fmt: skip
    data = load_table_dataset(path, target_column="stars", text_column="review", seed=2)
    assert list(data.frame.columns) == ["review", "stars"]
    assert data.info.kind == "text" and data.info.target_range == (0.0, 19.0)
    assert sum(len(s) for s in data.splits.values()) == 20
    again = load_table_dataset(path, target_column="stars", text_column="review", seed=2)
    np.testing.assert_array_equal(data.splits["test"], again.splits["test"])
    tabular = load_table_dataset(path, target_column="stars", feature_columns=["other"])
    assert tabular.info.kind == "tabular" and tabular.info.template is None
    with pytest.raises(ConfigError, match="exactly one"):
        load_table_dataset(path, target_column="stars")
    with pytest.raises(DataError, match="missing_column"):
        load_table_dataset(path, target_column="stars", text_column="missing_column")
