"""Model folders saved by decoreg 0.1.0 (before the causal_lm/ layout) still load and predict.

tests/data/make_legacy_models.py wrote them, with their predictions, at commit 41455a8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from decoreg.estimator import DecodingRegressor

LEGACY = Path(__file__).parents[1] / "data" / "legacy_v0_1"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


def _legacy_inputs(kind: str):
    from tests.data.make_legacy_models import FRAME, TEXTS

    return TEXTS if kind == "texts" else FRAME


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_folder_saved_by_the_previous_version_predicts_what_it_did(name):
    """Same weights, same decoder: the same numbers, to float rounding across machines."""
    model = DecodingRegressor.load(LEGACY / name)
    predictions = model.predict(_legacy_inputs(EXPECTED[name]["kind"]))
    np.testing.assert_allclose(predictions, EXPECTED[name]["predictions"], rtol=1e-5, atol=1e-6)
