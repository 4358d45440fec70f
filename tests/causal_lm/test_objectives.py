import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.objectives import CrossEntropy, Raft
from decoreg.causal_lm.objectives.cross_entropy import IGNORE, answer_labels
from decoreg.core import Batch
from tests.conftest import tiny_llama
from tests.fakes import fixed_regressor


def test_raft_loss_on_known_distribution(tokenizer):
    """p(1) = 0.5, p(3) = 0.25, 0.25 elsewhere: E = 0.5 + 0.75 = 1.25.

    Targets 2 and 1: loss = ((2 - 1.25)^2 + (1 - 1.25)^2) / 2 = (0.5625 + 0.0625) / 2 = 0.3125.
    Normalized: E = 1.25 / 0.75 = 5/3, loss = ((1/3)^2 + (2/3)^2) / 2 = 5/18.
    """
    model = fixed_regressor(tokenizer, [{"1": 0.5, "3": 0.25, "x": 0.25}])
    batch = model.make_batch(model.prepare_inputs(["a", "b"]), np.array([2.0, 1.0]))
    loss, metrics = Raft()(model, batch)
    assert loss.item() == pytest.approx(0.3125, rel=1e-5)
    assert metrics["grid_mass"] == pytest.approx(0.75, rel=1e-5)
    assert Raft(normalize=True)(model, batch)[0].item() == pytest.approx(5 / 18, rel=1e-5)


def tiny_regressor(tokenizer, seed=0, decimals=1) -> CausalLMRegressor:
    spec = CausalLMSpec(
        base_model="tiny", template="Q: {text}\nA: ", decimals=decimals, grid=(1.0, 2.0, 3.0)
    )
    return CausalLMRegressor(tiny_llama(len(tokenizer), seed), tokenizer, spec)


def test_answer_labels_mask_everything_but_the_answer():
    labels = answer_labels([[7, 8, 1], [9, 1]], torch.device("cpu"))
    assert labels.tolist() == [[7, 8, 1], [IGNORE, 9, 1]]


def test_cross_entropy_scores_only_answer_tokens(tokenizer):
    """The loss equals a hand-assembled mean over the answer tokens of each row.

    Rows: "Q: hi\\nA: " + "2.5<eos>" and "Q: a long prompt\\nA: " + "1.0<eos>"; the reference
    runs each row unpadded and scores positions len(prompt)-1 .. end-1.
    """
    model = tiny_regressor(tokenizer)
    prompts = model.prepare_inputs(["hi", "a long prompt"])
    batch = model.make_batch(prompts, np.array([2.5, 1.0]))
    loss, _ = CrossEntropy()(model, batch)
    token_losses = []
    for prompt, z in zip(prompts, [2.5, 1.0], strict=True):
        answer = model.target_token_ids(z)
        assert len(answer) == 4  # '2', '.', '5', <eos>
        ids = torch.tensor([prompt + answer])
        logits = model.lm(input_ids=ids).logits[0]
        start = len(prompt) - 1
        token_losses.append(
            F.cross_entropy(logits[start:-1], torch.tensor(answer), reduction="none")
        )
    reference = torch.cat(token_losses).mean()
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-5)


def test_cross_entropy_ignores_the_prompt_tokens(tokenizer):
    """Changing the last prompt token's label-position content cannot change a masked loss:
    the gradient w.r.t. the logits at prompt positions is exactly zero."""
    model = tiny_regressor(tokenizer)
    prompts = model.prepare_inputs(["abc"])
    answer = model.target_token_ids(2.0)
    ids = torch.tensor([prompts[0] + answer])
    logits = model.lm(input_ids=ids).logits.detach().requires_grad_(True)
    labels = torch.full(ids.shape, IGNORE)
    labels[0, -len(answer) :] = torch.tensor(answer)
    F.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=IGNORE).backward()
    prompt_part = logits.grad[0, : len(prompts[0]) - 1]
    assert torch.count_nonzero(prompt_part) == 0
    assert torch.count_nonzero(logits.grad[0, len(prompts[0]) - 1 : -1]) > 0


def test_raft_gradient_reaches_every_trainable_tensor(tokenizer):
    model = tiny_regressor(tokenizer, decimals=0)
    batch = model.make_batch(model.prepare_inputs(["x y", "z"]), np.array([1.0, 3.0]))
    loss, _ = Raft()(model, batch)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    assert math.isfinite(loss.item())


def test_batch_targets_are_in_target_space(tokenizer):
    model = tiny_regressor(tokenizer)
    batch = model.make_batch([[1, 2]], np.array([2.0]))
    assert isinstance(batch, Batch) and batch.targets.dtype == torch.float32
