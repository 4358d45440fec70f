"""Optuna is imported only when a study runs: decoreg, its CLI and decoreg.tune import
without it, and `tune` then says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
sys.modules["optuna"] = None  # as if it were not installed: `import optuna` raises
import decoreg, decoreg.cli, decoreg.estimator
from decoreg.errors import ConfigError
from decoreg.tune import tune
try:
    tune([[1.0]] * 20, list(range(20)), storage="sqlite:///x.db", family="tabular")
except ConfigError as error:
    print(error)
"""


def test_decoreg_imports_without_optuna_and_tune_says_how_to_install_it(tmp_path):
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, env={**os.environ, "PYTHONPATH": src},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "decoreg tune needs Optuna: pip install 'optuna>=4'" in done.stdout
    assert not (tmp_path / "x.db").exists()
