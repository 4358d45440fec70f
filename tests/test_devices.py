"""Device and precision resolution, and each bad choice refused with one message, before any
data is read or model loaded."""

from __future__ import annotations

import pytest
import torch

from decoreg.config import TrainConfig
from decoreg.devices import (
    CPU_FP32,
    LossScaler,
    Placement,
    Precision,
    resolve_device,
)
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor


@pytest.fixture
def no_accelerator(monkeypatch):
    """This machine as CI sees it: neither CUDA nor MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two CUDA devices, current device 0 (nothing is allocated on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_auto_is_the_cpu_without_an_accelerator(no_accelerator):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(two_gpus, monkeypatch):
    assert resolve_device("auto") == torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


def test_cuda_names_resolve_to_an_index(two_gpus):
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"'cuda:2'.*2 CUDA device\(s\), numbered from 0"):
        resolve_device("cuda:2")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cuda", r"device 'cuda': CUDA is not available here.*use --device cpu or auto"),
        ("cuda:0", r"device 'cuda:0': CUDA is not available"),
        ("mps", r"device 'mps' is not available here"),
        ("tpu", r"unknown device 'tpu'; choose auto\|cpu\|cuda\|cuda:N\|mps"),
        ("cuda:x", r"unknown device 'cuda:x'"),
        ("meta", r"unknown device 'meta'"),
    ],
)
def test_a_device_this_machine_lacks_is_refused(no_accelerator, name, message):
    with pytest.raises(ConfigError, match=message):
        resolve_device(name)


def test_a_device_that_is_not_a_string_is_refused():
    with pytest.raises(ConfigError, match=r"device must be a string"):
        resolve_device(0)


@pytest.mark.parametrize(
    ("name", "weights", "autocast"),
    [
        ("fp32", torch.float32, False),
        ("bf16-mixed", torch.float32, True),
        ("bf16", torch.bfloat16, True),
        ("fp16-mixed", torch.float32, True),
    ],
)
def test_each_precision_sets_the_weights_and_autocast(name, weights, autocast):
    precision = Precision(name)
    assert precision.weight_dtype == weights and precision.uses_autocast == autocast
    assert precision.autocast_dtype == (torch.float16 if name == "fp16-mixed" else torch.bfloat16)


def test_the_autocast_follows_the_device_and_precision():
    x = torch.ones(2, 2, device=torch.device("cpu"))
    with Precision("bf16-mixed").autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.bfloat16
    with Precision("fp32").autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.float32


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match=r"precision must be one of .*'bf16-mixed'.*got 'fp8'"):
        Precision("fp8")


def test_the_older_bf16_switch_maps_onto_precision_and_both_are_refused():
    assert Precision.of(None, None, "fp32").name == "fp32"  # the family's default
    assert Precision.of(None, True, "fp32").name == "bf16-mixed"
    assert Precision.of(None, False, "bf16-mixed").name == "fp32"
    assert Precision.of("bf16", None, "fp32").name == "bf16"
    with pytest.raises(ConfigError, match=r"precision='bf16' and bf16=False are refused together"):
        Precision.of("bf16", False, "fp32")


def test_train_config_folds_bf16_into_precision():
    assert TrainConfig().precision == "bf16-mixed"
    assert TrainConfig(bf16=False).precision == "fp32"
    assert TrainConfig(bf16=False).bf16 is None  # folded: to_dict / from_dict round-trips
    config = TrainConfig(bf16=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"refused together"):
        TrainConfig(precision="bf16", bf16=False)


def test_fp16_mixed_is_refused_on_the_cpu():
    with pytest.raises(ConfigError, match=r"'fp16-mixed' is refused on the CPU.*'bf16-mixed'"):
        Placement(torch.device("cpu"), Precision("fp16-mixed"))


def test_bf16_is_refused_on_a_gpu_without_it(two_gpus, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    with pytest.raises(ConfigError, match=r"device cuda:0 cannot compute in bfloat16"):
        Placement.resolve("cuda", Precision("bf16"))
    assert Placement.resolve("cuda", Precision("fp16-mixed")).device == torch.device("cuda", 0)


def test_the_cpu_in_fp32_leaves_a_model_as_it_is():
    model = torch.nn.Linear(2, 2)
    assert CPU_FP32.place(model) is model
    placed = Placement(torch.device("cpu"), Precision("bf16")).place(model)
    assert placed.weight.dtype == torch.bfloat16


def test_without_fp16_the_loss_scaler_changes_nothing():
    loss = torch.tensor(2.5, device=torch.device("cpu"))
    scaler = Precision("bf16-mixed").loss_scaler(torch.device("cpu"))
    assert isinstance(scaler, LossScaler) and scaler.scale(loss) is loss
    parameter = torch.nn.Parameter(torch.ones(1))
    parameter.grad = torch.full((1,), 0.5)
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    assert parameter.item() == 0.5  # one plain step: 1 - 1.0 * 0.5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"device": "cuda"}, r"device 'cuda': CUDA is not available"),
        ({"device": "mps"}, r"device 'mps' is not available"),
        ({"device": "gpu0"}, r"unknown device 'gpu0'"),
        ({"precision": "fp16-mixed"}, r"'fp16-mixed' is refused on the CPU"),
        ({"precision": "half"}, r"precision must be one of"),
        ({"precision": "fp32", "bf16": True}, r"refused together"),
    ],
)
def test_the_estimator_refuses_a_bad_device_before_reading_data(no_accelerator, params, message):
    estimator = DecodingRegressor(model="/nonexistent/model", **params)
    with pytest.raises(ConfigError, match=message):
        estimator.fit(None, None)  # the plan is checked first: the rows are never looked at


def test_the_cli_refuses_a_bad_device_before_training(no_accelerator, tmp_path, capsys):
    from decoreg.cli import main

    rows = tmp_path / "rows.csv"
    rows.write_text("text,y\na,1\n")
    common = ["train", str(rows), "--target-column", "y", "--output", str(tmp_path / "m")]
    assert main([*common, "--device", "cuda:1"]) != 0
    assert "CUDA is not available" in capsys.readouterr().err
    assert main([*common, "--precision", "fp32", "--no-bf16"]) != 0
    assert "refused together" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
