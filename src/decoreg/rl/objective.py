"""The RL objectives: `(model, batch) -> (loss, metrics)` whose batch is rolled out first.

One class serves ReMax, GRPO, RLOO and expert-guided ReMax (GenRe2): they differ only in the
advantage estimator and the expert weight. Each call samples G numbers per input (sharing the
input's encoding), scores them with the reward, turns rewards into advantages, recomputes the
samples' log-probabilities with grad (again encoding each input once) and returns the
policy-gradient loss, so the single training loop of `decoreg.training` runs RL unchanged and
logs every metric returned here.

The training loop announces each optimizer step with `begin_step(step)`; called on its own,
every call counts as a new step. The step number seeds the samples (with the seed and each
input's content, see `decoreg.rl.rollout.input_uniforms`), so data-parallel processes and
resumed runs draw exactly the samples a single uninterrupted process would. With
`updates_per_rollout = k > 1` a rollout is reused for k optimizer steps with ratio clipping;
the batches the loop hands in during the k - 1 reuse steps are skipped, and with gradient
accumulation every micro-batch of a step is rolled out (or replayed).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from decoreg.core import Batch, Objective
from decoreg.devices import HOST
from decoreg.rl.advantages import ADVANTAGES
from decoreg.rl.config import RLConfig
from decoreg.rl.loss import masked_entropy, policy_gradient_loss
from decoreg.rl.rewards import (
    compute_baseline_rewards,
    compute_group_rewards,
    compute_rewards,
    make_reward,
)
from decoreg.rl.rollout import Rollout, input_uniforms


@dataclass
class ScoredRollout:
    """A rollout with everything the loss needs across its updates.

    Attributes:
        batch: The inputs rolled out.
        rollout: The samples.
        advantages: [B * G] detached advantages.
        experts: [B * G, L] expert actions (-1 where none), or None without expert guidance.
        metrics: Reward, advantage, parse and entropy statistics of the rollout.
        old_logprobs: [B * G, L'] log-probs at the first update (the ratio's denominator).
    """

    batch: Batch
    rollout: Rollout
    advantages: Tensor
    experts: Tensor | None
    metrics: dict[str, float]
    old_logprobs: Tensor | None = None


class RLObjective(Objective):
    """Sequence-level RL on a model's own decoded numbers (see the module docstring).

    Args:
        config: The RL options; validated before any model is touched.
    """

    validation_metric_names = ("reward",)

    def __init__(self, config: RLConfig) -> None:
        self.config = config
        self.reward = make_reward(config.reward, config.reward_options)
        self.estimator = ADVANTAGES[config.advantage]
        self.reference = None
        self.last_scored: ScoredRollout | None = None  # the rollout of the latest call
        self.step = 0
        self._announced = False
        self._recorded: list[ScoredRollout] = []
        self._replay_index = 0

    def prepare(self, model) -> None:
        """Called by the training loop before any step (and before a resumed run restores its
        checkpoint): the KL reference is the model as training starts from it."""
        if self.config.kl_beta > 0 and self.reference is None:
            self.reference = _frozen_copy(model)

    def validation_metrics(
        self,
        model,
        targets: np.ndarray,  # [N] on the user's scale
        predictions: np.ndarray,  # [N] decoded, NaN where unparseable
    ) -> dict[str, float]:
        """The mean reward of the decoded validation predictions (unparseable ones get the
        penalty), in the configured reward space: the training loop reports it next to the
        RMSE and can keep the best checkpoint by it (`select_by="reward"`)."""
        policy = model.rl_policy(constrained=self.config.constrained)
        values = policy.from_raw(model, torch.tensor(predictions, dtype=torch.float64, device=HOST))
        truth = policy.from_raw(model, torch.tensor(targets, dtype=torch.float64, device=HOST))
        rewards = compute_rewards(
            self.reward,
            self._in_reward_space(model, policy, values),
            self._in_reward_space(model, policy, truth),
            **self._reward_settings,
        )
        return {"reward": float(rewards.mean())}

    def begin_step(self, step: int) -> None:
        """Called by the training loop before the micro-batches of optimizer step `step`."""
        self.step, self._announced, self._replay_index = step, True, 0
        if (step - 1) % self.config.updates_per_rollout == 0:
            self._recorded = []

    # ------------------------------------------------------------------ the objective
    def __call__(self, model, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        if batch.targets is None:
            raise ValueError("RL objectives need targets to compute rewards")
        policy = model.rl_policy(constrained=self.config.constrained)
        with _without_dropout(model):  # samples and updates both without dropout
            scored, replayed, encoding = self._scored_rollout(model, policy, batch)
            self.last_scored = scored
            rollout = scored.rollout
            log_dist = policy.action_log_probs(model, scored.batch, rollout, encoding)
        width, device = log_dist.shape[1], log_dist.device
        actions = rollout.flat("actions")[:, :width].to(device)  # a policy may roll out on the host
        mask = rollout.flat("mask")[:, :width].to(device)
        logprobs = log_dist.gather(-1, actions[..., None]).squeeze(-1).masked_fill(~mask, 0.0)
        if scored.old_logprobs is None:
            scored.old_logprobs = logprobs.detach()
        config = self.config
        entropies = masked_entropy(log_dist) if config.entropy_coef > 0 else None
        loss, metrics = policy_gradient_loss(
            logprobs,
            mask,
            scored.advantages.to(device),  # rewards are float64 host work
            old_logprobs=scored.old_logprobs,
            clip_epsilon=config.clip_epsilon,
            ref_logprobs=self._reference_logprobs(model, policy, scored, actions, mask),
            kl_beta=config.kl_beta,
            entropies=entropies,
            entropy_coef=config.entropy_coef,
        )
        if scored.experts is not None:
            experts = scored.experts[:, :width].to(device)
            expert_ce = _expert_cross_entropy(log_dist, experts, mask)
            loss = loss + config.expert_weight * expert_ce
            metrics["expert_ce"] = float(expert_ce.detach())
        metrics = {"loss": float(loss.detach()), **metrics, **scored.metrics}
        metrics["replayed"] = float(replayed)
        return loss, metrics

    # ------------------------------------------------------------------------ rollouts
    def _scored_rollout(self, model, policy, batch: Batch) -> tuple[ScoredRollout, bool, object]:
        """A fresh rollout of `batch` with its inputs' encoding (kept, with grad, for the
        update), or a recorded rollout (no encoding) while a rollout is being reused."""
        k = self.config.updates_per_rollout
        if not self._announced:  # called outside the training loop: each call is a step
            self.begin_step(self.step + 1)
            self._announced = False
        if k == 1:
            scored, encoding = self._roll_out(model, policy, batch)
            return scored, False, encoding
        if (self.step - 1) % k > 0 and self._replay_index < len(self._recorded):
            self._replay_index += 1
            return self._recorded[self._replay_index - 1], True, None
        scored, encoding = self._roll_out(model, policy, batch)
        self._recorded.append(scored)
        return scored, False, encoding

    def _roll_out(self, model, policy, batch: Batch) -> tuple[ScoredRollout, object]:
        config = self.config
        with _without_dropout(model):
            encoding = policy.encode(model, batch)  # with grad; the update reuses it
            rollout = policy.rollout(
                model,
                batch,
                num_samples=config.num_samples,
                with_greedy=self.estimator.needs_greedy,
                temperature=config.temperature,
                uniforms=input_uniforms(
                    policy.input_keys(batch),
                    seed=config.seed,
                    step=self.step,
                    num_samples=config.num_samples,
                    num_steps=policy.num_steps(model),
                ),
                encoding=encoding,
            )
        targets = batch.targets.double().cpu()  # [B], model target space
        samples = self._in_reward_space(model, policy, rollout.values)  # [B, G]
        truth = self._in_reward_space(model, policy, targets)  # [B]
        rewards = compute_group_rewards(self.reward, samples, truth, **self._reward_settings)
        greedy_rewards = None
        if rollout.greedy_values is not None:
            greedy = self._in_reward_space(model, policy, rollout.greedy_values)
            greedy_rewards = compute_baseline_rewards(
                self.reward, greedy, samples, truth, **self._reward_settings
            )
        advantages = self.estimator(rewards, greedy_rewards, config.grpo_scale)  # [B, G]
        experts = None
        if config.expert_weight > 0:
            experts = policy.expert_actions(model, rollout, targets)
        metrics = rollout_metrics(rollout, rewards, greedy_rewards, advantages, targets)
        scored = ScoredRollout(batch, rollout, advantages.reshape(-1), experts, metrics)
        return scored, encoding

    def _in_reward_space(self, model, policy, values: Tensor) -> Tensor:
        return policy.to_reward_space(model, values, self.config.reward_space)

    @property
    def _reward_settings(self) -> dict:
        return {
            "unparseable_reward": self.config.unparseable_reward,
            "name": f"reward {self.config.reward!r}",
        }

    def _reference_logprobs(self, model, policy, scored, actions, mask) -> Tensor | None:
        """Log-probs of the sampled actions under a frozen copy of the starting model."""
        if self.config.kl_beta == 0:
            return None
        if self.reference is None:  # called outside the training loop
            self.reference = _frozen_copy(model)
        with torch.no_grad():
            ref = policy.action_log_probs(self.reference, scored.batch, scored.rollout)
        return ref.gather(-1, actions[..., None]).squeeze(-1).masked_fill(~mask, 0.0)


def _frozen_copy(model):
    return copy.deepcopy(model).eval().requires_grad_(False)


@contextlib.contextmanager
def _without_dropout(model):
    """Run in eval mode (no dropout; gradients still flow), then restore the mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _expert_cross_entropy(log_dist: Tensor, experts: Tensor, mask: Tensor) -> Tensor:
    """Mean -log pi(expert action | sampled prefix) over steps that have an expert action."""
    has_expert = (experts >= 0) & mask
    picked = log_dist.gather(-1, experts.clamp(min=0)[..., None]).squeeze(-1)
    return -(picked * has_expert).sum() / has_expert.sum().clamp(min=1)


def rollout_metrics(
    rollout: Rollout,
    rewards: Tensor,  # [B, G]
    greedy_rewards: Tensor | None,  # [B]
    advantages: Tensor,  # [B, G]
    targets: Tensor,  # [B] model target space
) -> dict[str, float]:
    """What to watch per step (TRL and GenRe2 log the same diagnostics).

    Returns:
        reward and advantage statistics; ``tied_group_share``, the share of inputs whose G
        rewards are all equal (GRPO, RLOO and crps credits give such a group zero advantage,
        so it teaches nothing; ReMax still gives it reward minus the greedy reward);
        ``entropy``, the mean per-step entropy (nats) of the temperature-1 sampling
        distribution over all sampled steps; ``number_entropy``, the mean over samples of
        their steps' summed entropies (the entropy of the distribution over whole numbers);
        ``unparseable_share`` and ``sample_rmse`` of the samples in the model's target space.
    """
    parsed = torch.isfinite(rollout.values)
    errors = (rollout.values - targets[:, None])[parsed]
    tied = rewards.amax(dim=1) == rewards.amin(dim=1)  # [B]
    metrics = {
        "reward_mean": float(rewards.mean()),
        "reward_std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
        "advantage_mean": float(advantages.mean()),
        "advantage_std": float(advantages.std()) if advantages.numel() > 1 else 0.0,
        "advantage_abs_mean": float(advantages.abs().mean()),
        "tied_group_share": float(tied.double().mean()),
        "unparseable_share": float((~parsed).double().mean()),
        "entropy": rollout.entropy,
        "number_entropy": rollout.number_entropy,
        "sample_rmse": float(errors.pow(2).mean().sqrt()) if errors.numel() else float("nan"),
    }
    if greedy_rewards is not None:
        metrics["greedy_reward_mean"] = float(greedy_rewards.mean())
    return metrics
