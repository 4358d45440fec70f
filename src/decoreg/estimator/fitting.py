"""The estimator's training run: the model built or loaded, the loop, and the reporter."""

from __future__ import annotations

import numpy as np
import torch

from decoreg.devices import model_device
from decoreg.distributed import World
from decoreg.estimator.plan import RunPlan
from decoreg.memory import available_bytes, check_memory_fits, out_of_memory_error
from decoreg.reporting import make_reporter
from decoreg.training import Dataset, EvaluationHook, TrainResult, fit


def fit_model(estimator, plan: RunPlan, inputs, targets: np.ndarray, validation,
              on_evaluation: EvaluationHook | None):  # fmt: skip
    """Build (or load `init_from`) the model, train it, and set `model_`, `train_result_` and
    `n_train_rows_` on the estimator; the plan's reporter gets every step and evaluation."""
    world = World.current()
    plan = plan.for_train_rows(len(targets), world.size)
    model = initial_model(estimator, plan, inputs, targets)
    if plan.uses_grid:
        model.grid_trie  # noqa: B018 - raises a ConfigError for a grid it cannot write
    estimator.model_ = model
    estimator.train_result_ = TrainResult()
    if plan.max_steps > 0:
        if validation is not None:
            validation = Dataset(model.prepare_inputs(validation[0]), validation[1])
        check_memory_fits(model)  # a model too large for the device fails before step 1
        reporter = make_reporter(plan.reporting, world.rank)
        try:
            estimator.train_result_ = fit(
                model,
                plan.objective,
                Dataset(model.prepare_inputs(inputs), targets),
                plan.train,
                validation=validation,
                decoder=plan.decoder,
                fallback=model.fallback,
                on_evaluation=reporter.evaluation_hook(on_evaluation),
                on_step=reporter.log_step,
            )
        except (torch.cuda.OutOfMemoryError, MemoryError) as error:
            device = model_device(model)
            raise out_of_memory_error(model, device, available_bytes(device)) from error
        finally:
            reporter.close()
    estimator.n_train_rows_ = len(targets)
    return estimator


def initial_model(estimator, plan: RunPlan, inputs, targets: np.ndarray):
    """The saved model of `init_from`, or a new one built from the options and data."""
    if estimator.init_from is None:
        return plan.family.build(plan.params, inputs, targets, plan.placement)
    return plan.family.load(estimator.init_from, placement=plan.placement)  # family checked
