"""The `gpu` tier: the same tiny models give the same losses, gradients, predictions and
training steps on the CPU and on the device under test (DECOREG_TEST_DEVICE, default cuda).

Skipped where that device is missing (CI). `DECOREG_TEST_DEVICE=cpu` runs every comparison
here, CPU against a second CPU copy, so the tier's code is checked without a GPU. RL losses
are compared in fp32 only: their actions are drawn by thresholding host-drawn uniforms, and
bf16 rounding can move a probability across a threshold (then another action is sampled).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from decoreg.checkpoint import Checkpointer, checkpoint_name
from decoreg.config import TrainConfig
from decoreg.devices import Precision
from decoreg.distributed import World
from decoreg.estimator import DecodingRegressor
from decoreg.inference import predict_prepared
from decoreg.training import Dataset, fit
from tests import device_cases as cases
from tests.gpu.conftest import TOLERANCE, assert_close_normwise

pytestmark = [pytest.mark.gpu, pytest.mark.usefixtures("one_thread")]

NON_RL = [o for o in cases.CAUSAL_OBJECTIVES if o not in cases.RL_OBJECTIVES]
TABULAR_NON_RL = [o for o in cases.TABULAR_OBJECTIVES if o not in cases.RL_OBJECTIVES]
LOSS_CASES = [
    *[("causal-lm", o, p) for o in NON_RL for p in ("fp32", "bf16-mixed")],
    *[("causal-lm", o, "fp32") for o in cases.RL_OBJECTIVES],
    *[("tabular", o, p) for o in TABULAR_NON_RL for p in ("fp32", "bf16-mixed")],
    *[("tabular", o, "fp32") for o in cases.RL_OBJECTIVES],
]
DECODER_CASES = [
    *[("causal-lm", o, d) for o, d in cases.CAUSAL_DECODERS],
    *[("tabular", o, d) for o, d in cases.TABULAR_DECODERS],
]


def _untrained(family: str, model_dir, objective: str, decoder: str | None = None):
    """(estimator with the built model, rows, targets); the model is built, not trained."""
    if family == "causal-lm":
        rows, y = cases.texts_and_targets()
        params = cases.causal_params(model_dir, objective, decoder, max_steps=0)
    else:
        rows, y = cases.table_and_targets()
        params = cases.tabular_params(objective, decoder, max_steps=0)
    return DecodingRegressor(**params, device="cpu").fit(rows, y), rows, y


def _loss_and_grads(model, objective, rows, y, precision: str):
    objective.prepare(model)
    batch = model.make_batch(model.prepare_inputs(rows)[:4] if isinstance(rows, list)
                             else model.prepare_inputs(rows[:4]), y[:4])  # fmt: skip
    model.train()
    model.zero_grad(set_to_none=True)
    with Precision(precision).autocast(model.device):
        loss, _ = objective(model, batch)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return loss, grads


@pytest.mark.parametrize(("family", "objective", "precision"), LOSS_CASES)
def test_every_objective_gives_the_same_loss_and_gradient(
    tiny_model_dir, other_device, family, objective, precision
):
    estimator, rows, y = _untrained(family, tiny_model_dir, objective)
    on_cpu = estimator.model_
    on_device = copy.deepcopy(on_cpu).to(other_device)
    tolerance = TOLERANCE[precision]
    loss, grads = _loss_and_grads(on_cpu, estimator.plan().objective, rows, y, precision)
    device_loss, device_grads = _loss_and_grads(
        on_device, estimator.plan().objective, rows, y, precision
    )
    assert device_loss.device == on_device.device
    assert_close_normwise(device_loss, loss, tolerance, f"{objective} loss")
    assert grads and device_grads.keys() == grads.keys()
    for name, grad in grads.items():
        assert device_grads[name].device == on_device.device
        assert_close_normwise(device_grads[name], grad, tolerance, f"{objective} grad {name}")


@pytest.mark.parametrize(("family", "objective", "decoder"), DECODER_CASES)
def test_every_decoder_gives_the_same_predictions(
    tiny_model_dir, other_device, family, objective, decoder
):
    estimator, rows, _ = _untrained(family, tiny_model_dir, objective, decoder)
    plan = estimator.plan()
    on_cpu = estimator.model_
    on_device = copy.deepcopy(on_cpu).to(other_device)
    inputs = on_cpu.prepare_inputs(rows)
    expected = predict_prepared(on_cpu, plan.decoder, inputs, batch_size=3, seed=4)
    actual = predict_prepared(on_device, plan.decoder, inputs, batch_size=3, seed=4)
    np.testing.assert_array_equal(actual.parsed, expected.parsed)
    np.testing.assert_allclose(actual.values, expected.values, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", ["causal-lm", "tabular"])
def test_one_rl_step_updates_the_weights_alike(tiny_model_dir, other_device, family):
    estimator, rows, y = _untrained(family, tiny_model_dir, "grpo")
    config = TrainConfig(max_steps=1, batch_size=4, warmup_steps=0, learning_rate=1e-2,
                         precision="fp32", show_progress=False)  # fmt: skip
    trained = []
    for device in (torch.device("cpu"), other_device):
        model = copy.deepcopy(estimator.model_).to(device)
        data = Dataset(model.prepare_inputs(rows), np.asarray(y))
        fit(model, estimator.plan().objective, data, config)
        trained.append(dict(model.named_parameters()))
    reference, moved = trained
    for name, parameter in reference.items():
        assert_close_normwise(moved[name], parameter, TOLERANCE["fp32"], f"weight {name}")


def test_a_resumed_run_on_the_device_ends_with_the_same_weights(
    tiny_model_dir, tmp_path, other_device
):
    texts, y = cases.texts_and_targets(16)
    params = cases.causal_params(tiny_model_dir, "raft", max_steps=4, device=str(other_device),
                                 checkpoint_every=2, validation_fraction=0.0)  # fmt: skip
    reference = DecodingRegressor(**params).fit(texts, y)
    folder = tmp_path / "ckpt"
    DecodingRegressor(**params, checkpoint_dir=str(folder)).fit(texts, y)
    (folder / checkpoint_name(4)).unlink()  # as if killed after step 2's checkpoint
    assert Checkpointer(folder, World()).steps()[-1] == 2
    resumed = DecodingRegressor(**params, checkpoint_dir=str(folder), resume=True).fit(texts, y)
    assert resumed.model_.device == other_device
    expected = dict(reference.model_.named_parameters())
    for name, parameter in resumed.model_.named_parameters():
        assert_close_normwise(parameter, expected[name], 1e-5, f"weight {name}")


def test_a_model_trained_on_the_device_predicts_alike_on_the_cpu(
    tiny_model_dir, tmp_path, other_device
):
    texts, y = cases.texts_and_targets()
    params = cases.causal_params(tiny_model_dir, "raft", device=str(other_device))
    estimator = DecodingRegressor(**params).fit(texts, y)
    on_device = estimator.predict(texts)
    loaded = DecodingRegressor.load(estimator.save(tmp_path / "m"), device="cpu")
    assert loaded.model_.device == torch.device("cpu")
    np.testing.assert_allclose(loaded.predict(texts), on_device, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("precision", ["bf16", "fp16-mixed"])
def test_training_in_a_lower_precision_runs_on_the_device(tiny_model_dir, other_device, precision):
    if precision == "fp16-mixed" and other_device.type == "cpu":
        pytest.skip("fp16-mixed is refused on the CPU")
    texts, y = cases.texts_and_targets()
    params = cases.causal_params(tiny_model_dir, "raft", device=str(other_device),
                                 precision=precision)  # fmt: skip
    estimator = DecodingRegressor(**params).fit(texts, y)
    weights = {p.dtype for p in estimator.model_.parameters()}
    assert weights == {Precision(precision).weight_dtype}
    assert all(np.isfinite(row["loss"]) for row in estimator.train_result_.log)
    assert np.all(np.isfinite(estimator.predict(texts)))
