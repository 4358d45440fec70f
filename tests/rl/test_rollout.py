"""`RolloutRequest`: the row layout both families sample in, and its checks."""

import pytest
import torch

from decoreg.rl.rollout import RolloutRequest


def test_rows_greedy_and_noise_layout():
    """B = 2 inputs, G = 2 samples and the greedy pass: R = 3 rows each, the last greedy; the
    greedy rows get zero noise, the others their input's uniforms in order."""
    uniforms = torch.arange(12, dtype=torch.float64).view(2, 2, 3) / 12  # [B, G, L]
    request = RolloutRequest(2, True, 1.0, uniforms)
    assert request.rows_per_input == 3 and request.batch_size == 2
    greedy = request.greedy_rows(torch.device("cpu")).tolist()
    assert greedy == [False, False, True, False, False, True]
    noise = request.row_uniforms()  # [B * R, L]
    assert noise.shape == (6, 3)
    assert torch.equal(noise[[0, 1, 3, 4]], uniforms.reshape(4, 3))
    assert torch.equal(noise[[2, 5]], torch.zeros(2, 3, dtype=torch.float64))
    alone = RolloutRequest(2, False, 1.0, uniforms)
    assert alone.rows_per_input == 2 and not alone.greedy_rows(torch.device("cpu")).any()
    assert torch.equal(alone.row_uniforms(), uniforms.reshape(4, 3))


def test_collect_keeps_the_samples_and_the_greedy_values():
    """Rows b * 3 + r: the samples are rows 0, 1 and 3, 4; the greedy values rows 2 and 5.
    Entropy: the samples' own steps hold 0.5 + 1.5, 1.0, 2.0, 0.5 + 0.5 = 6.0 over 6 steps, 1.0
    per step (the 9s past an end and the greedy rows' 7s do not count); per number the sums are
    2, 1, 2, 1: a number entropy of 1.5."""
    request = RolloutRequest(2, True, 0.5, torch.zeros(2, 2, 2))
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [1, 0], [1, 1], [1, 1]], dtype=torch.bool)
    values = torch.arange(6, dtype=torch.float64)
    rollout = request.collect(
        actions=torch.arange(12).view(6, 2),
        mask=mask,
        allowed=None,
        logprobs=-torch.ones(6, 2),
        values=values,
        texts=[str(i) for i in range(6)],
        entropies=torch.tensor(
            [[0.5, 1.5], [1.0, 9.0], [7.0, 7.0], [2.0, 9.0], [0.5, 0.5], [7.0, 7.0]]
        ),
    )
    assert rollout.values.tolist() == [[0.0, 1.0], [3.0, 4.0]]
    assert rollout.greedy_values.tolist() == [2.0, 5.0]
    assert rollout.texts == [["0", "1"], ["3", "4"]]
    assert rollout.actions[1, 0].tolist() == [6, 7] and rollout.allowed is None
    assert rollout.entropy == pytest.approx(1.0)
    assert rollout.number_entropy == pytest.approx(1.5)


def test_a_request_checks_its_noise_and_temperature():
    with pytest.raises(ValueError, match=r"uniforms must be \[B, G=3, L\]"):
        RolloutRequest(3, False, 1.0, torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        RolloutRequest(2, False, 0.0, torch.zeros(2, 2, 4))
