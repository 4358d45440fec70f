"""RL validation by mean reward, checkpoint selection by it, and the KL reference on resume."""

import numpy as np
import pytest
import torch

from decoreg.config import TrainConfig
from decoreg.errors import ConfigError
from decoreg.rl import RL_OBJECTIVES
from decoreg.tabular.decoding import TABULAR_DECODERS
from decoreg.training import Dataset, fit
from tests.tabular.test_policy import rows, small, tiny_model


def test_validation_reward_by_hand():
    """Raw-space squared-error reward: predictions 1.5 (target 1.0) and unparseable (target
    2.0, penalty -7): mean reward (-0.25 - 7) / 2 = -3.625."""
    model, _ = tiny_model()
    objective = RL_OBJECTIVES["remax"](reward_space="raw", unparseable_reward=-7.0)
    metrics = objective.validation_metrics(model, np.array([1.0, 2.0]), np.array([1.5, np.nan]))
    assert metrics["reward"] == pytest.approx(-3.625, abs=1e-9)


def test_validation_reward_in_z_space_by_hand():
    """z-space: an error of one training standard deviation has reward -1."""
    model, _ = tiny_model()
    objective = RL_OBJECTIVES["grpo"](reward_space="z")
    std = model.target.std
    metrics = objective.validation_metrics(model, np.array([0.3]), np.array([0.3 + std]))
    assert metrics["reward"] == pytest.approx(-1.0, abs=1e-9)


def test_select_by_reward_needs_a_rewarding_objective():
    frame, y = rows(30)
    with pytest.raises(ConfigError, match="select_by='reward' needs an objective"):
        small(objective="ce", select_by="reward").fit(frame, y)
    with pytest.raises(ConfigError, match="select_by must be one of"):
        TrainConfig(select_by="r2")


def test_rl_keeps_the_checkpoint_with_the_best_validation_reward(tmp_path):
    frame, y = rows(60)
    small(objective="ce").fit(frame, y).save(tmp_path / "ce")
    rl = small(
        objective="remax",
        init_from=str(tmp_path / "ce"),
        objective_options={"num_samples": 4, "reward_space": "z"},
        select_by="reward",
        max_steps=9,
        learning_rate=3e-3,
        eval_every=1,
        early_stopping_patience=0,
    ).fit(frame, y)
    evaluations = rl.train_result_.evaluations
    assert len(evaluations) == 9 and all("reward" in e and "rmse" in e for e in evaluations)
    best = max(evaluations, key=lambda e: e["reward"])
    assert rl.train_result_.best_step == best["step"]


def test_kl_reference_is_the_starting_model_after_a_resume(tmp_path):
    """The reference is copied before a checkpoint is restored, so a resumed run keeps the
    weights training started from (not the checkpoint's) as its KL reference."""
    frame, y = rows(40)
    config = TrainConfig(
        learning_rate=1e-2,
        batch_size=8,
        max_steps=4,
        warmup_steps=0,
        eval_every=0,
        show_progress=False,
        checkpoint_dir=str(tmp_path / "checkpoints"),
        checkpoint_every=2,
    )
    start, _ = tiny_model(seed=4)
    starting_weights = {k: v.clone() for k, v in start.state_dict().items()}
    data = Dataset(start.prepare_inputs(frame), y)

    def objective():
        return RL_OBJECTIVES["rloo"](num_samples=4, kl_beta=0.1, reward_space="z")

    fit(start, objective(), data, config)
    trained = {k: v.clone() for k, v in start.state_dict().items()}
    assert any(not torch.equal(trained[k], starting_weights[k]) for k in trained)

    again, _ = tiny_model(seed=4)  # the same starting weights, as a resumed run rebuilds them
    resumed_objective = objective()
    fit(again, resumed_objective, data, TrainConfig(**{**config.to_dict(), "resume": True}))
    for name, value in resumed_objective.reference.state_dict().items():
        assert torch.equal(value, starting_weights[name]), name
    for name, value in again.state_dict().items():
        assert torch.equal(value, trained[name]), name


def test_tabular_decoder_predictions_feed_the_reward(tmp_path):
    """The reward the loop reports is that of the decoded validation predictions."""
    frame, y = rows(40)
    model, _ = tiny_model(seed=1)
    decoder = TABULAR_DECODERS["greedy"]
    objective = RL_OBJECTIVES["remax"](reward_space="raw")
    config = TrainConfig(max_steps=1, batch_size=8, warmup_steps=0, bf16=False, show_progress=False)
    data = Dataset(model.prepare_inputs(frame), y)
    result = fit(model, objective, data, config, validation=data, decoder=decoder)
    batch = model.make_batch(data.inputs, None)
    decoded = decoder(model, batch, generator=torch.Generator().manual_seed(0)).values
    values = model.from_target_space(decoded)  # the model's [0, 1] space -> the user's scale
    expected = -np.mean((values - y) ** 2)
    assert result.evaluations[0]["reward"] == pytest.approx(expected, rel=1e-6)
