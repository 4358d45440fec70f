"""Every tensor decoreg makes is made on a named device, so it lands next to the model.

On a CPU-only machine a tensor made without `device=` lands on the CPU, next to the model, and
no computation shows the slip that breaks on a GPU. Two checks find it here:

- statically: every torch factory call in src/ names its device (`device=`), the model's or,
  on purpose, the host (`decoreg.devices.HOST`, for random draws and float64 bookkeeping);
- while fitting and predicting with every family, objective and decoder on tiny models, a
  torch function mode intercepts each factory call made from decoreg's code without a device
  and makes its tensor on the `meta` device instead, as a foreign default device would: such
  a call is both recorded and fatal to the computation it feeds.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

import decoreg
from decoreg.estimator import DecodingRegressor
from tests import device_cases as cases

SRC = Path(decoreg.__file__).parent
FACTORIES = ("tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "linspace",
             "eye", "rand", "randn", "randint", "randperm", "from_numpy", "Generator")  # fmt: skip
NOT_YET = {"distributed.py"}  # gloo's CPU tensors; being replaced by DDP (issue 13, "Engine")

pytestmark = pytest.mark.usefixtures("one_thread")


def _factory_calls_without_device(path: Path, root: Path = SRC) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id == "torch"):
            continue
        if node.func.attr not in FACTORIES:
            continue
        if node.func.attr == "from_numpy" or "device" not in {k.arg for k in node.keywords}:
            found.append(f"{path.relative_to(root)}:{node.lineno} torch.{node.func.attr}")
    return found


def test_every_factory_call_in_the_package_names_its_device():
    """`torch.from_numpy` has no device: `torch.as_tensor(array, device=...)` replaces it."""
    found = [
        call
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in NOT_YET
        for call in _factory_calls_without_device(path)
    ]
    assert found == []


def test_the_static_check_finds_a_factory_without_a_device(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import torch\n"
        "a = torch.zeros(3)\n"
        "b = torch.zeros(3, device=x.device)\n"
        "c = torch.from_numpy(y)\n"
        "d = torch.full_like(b, 1)\n"  # *_like follows its tensor
    )
    found = [call.split(" ", 1)[1] for call in _factory_calls_without_device(source, tmp_path)]
    assert found == ["torch.zeros", "torch.from_numpy"]


class MetaByDefault(TorchFunctionMode):
    """Factory calls from decoreg's code without a device make `meta` tensors, and are noted."""

    WATCHED = frozenset(getattr(torch, name) for name in FACTORIES if name != "Generator")

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.WATCHED and "device" not in kwargs:
            caller = _first_frame_outside_torch()
            if caller is not None and Path(caller.f_code.co_filename).is_relative_to(SRC):
                self.calls.append(f"{caller.f_code.co_filename}:{caller.f_lineno}")
                kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _first_frame_outside_torch():
    frame = sys._getframe(2)
    torch_dir = str(Path(torch.__file__).parent)
    while frame is not None and frame.f_code.co_filename.startswith(torch_dir):
        frame = frame.f_back
    return frame


def test_the_watch_sees_a_factory_call_from_the_package():
    from decoreg.rl.rollout import RolloutRequest

    request = RolloutRequest(2, True, 1.0, torch.zeros(2, 2, 3, device=torch.device("cpu")))
    with MetaByDefault() as watch:
        request.greedy_rows(torch.device("cpu"))  # named: not noted
        torch.zeros(2)  # from a test: not decoreg's
    assert watch.calls == []
    with MetaByDefault() as watch:
        made = _made_without_device()
    assert made.device.type == "meta" and len(watch.calls) == 1


def _made_without_device():
    """A factory call as if written in the package (its code object claims a package file)."""
    code = compile("torch.ones(2)", str(SRC / "devices.py"), "eval")
    return eval(code, {"torch": torch})


def _watched(fit_and_predict) -> list[str]:
    with MetaByDefault() as watch:
        fit_and_predict()
    return watch.calls


@pytest.mark.parametrize("objective", cases.CAUSAL_OBJECTIVES)
def test_causal_lm_fit_and_predict_make_no_tensor_without_a_device(tiny_model_dir, objective):
    texts, y = cases.texts_and_targets()
    estimator = DecodingRegressor(**cases.causal_params(tiny_model_dir, objective))
    assert _watched(lambda: estimator.fit(texts, y).predict(texts[:3])) == []


@pytest.mark.parametrize(("objective", "decoder"), cases.CAUSAL_DECODERS)
def test_causal_lm_decoders_make_no_tensor_without_a_device(tiny_model_dir, objective, decoder):
    texts, y = cases.texts_and_targets()
    params = cases.causal_params(tiny_model_dir, objective, decoder, max_steps=1)
    estimator = DecodingRegressor(**params).fit(texts, y)
    assert _watched(lambda: estimator.predict(texts[:3])) == []


@pytest.mark.parametrize("objective", cases.TABULAR_OBJECTIVES)
def test_tabular_fit_and_predict_make_no_tensor_without_a_device(objective):
    frame, y = cases.table_and_targets()
    estimator = DecodingRegressor(**cases.tabular_params(objective))
    assert _watched(lambda: estimator.fit(frame, y).predict(frame[:3])) == []


@pytest.mark.parametrize(("objective", "decoder"), cases.TABULAR_DECODERS)
def test_tabular_decoders_make_no_tensor_without_a_device(objective, decoder):
    frame, y = cases.table_and_targets()
    estimator = DecodingRegressor(**cases.tabular_params(objective, decoder, max_steps=1))
    estimator.fit(frame, y)
    assert _watched(lambda: estimator.predict(frame[:3])) == []
