"""RL on a tiny causal LM: shared-KV rollouts and training passes against from-scratch
computations, constrained samples, and one RL step moving probability to the better sample."""

import numpy as np
import pytest
import torch

from decoreg.causal_lm.digit_grammar import ALPHABET, EOS
from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.policy import CausalLMPolicy
from decoreg.errors import ConfigError
from decoreg.rl import RL_OBJECTIVES
from decoreg.rl.rollout import choose_actions, input_uniforms
from tests.conftest import first_step_rollout, tiny_llama


def tiny(tokenizer, seed=3, grid=(0.0, 9.0), decimals=1) -> CausalLMRegressor:
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=decimals, grid=grid)
    return CausalLMRegressor(tiny_llama(len(tokenizer), seed=seed), tokenizer, spec)


def batch_of(model, texts, targets):
    return model.make_batch(model.prepare_inputs(texts), np.asarray(targets, dtype=float))


def from_scratch_logprobs(model, policy, prompt, actions, allowed):
    """Score one sample alone: prompt + its tokens, no padding, no cache, grammar-masked."""
    tokens = policy.symbol_ids[actions].tolist()
    logits = model.lm(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
    picked = []
    for step, action in enumerate(actions.tolist()):
        row = logits[len(prompt) - 1 + step, policy.symbol_ids]
        row = row.masked_fill(~allowed[step], float("-inf"))
        picked.append(torch.log_softmax(row, -1)[action])
    return torch.stack(picked)


def test_shared_kv_rollout_logprobs_equal_sampling_each_from_scratch(tokenizer):
    """fp32: the rollout's per-token log-probs (prompt encoded once, cache repeated for 5
    samples + 1 greedy, left padding) equal each sample re-scored alone to 1e-5."""
    model = tiny(tokenizer).eval()
    batch = batch_of(model, ["short", "a much longer prompt than that"], [3.5, 7.0])
    policy, rollout = first_step_rollout(model, batch, num_samples=5)
    assert rollout.actions.shape[:2] == (2, 5)
    with torch.no_grad():
        for b in range(2):
            for g in range(5):
                keep = rollout.mask[b, g]
                expected = from_scratch_logprobs(
                    model,
                    policy,
                    batch.inputs[b],
                    rollout.actions[b, g][keep],
                    rollout.allowed[b, g][keep],
                )
                torch.testing.assert_close(
                    rollout.logprobs[b, g][keep], expected, rtol=0, atol=1e-5
                )


def test_constrained_samples_always_parse_and_follow_the_format(tokenizer):
    """A random tiny model puts almost no mass on digits, yet every sample is a number
    written with one decimal within the grid's integer width."""
    model = tiny(tokenizer).eval()
    batch = batch_of(model, ["x", "y", "z"], [1.0, 2.0, 3.0])
    _, rollout = first_step_rollout(model, batch, num_samples=16)
    texts = [t for row in rollout.texts for t in row]
    assert torch.isfinite(rollout.values).all()
    for text, value in zip(texts, rollout.values.reshape(-1).tolist(), strict=True):
        integer, point, fraction = text.partition(".")
        assert point and len(fraction) == 1 and len(integer) == 1 and float(text) == value


def test_greedy_row_is_the_constrained_argmax(tokenizer):
    model = tiny(tokenizer).eval()
    batch = batch_of(model, ["abc"], [4.0])
    policy, rollout = first_step_rollout(model, batch, num_samples=2)
    prompt, text = batch.inputs[0], ""
    with torch.no_grad():
        while True:
            tokens = [int(policy.symbol_ids[ALPHABET.index(c)]) for c in text]
            logits = model.lm(input_ids=torch.tensor([prompt + tokens])).logits[0, -1]
            allowed = torch.tensor([s in policy.grammar.allowed(text) for s in ALPHABET])
            best = ALPHABET[int(logits[policy.symbol_ids].masked_fill(~allowed, -1e9).argmax())]
            if best == EOS:
                break
            text += best
    assert float(rollout.greedy_values[0]) == float(text)


def test_training_pass_matches_from_scratch_in_value_and_gradient(tokenizer):
    """The training pass runs each prompt once with grad and the samples on its repeated KV
    cache; its log-probs and the gradient of their sum (through the repeated cache into the
    prompt's computation) equal per-sample from-scratch computations."""
    model = tiny(tokenizer)
    batch = batch_of(model, ["short", "a much longer prompt than that"], [3.5, 7.0])
    policy, rollout = first_step_rollout(model, batch, num_samples=4, with_greedy=False)
    log_dist = policy.action_log_probs(model, batch, rollout)
    width = log_dist.shape[1]
    actions = rollout.flat("actions")[:, :width]
    mask = rollout.flat("mask")[:, :width]
    shared = log_dist.gather(-1, actions[..., None]).squeeze(-1).masked_fill(~mask, 0.0)
    weights = torch.linspace(0.5, 2.0, shared.shape[0])[:, None]  # distinct per sample
    (shared * weights).sum().backward()
    shared_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    total = 0.0
    for n in range(shared.shape[0]):
        keep = mask[n]
        scratch = from_scratch_logprobs(
            model,
            policy,
            batch.inputs[n // 4],
            actions[n][keep],
            rollout.flat("allowed")[n, :width][keep],
        )
        torch.testing.assert_close(shared[n][keep], scratch, rtol=0, atol=1e-5)
        total = total + weights[n, 0] * scratch.sum()
    total.backward()
    assert any(float(g.abs().sum()) > 0 for g in shared_grads.values())
    for name, param in model.named_parameters():
        torch.testing.assert_close(shared_grads[name], param.grad, rtol=1e-4, atol=1e-6)


def sequence_logprob(model, policy, prompt, text):
    """log p(text, EOS | prompt) under the constrained policy."""
    actions = torch.tensor([ALPHABET.index(c) for c in [*text, EOS]])
    allowed, prefix = [], ""
    for symbol in [*text, EOS]:
        allowed.append(torch.tensor([s in policy.grammar.allowed(prefix) for s in ALPHABET]))
        prefix += symbol
    with torch.no_grad():
        return float(
            from_scratch_logprobs(model, policy, prompt, actions, torch.stack(allowed)).sum()
        )


@pytest.mark.parametrize("method", ["remax", "grpo", "rloo", "genre2"])
def test_one_rl_step_raises_the_probability_of_the_better_sample(tokenizer, method):
    """One SGD step on the RL loss: the sample with the highest reward becomes more likely and
    the one with the lowest less likely."""
    model = tiny(tokenizer, seed=7, decimals=0)
    batch = batch_of(model, ["the prompt"], [4.0])
    objective = RL_OBJECTIVES[method](num_samples=8, seed=1)
    loss, metrics = objective(model, batch)
    policy, rollout = first_step_rollout(  # the objective's samples (seed 1, step 1)
        model, batch, num_samples=8, with_greedy=method in ("remax", "genre2"), seed=1
    )
    texts = rollout.texts[0]
    errors = [abs(float(t) - 4.0) for t in texts]
    best, worst = texts[int(np.argmin(errors))], texts[int(np.argmax(errors))]
    assert errors[texts.index(best)] < errors[texts.index(worst)]
    assert metrics["reward_mean"] == pytest.approx(-np.mean(np.square(errors)))  # same samples
    prompt = batch.inputs[0]
    before = (
        sequence_logprob(model, policy, prompt, best),
        sequence_logprob(model, policy, prompt, worst),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss.backward()
    optimizer.step()
    after = (
        sequence_logprob(model, policy, prompt, best),
        sequence_logprob(model, policy, prompt, worst),
    )
    assert after[0] > before[0]
    assert after[1] < before[1]
    assert metrics["unparseable_share"] == 0.0


def test_group_methods_refuse_a_single_sample():
    for method in ("grpo", "rloo"):
        with pytest.raises(ConfigError, match=r"num_samples \(G\) must be an int >= 2"):
            RL_OBJECTIVES[method](num_samples=1)
    RL_OBJECTIVES["remax"](num_samples=1)  # ReMax's baseline is the greedy decode


def test_unknown_options_and_rewards_are_named():
    with pytest.raises(ConfigError, match=r"unknown RL option.*'num_sample'"):
        RL_OBJECTIVES["remax"](num_sample=4)
    with pytest.raises(ConfigError, match="unknown reward 'l2'"):
        RL_OBJECTIVES["genre2"](reward="l2")
    with pytest.raises(ConfigError, match="clip_epsilon"):
        RL_OBJECTIVES["grpo"](updates_per_rollout=2)


def test_z_space_rewards_are_refused_for_causal_lms(tokenizer):
    model = tiny(tokenizer)
    objective = RL_OBJECTIVES["remax"](num_samples=2, reward_space="z")
    with pytest.raises(ConfigError, match="'z' is not available for causal LMs"):
        objective(model, batch_of(model, ["a"], [1.0]))


def test_inverse_cdf_sampling_never_picks_a_forbidden_action():
    """Probabilities [0, 0.25, 0, 0.75]: u < 0.25 -> action 1, else action 3, near both edges.

    Not at u = 0.25 itself: the cumulative 0.25 comes out of a softmax, and which side of it
    an exact 0.25 falls on is float rounding, not a property of the rule."""
    log_probs = torch.log(torch.tensor([[0.0, 0.25, 0.0, 0.75]])).expand(5, 4)
    uniforms = torch.tensor([0.0, 0.2499, 0.2501, 0.9, 0.999999])
    chosen = choose_actions(log_probs, torch.zeros(5, dtype=torch.bool), 1.0, uniforms)
    assert chosen.tolist() == [1, 1, 3, 3, 3]
    greedy = choose_actions(log_probs, torch.ones(5, dtype=torch.bool), 1.0, uniforms)
    assert greedy.tolist() == [3] * 5


def test_sample_noise_depends_on_the_input_not_its_batch():
    """The same input gets the same noise alone or inside another batch; the step changes it."""
    keys = [b"first", b"second", b"third"]
    together = input_uniforms(keys, seed=0, step=4, num_samples=3, num_steps=2)
    alone = input_uniforms(keys[1:2], seed=0, step=4, num_samples=3, num_steps=2)
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[0], together[1])
    later = input_uniforms(keys[1:2], seed=0, step=5, num_samples=3, num_steps=2)
    assert not torch.equal(later, alone)


def test_updates_per_rollout_replays_each_rollout_for_k_steps(tiny_model_dir):
    """k = 2 with ratio clipping: steps 1 and 3 roll out, steps 2 and 4 replay; the replayed
    step reuses the same samples, so it reports the same rewards as the step before."""
    from decoreg.estimator import DecodingRegressor

    est = DecodingRegressor(
        model=str(tiny_model_dir),
        objective="grpo",
        template="Q: {text}\nA: ",
        objective_options={"num_samples": 3, "updates_per_rollout": 2, "clip_epsilon": 0.2},
        max_steps=4,
        batch_size=2,
        learning_rate=1e-2,
        eval_every=0,
        validation_fraction=0.0,
        bf16=False,
        verbose=False,
    ).fit([f"row {i}" for i in range(8)], [float(i % 5) for i in range(8)])
    log = est.train_result_.log
    assert [row["replayed"] for row in log] == [0.0, 1.0, 0.0, 1.0]
    assert log[1]["reward_mean"] == log[0]["reward_mean"]
    assert log[3]["reward_mean"] == log[2]["reward_mean"]
    assert "clip_fraction" in log[1]


def test_kl_to_the_frozen_start_is_zero_at_the_start_and_grows_after_a_step(tokenizer):
    """kl_beta > 0 copies the model once, frozen; at the first call the copy is the policy
    (KL 0), after a large SGD step on the same samples the KL is positive.

    "Zero" is zero up to float rounding: the reference scores the actions with its own prompt
    encoding under no_grad, the policy with the rollout's grad-enabled one, two kernel paths
    whose fp32 log-probs differ by ~1e-7; the k3 estimator exp(r) - r - 1 ~ r^2 / 2 turns that
    into ~1e-14 (3.6e-15 seen). The bound 1e-10 allows gaps up to ~1e-5; after the step the KL
    is ~0.36, far above it."""
    model = tiny(tokenizer, seed=4, decimals=0)
    batch = batch_of(model, ["one", "two"], [2.0, 7.0])
    objective = RL_OBJECTIVES["rloo"](num_samples=4, kl_beta=0.1, entropy_coef=0.01)
    loss, metrics = objective(model, batch)
    assert abs(metrics["kl"]) < 1e-10 and metrics["entropy_bonus"] > 0
    assert not any(p.requires_grad for p in objective.reference.parameters())
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.5).step()
    objective.begin_step(objective.step)  # the same step: the same samples
    _, later = objective(model, batch)
    assert later["kl"] > 1e-3


def test_objective_shares_the_rollouts_prompt_pass_without_changing_the_gradient(tokenizer):
    """The objective runs each prompt once (with grad) for both the rollout and the update;
    its gradient equals the one from a separate prompt pass for the update."""
    from decoreg.rl.loss import policy_gradient_loss

    model = tiny(tokenizer, seed=6)
    batch = batch_of(model, ["first prompt", "second"], [2.5, 6.0])
    objective = RL_OBJECTIVES["grpo"](num_samples=3)
    loss, _ = objective(model, batch)
    loss.backward()
    shared = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    scored = objective.last_scored
    policy = CausalLMPolicy.for_model(model)
    log_dist = policy.action_log_probs(model, batch, scored.rollout)  # prompts run again
    width = log_dist.shape[1]
    actions = scored.rollout.flat("actions")[:, :width]
    mask = scored.rollout.flat("mask")[:, :width]
    logprobs = log_dist.gather(-1, actions[..., None]).squeeze(-1).masked_fill(~mask, 0.0)
    separate, _ = policy_gradient_loss(logprobs, mask, scored.advantages)
    separate.backward()
    torch.testing.assert_close(loss, separate)
    for name, param in model.named_parameters():
        torch.testing.assert_close(shared[name], param.grad, rtol=1e-4, atol=1e-6)


def test_unconstrained_sampling_counts_unparseable_outputs_and_penalizes_them(tokenizer):
    """A random tiny LM sampled over its whole vocabulary rarely writes a number: those
    samples get `unparseable_reward` and are counted in `unparseable_share`."""
    model = tiny(tokenizer, seed=8)
    batch = batch_of(model, ["p", "q"], [3.0, 4.0])
    objective = RL_OBJECTIVES["genre2"](num_samples=6, constrained=False, unparseable_reward=-7.0)
    loss, metrics = objective(model, batch)
    rollout = objective.last_scored.rollout
    unparsed = ~torch.isfinite(rollout.values)
    assert metrics["unparseable_share"] == pytest.approx(float(unparsed.double().mean()))
    assert metrics["unparseable_share"] > 0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
