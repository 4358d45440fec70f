"""The policy-gradient loss on a mock policy whose log-probs are a free parameter."""

import torch

from decoreg.rl.loss import k3_kl, masked_entropy, policy_gradient_loss


def mock_policy(seed=0, n=3, length=2, k=4):
    """Logits theta [N, L, K] are the policy; actions are fixed."""
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(n, length, k, generator=gen, dtype=torch.float64, requires_grad=True)
    actions = torch.randint(0, k, (n, length), generator=gen)
    return theta, actions


def sampled_logprobs(theta, actions):
    return torch.log_softmax(theta, -1).gather(-1, actions[..., None]).squeeze(-1)


def test_gradient_is_advantage_times_score_function():
    """d loss / d theta[n,t,k] = -(A_n / N) (1[k = a_nt] - p_ntk) on kept steps, 0 elsewhere."""
    theta, actions = mock_policy()
    mask = torch.tensor([[True, True], [True, False], [True, True]])
    advantages = torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64)
    loss, metrics = policy_gradient_loss(sampled_logprobs(theta, actions), mask, advantages)
    loss.backward()
    probs = torch.softmax(theta.detach(), -1)
    one_hot = torch.nn.functional.one_hot(actions, 4).double()
    expected = -(advantages[:, None, None] / 3) * (one_hot - probs) * mask[..., None]
    torch.testing.assert_close(theta.grad, expected)
    assert metrics["pg_loss"] == float(loss.detach())


def test_loss_value_is_minus_mean_advantage_times_sequence_logprob():
    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, -9.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True], [True, False]])
    loss, _ = policy_gradient_loss(logprobs, mask, torch.tensor([2.0, -1.0]))
    # -(2 * (-3) + (-1) * (-0.5)) / 2 = -(-6 + 0.5) / 2 = 2.75
    assert abs(float(loss) - 2.75) < 1e-12


def test_advantage_is_detached():
    logprobs = torch.tensor([[-1.0]], requires_grad=True)
    advantages = torch.tensor([3.0], requires_grad=True)
    loss, _ = policy_gradient_loss(logprobs, torch.tensor([[True]]), advantages)
    loss.backward()
    assert advantages.grad is None and float(logprobs.grad) == -3.0


def test_clipping_at_the_first_update_has_the_plain_gradient():
    theta, actions = mock_policy(seed=1)
    mask = torch.ones(3, 2, dtype=torch.bool)
    advantages = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    plain, _ = policy_gradient_loss(sampled_logprobs(theta, actions), mask, advantages)
    (plain_grad,) = torch.autograd.grad(plain, theta)
    clipped, metrics = policy_gradient_loss(
        sampled_logprobs(theta, actions), mask, advantages, clip_epsilon=0.2
    )
    (clipped_grad,) = torch.autograd.grad(clipped, theta)
    torch.testing.assert_close(clipped_grad, plain_grad)
    assert metrics["clip_fraction"] == 0.0


def test_clipping_stops_the_gradient_past_the_trust_region():
    """A > 0 and ratio e^0.5 > 1.2: the clipped term is constant, so no gradient; A < 0 with
    the same ratio keeps the unclipped (smaller) term and its gradient -A * ratio."""
    logprobs = torch.tensor([[0.0], [0.0]], requires_grad=True)
    old = torch.tensor([[-0.5], [-0.5]])
    mask = torch.ones(2, 1, dtype=torch.bool)
    loss, metrics = policy_gradient_loss(
        logprobs, mask, torch.tensor([1.0, -1.0]), old_logprobs=old, clip_epsilon=0.2
    )
    loss.backward()
    ratio = torch.exp(torch.tensor(0.5))
    torch.testing.assert_close(logprobs.grad, torch.tensor([[0.0], [float(ratio) / 2]]))
    assert metrics["clip_fraction"] == 1.0


def test_kl_term_is_zero_with_zero_gradient_at_the_reference():
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss, metrics = policy_gradient_loss(
        logprobs,
        mask,
        torch.zeros(1),
        ref_logprobs=logprobs.detach().clone(),
        kl_beta=0.5,
    )
    loss.backward()
    assert metrics["kl"] == 0.0 and torch.all(logprobs.grad == 0)


def test_k3_kl_by_hand():
    """d = ref - logp = log 2: e^d - d - 1 = 1 - log 2."""
    value = k3_kl(torch.tensor([0.0]), torch.tensor([0.6931471805599453]))
    torch.testing.assert_close(value, torch.tensor([1 - 0.6931471805599453]))


def test_entropy_bonus_lowers_the_loss_by_coef_times_entropy():
    """Two allowed actions of 1/2 each (one masked -inf): entropy log 2."""
    log_dist = torch.log(torch.tensor([[[0.5, 0.5, 0.0]]]))
    entropy = masked_entropy(log_dist)
    torch.testing.assert_close(entropy, torch.tensor([[0.6931471805599453]]))
    loss, _ = policy_gradient_loss(
        torch.zeros(1, 1),
        torch.ones(1, 1, dtype=torch.bool),
        torch.zeros(1),
        entropies=entropy,
        entropy_coef=0.1,
    )
    assert abs(float(loss) + 0.1 * 0.6931471805599453) < 1e-6


def test_masked_entropy_has_a_finite_gradient():
    logits = torch.tensor([[1.0, 2.0, 0.0]], requires_grad=True)
    log_dist = torch.log_softmax(
        logits.masked_fill(torch.tensor([[False, False, True]]), -1e999), -1
    )
    masked_entropy(log_dist).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 2] == 0
