"""FSDP2 on CPU: 2 gloo processes shard the model and train like DDP; both resume bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from decoreg.checkpoint import Checkpointer, checkpoint_name
from decoreg.distributed import World
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from decoreg.sharded_checkpoint import shard_folder
from tests.distributed_helpers import (
    TARGETS,
    TEXTS,
    estimator_params,
    fit_and_record,
    run_in_processes,
)

LEARNING_RATE = 1e-2


def test_fsdp_in_a_single_process_is_refused_before_training(tiny_model_dir):
    est = DecodingRegressor(**estimator_params("raft", str(tiny_model_dir), 4, fsdp=True))
    with pytest.raises(ConfigError, match=r"fsdp shards the model over the processes.*torchrun"):
        est.fit(TEXTS, TARGETS)


def test_a_causal_lms_shard_units_are_its_decoder_layers(tiny_model_dir):
    lm = DecodingRegressor(**estimator_params("raft", str(tiny_model_dir), 4, max_steps=0))
    lora = DecodingRegressor(
        **estimator_params("raft", str(tiny_model_dir), 4, max_steps=0, lora_rank=2)
    )
    for est in (lm, lora):
        est.fit(TEXTS, TARGETS)
        blocks = est.model_.shard_units()
        assert len(blocks) == 2  # the tiny Llama's two layers
        assert {type(b).__name__ for b in blocks} == {"LlamaDecoderLayer"}


SCENARIOS = {
    "raft": ("raft", True, {}),
    "raft-lora": ("raft", True, {"lora_rank": 2}),
    "raft+accumulation": ("raft", True, {"grad_accum_steps": 2}),
    "tabular-ce": ("ce", False, {"decoder": "greedy"}),
}


def test_fsdp_trains_like_ddp_for_lm_lora_and_tabular(tmp_path, tiny_model_dir):
    """The same 2 processes with and without --fsdp: FSDP's reduce-scatter averages the
    gradients DDP's all-reduce averages, so losses and validation RMSE agree to 1e-5 relative
    and the final weights (gathered back into plain tensors) to a tenth of the learning rate.
    Validation decodes 7 rows one at a time: rank 0 runs one more batch than rank 1, which
    only works because evaluation runs on the gathered model."""
    jobs = []
    for name, (objective, lm, extra) in SCENARIOS.items():
        model_dir = str(tiny_model_dir) if lm else None
        accum = extra.get("grad_accum_steps", 1)
        for fsdp in (False, True):
            params = estimator_params(objective, model_dir, 4 // accum, **extra, fsdp=fsdp)
            params.update(validation_fraction=0.27)  # 7 of 26 rows
            jobs.append((params, str(tmp_path / f"{name}-{fsdp}.json")))
    run_in_processes(_fit_all_and_check_plain, 2, jobs)
    for name in SCENARIOS:
        ddp = json.loads((tmp_path / f"{name}-False.json").read_text())
        fsdp = json.loads((tmp_path / f"{name}-True.json").read_text())
        assert fsdp["plain"], name
        np.testing.assert_allclose(fsdp["losses"], ddp["losses"], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(fsdp["rmse"], ddp["rmse"], rtol=1e-5, err_msg=name)
        w_ddp = torch.load(tmp_path / f"{name}-False.json.weights", weights_only=True)
        w_fsdp = torch.load(tmp_path / f"{name}-True.json.weights", weights_only=True)
        assert w_ddp.keys() == w_fsdp.keys(), name
        for key in w_ddp:
            torch.testing.assert_close(w_fsdp[key], w_ddp[key], rtol=0, atol=LEARNING_RATE / 10)


def _fit_all_and_check_plain(jobs) -> None:
    for params, out_file in jobs:
        est = fit_and_record(params, out_file)
        if dist.get_rank() == 0:  # after fit the model is a plain module again
            record = json.loads(Path(out_file).read_text())
            model = est.model_
            plain_parameters = all(type(p) is nn.Parameter for p in model.parameters())
            plain_classes = not any(type(m).__name__.startswith("FSDP") for m in model.modules())
            record["plain"] = plain_parameters and plain_classes
            Path(out_file).write_text(json.dumps(record))


def _resume_worker(model_dir: str, folder: str, out_file: str, fsdp: bool) -> None:
    """A run with checkpoints every 2 steps; its checkpoints after step 4 are removed (as if
    killed there) and the run resumed; then the uninterrupted run."""
    base = estimator_params("raft", model_dir, 4, fsdp=fsdp, max_steps=7, eval_every=3)
    checkpointed = {**base, "checkpoint_dir": folder, "checkpoint_every": 2}
    fit_and_record(checkpointed, out_file + ".first")
    checkpoints = Checkpointer(Path(folder), World.current(), sharded=fsdp)
    if dist.get_rank() == 0:
        steps = checkpoints.steps()
        assert steps == [4, 6], steps  # the two newest kept, with shard folders under FSDP
        shards = [shard_folder(Path(folder), checkpoint_name(s)).is_dir() for s in steps]
        assert shards == [fsdp, fsdp]
        (Path(folder) / checkpoint_name(6)).unlink()  # a shard folder alone is never read
    dist.barrier()
    fit_and_record({**checkpointed, "resume": True}, out_file + ".resumed")
    fit_and_record(base, out_file + ".reference")


@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_resume_under_ddp_and_fsdp_ends_bit_for_bit_equal(tmp_path, tiny_model_dir, fsdp):
    """2 processes: weights, AdamW moments and the best weights so far (validation at steps 3
    and 6) come back from the checkpoint (under FSDP from each process's shards, the rest from
    the .ckpt file): the resumed run's weights and log are those of the run that was never
    interrupted."""
    out = str(tmp_path / "run.json")
    folder = str(tmp_path / "ckpt")
    run_in_processes(_resume_worker, 2, str(tiny_model_dir), folder, out, fsdp)
    resumed = json.loads(Path(out + ".resumed").read_text())
    reference = json.loads(Path(out + ".reference").read_text())
    assert resumed == reference
    w_resumed = torch.load(out + ".resumed.weights", weights_only=True)
    w_reference = torch.load(out + ".reference.weights", weights_only=True)
    assert [k for k in w_reference if not torch.equal(w_resumed[k], w_reference[k])] == []


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(5, 3), nn.Linear(3, 5, bias=False)
        self.head.weight = self.embed.weight


def test_plain_modules_puts_back_classes_hooks_and_tied_parameters():
    """What `fully_shard` changes (a module's class, its hooks, its parameter objects),
    changed by hand here: `restore` undoes it and keeps one tensor for tied weights."""
    from decoreg.engine import PlainModules

    model = Tied()
    model.head.register_forward_hook(lambda *_: None)  # the user's own hook stays
    snapshot = PlainModules(model)
    model.head.__class__ = type("FSDPLinear", (nn.Linear,), {})
    model.head.register_forward_pre_hook(lambda *_: None)
    model.head.register_state_dict_pre_hook(lambda *_: None)
    shared = nn.Parameter(torch.ones(5, 3))  # stands for the gathered tensor
    model.embed._parameters["weight"] = model.head._parameters["weight"] = shared
    snapshot.restore()
    assert type(model.head) is nn.Linear
    assert len(model.head._forward_hooks) == 1 and not model.head._forward_pre_hooks
    assert not model.head._state_dict_pre_hooks
    assert model.head.weight is model.embed.weight and model.head.weight is not shared
    assert torch.equal(model.head.weight, torch.ones(5, 3))
