"""Memory: the training floor counted by hand, a model too large for the device refused before
step 1 with one message, an out-of-memory error in training turned into that message, and the
best weights kept in a memory-mapped file that equals them."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from decoreg import memory
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor, fitting

pytestmark = pytest.mark.usefixtures("one_thread")


def two_layers(freeze_first: bool = False, dtype=torch.float32) -> nn.Module:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).to(dtype)  # 16 + 10 parameters
    model[0].requires_grad_(not freeze_first)
    return model


def test_the_floor_is_16_bytes_a_trainable_fp32_parameter_and_4_a_frozen_one():
    assert memory.training_floor_bytes(two_layers()) == 26 * 16
    assert memory.training_floor_bytes(two_layers(freeze_first=True)) == 16 * 4 + 10 * 16
    # bf16 weights: 2 bytes each for weight, gradient and both moments
    assert memory.training_floor_bytes(two_layers(dtype=torch.bfloat16)) == 26 * 8


def test_a_model_larger_than_the_free_memory_is_refused_with_what_it_needs():
    with pytest.raises(ConfigError) as error:
        memory.check_memory_fits(two_layers(), available=26 * 16 - 1)
    message = str(error.value)
    assert "needs at least 0.00 GB (26 trainable parameters" in message
    for hint in ("--precision bf16", "--lora-rank", "--fsdp"):
        assert hint in message
    memory.check_memory_fits(two_layers(), available=26 * 16)  # exactly enough: no error


def test_cpu_free_memory_is_read_from_meminfo():
    free = memory.available_bytes(torch.device("cpu"))
    assert free is None or free > 0
    assert memory.available_bytes(torch.device("meta")) is None


def tiny() -> DecodingRegressor:
    return DecodingRegressor(
        family="tabular",
        max_steps=2,
        batch_size=8,
        verbose=False,
        num_samples=2,
        tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
    )


def rows(n: int = 24):
    x = np.linspace(0.0, 1.0, n)
    return pd.DataFrame({"x": x}), 2.0 * x


def test_fit_refuses_before_the_first_step_when_memory_is_short(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 1000)
    calls = []
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: calls.append(1))
    with pytest.raises(ConfigError, match=r"does not fit in cpu memory.*and 0\.00 GB is free"):
        tiny().fit(*rows())
    assert calls == []  # the training loop never started


def test_an_out_of_memory_error_in_training_becomes_the_same_message(monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(fitting, "fit", out_of_memory)
    with pytest.raises(ConfigError, match="does not fit in cpu memory") as error:
        tiny().fit(*rows())
    assert isinstance(error.value.__cause__, torch.cuda.OutOfMemoryError)


def test_a_spilled_state_equals_the_original_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    state = {"w": torch.randn(5, 3), "b": torch.arange(4)}
    spilled = memory.spill_to_disk(state)
    assert set(spilled) == {"w", "b"}
    assert torch.equal(spilled["w"], state["w"]) and torch.equal(spilled["b"], state["b"])
    assert spilled["w"].data_ptr() != state["w"].data_ptr()
    assert list(tmp_path.iterdir()) == []  # unlinked at once; the mapping keeps the data


def test_spilled_model_tensors_are_a_snapshot_not_the_live_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = two_layers(freeze_first=True)
    before = {n: p.detach().clone() for n, p in model[1].named_parameters()}
    spilled = memory.spill_to_disk(memory.model_tensors(model))
    assert set(spilled) == {"1.weight", "1.bias"}  # trainable ones only (no buffers here)
    with torch.no_grad():
        model[1].weight.add_(1.0)
    assert torch.equal(spilled["1.weight"], before["weight"])


def test_the_loop_releases_freed_memory_every_few_steps_a_new_best_and_the_restore(monkeypatch):
    from decoreg import training

    calls = []
    monkeypatch.setattr(training, "release_free_memory", lambda: calls.append(1))
    est = tiny().set_params(max_steps=2 * memory.RELEASE_EVERY, validation_fraction=0.0)
    est.fit(*rows())
    assert len(calls) == 2  # steps 8 and 16, no validation
    calls.clear()
    est.set_params(max_steps=memory.RELEASE_EVERY - 1, validation_fraction=0.25).fit(*rows())
    assert len(calls) == 2  # the only evaluation is a new best; then the best is restored
