"""Saved models load onto the device asked for, in the precision asked for; local Hugging Face
folders load straight into the weight dtype on the device."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from decoreg.causal_lm.pretrained import lm_load_options, load_pretrained
from decoreg.devices import Placement, Precision
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.conftest import tiny_lm_estimator

LEGACY = Path(__file__).parents[1] / "data" / "legacy_v0_1"
TEXTS = ["row 1", "row 2", "row 3", "row 4", "row 5", "row 6"]
TARGETS = [1.0, 2.0, 3.0, 4.0, 5.0, 1.0]


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_a_model_trained_on_a_gpu_loads_on_the_cpu(tmp_path, tiny_model_dir, no_accelerator):
    """The folder records device "cuda:0"; loading asks for the machine's own ("auto")."""
    estimator = tiny_lm_estimator(tiny_model_dir, device="cpu").fit(TEXTS, TARGETS)
    before = estimator.predict(TEXTS)
    folder = estimator.save(tmp_path / "m")
    meta = json.loads((folder / "decoreg.json").read_text())
    meta["params"]["device"] = "cuda:0"  # as a GPU run writes it
    (folder / "decoreg.json").write_text(json.dumps(meta))
    loaded = DecodingRegressor.load(folder)
    assert loaded.device == "auto" and loaded.model_.device == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict(TEXTS), before)
    with pytest.raises(ConfigError, match=r"device 'cuda': CUDA is not available"):
        DecodingRegressor.load(folder, device="cuda")


def test_loading_in_bf16_puts_the_weights_in_bf16(tmp_path, tiny_model_dir):
    estimator = tiny_lm_estimator(tiny_model_dir, device="cpu").fit(TEXTS, TARGETS)
    folder = estimator.save(tmp_path / "m")
    loaded = DecodingRegressor.load(folder, device="cpu", precision="bf16")
    assert {p.dtype for p in loaded.model_.parameters()} == {torch.bfloat16}
    assert loaded.plan().train.precision == "bf16"
    predictions = loaded.predict(TEXTS)
    assert np.all(np.isfinite(predictions))


@pytest.mark.parametrize("name", ["raft-grid-mean", "tabular-ce-greedy"])
def test_a_folder_of_the_previous_version_loads_with_a_device_and_precision(name):
    """Those folders say bf16=False; a precision given at load replaces it (not refused)."""
    from tests.data.make_legacy_models import FRAME
    from tests.data.make_legacy_models import TEXTS as LEGACY_TEXTS

    expected = json.loads((LEGACY / "expected.json").read_text())[name]
    model = DecodingRegressor.load(LEGACY / name, device="cpu", precision="fp32")
    rows = LEGACY_TEXTS if expected["kind"] == "texts" else FRAME
    np.testing.assert_allclose(model.predict(rows), expected["predictions"], rtol=1e-5, atol=1e-6)
    assert DecodingRegressor.load(LEGACY / name).plan().train.precision == "fp32"  # bf16=False


def test_a_local_folder_loads_straight_into_the_weight_dtype(tiny_model_dir):
    lm, _ = load_pretrained(
        str(tiny_model_dir), placement=Placement(torch.device("cpu"), Precision("bf16"))
    )
    assert {p.dtype for p in lm.parameters()} == {torch.bfloat16}
    lm, _ = load_pretrained(str(tiny_model_dir))  # CPU fp32: as always
    assert {p.dtype for p in lm.parameters()} == {torch.float32}


def test_off_the_cpu_the_weights_are_read_onto_the_device():
    """`device_map` makes transformers read each tensor onto the device (no host copy)."""
    cuda = Placement(torch.device("cuda", 1), Precision("fp32"))
    assert lm_load_options(cuda) == {"dtype": torch.float32, "device_map": {"": cuda.device}}
    cpu = Placement(torch.device("cpu"), Precision("bf16-mixed"))
    assert lm_load_options(cpu) == {"dtype": torch.float32}  # exactly today's CPU load


def test_transformers_takes_the_device_map_in_that_form(tiny_model_dir):
    """The form `lm_load_options` passes off the CPU, tried here with the CPU as the device."""
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, dtype=torch.bfloat16, device_map={"": torch.device("cpu")}
    )
    assert {(p.device.type, p.dtype) for p in lm.parameters()} == {("cpu", torch.bfloat16)}
