"""The Objective and Decoder contracts: every registered method honours them, the hooks are
no-ops by default, and the loop refuses what does not."""

import dataclasses

import numpy as np
import pytest
import torch

from decoreg.config import DecodeConfig, TrainConfig
from decoreg.core import Batch, Decoder, Objective
from decoreg.families import FAMILIES
from decoreg.tabular import TABULAR_OBJECTIVES
from decoreg.training import Dataset, fit


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_registered_objective_and_decoder_subclasses_the_contract(family):
    record = FAMILIES[family]
    for name, factory in record.objectives.items():
        assert isinstance(factory(), Objective), name
    for name, factory in record.decoders.items():
        assert isinstance(factory(DecodeConfig()), Decoder), name


class Constant(Objective):
    def __call__(self, model, batch):
        return torch.zeros(()), {"loss": 0.0}


def test_the_hooks_do_nothing_by_default():
    objective = Constant()
    assert objective.prepare(None) is None and objective.begin_step(3) is None
    assert objective.validation_metrics(None, np.zeros(2), np.zeros(2)) == {}
    assert objective.state_dict() == {} and objective.load_state_dict({}) is None
    assert objective.allowed_decoders is None and objective.validation_metric_names == ()
    assert not objective.uses_grid


def test_the_bases_are_abstract():
    with pytest.raises(TypeError):
        Objective()
    with pytest.raises(TypeError):
        Decoder()


def test_tabular_objectives_stay_frozen_dataclasses_with_options():
    ntl = dataclasses.replace(TABULAR_OBJECTIVES["ntl-mse"], weight=0.5)
    assert isinstance(ntl, Objective) and ntl.weight == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        ntl.weight = 1.0


class Recording(Objective):
    """Records the hooks the loop calls, in order."""

    def __init__(self):
        self.calls = []

    def prepare(self, model):
        self.calls.append("prepare")

    def begin_step(self, step):
        self.calls.append(f"step {step}")

    def __call__(self, model, batch):
        loss = ((model.weight * batch.inputs - batch.targets) ** 2).mean()
        return loss, {"loss": float(loss.detach())}


class Linear(torch.nn.Module):
    """y = w x on a list of floats: the smallest model the loop can train."""

    family = "test"

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))

    def input_lengths(self, inputs):
        return np.ones(len(inputs), dtype=int)

    def make_batch(self, inputs, targets):
        return Batch(torch.tensor(list(inputs)), torch.as_tensor(targets, dtype=torch.float32))


def test_the_loop_calls_the_hooks_directly():
    objective = Recording()
    data = Dataset([1.0, 2.0, 3.0, 4.0], np.array([2.0, 4.0, 6.0, 8.0]))
    config = TrainConfig(max_steps=3, batch_size=2, learning_rate=0.1, show_progress=False)
    fit(Linear(), objective, data, config)
    assert objective.calls == ["prepare", "step 1", "step 2", "step 3"]


def test_the_loop_refuses_an_object_that_is_not_an_objective():
    def loss(model, batch):
        return torch.zeros(()), {}

    data = Dataset([1.0], np.array([1.0]))
    with pytest.raises(TypeError, match=r"must be a decoreg\.core\.Objective"):
        fit(Linear(), loss, data, TrainConfig(max_steps=1, show_progress=False))
