"""The single training loop, shared by every objective and model family.

It knows nothing of methods: an objective turns (model, batch) into a loss, a decoder turns a
model into validation predictions. Logging and saving happen on process rank 0 only, and no
global state is touched, so data-parallel training wraps this loop rather than rewriting it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from decoreg.config import TrainConfig
from decoreg.core import Decoder, Objective
from decoreg.inference import predict_prepared, take_rows, with_fallback
from decoreg.metrics import regression_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """Prepared inputs (as the model's `prepare_inputs` returned them) with raw targets [N]."""

    inputs: Sequence[Any]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class TrainResult:
    """What a run did: per-step logs, evaluations, and which step's weights were kept."""

    steps_run: int = 0
    best_step: int | None = None
    best_validation: dict[str, float] | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    log: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)


def process_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def fit(
    model,
    objective: Objective,
    train: Dataset,
    config: TrainConfig,
    *,
    validation: Dataset | None = None,
    decoder: Decoder | None = None,
    fallback: float = 0.0,
) -> TrainResult:
    """Train `model` in place; with validation rows, keep the weights with the best RMSE."""
    if validation is not None and decoder is None:
        raise ValueError("validation needs a decoder to turn the model's output into numbers")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=_schedule(config))
    batches = _batches(model.input_lengths(train.inputs), config, rng)
    eval_rows = _eval_subset(validation, config, rng)
    result, best_state, bad_evals = TrainResult(), None, 0
    is_main = process_rank() == 0
    bar = tqdm(total=config.max_steps, desc="train", disable=not (config.show_progress and is_main))
    running_loss, start = None, time.perf_counter()
    model.train()
    for step in range(1, config.max_steps + 1):
        metrics = _optimizer_step(model, objective, train, batches, config, params, optimizer)
        scheduler.step()
        running_loss = _ema(running_loss, metrics["loss"])
        result.log.append({"step": step, "lr": scheduler.get_last_lr()[0], **metrics})
        bar.update(1)
        bar.set_postfix(loss=f"{running_loss:.4f}")
        result.steps_run = step
        if validation is not None and _is_eval_step(step, config):
            report = _evaluate(model, decoder, validation, eval_rows, config, fallback)
            result.evaluations.append({"step": step, **report})
            if result.best_validation is None or report["rmse"] < result.best_validation["rmse"]:
                result.best_step, result.best_validation, bad_evals = step, report, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_evals += 1
            bar.set_postfix(loss=f"{running_loss:.4f}", val_rmse=f"{report['rmse']:.4f}")
            if config.early_stopping_patience and bad_evals >= config.early_stopping_patience:
                result.stopped_early = True
                logger.info("early stop at step %d (best step %d)", step, result.best_step)
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _optimizer_step(model, objective, train, batches, config, params, optimizer) -> dict:
    totals: dict[str, float] = {}
    for _ in range(config.grad_accum_steps):
        rows = next(batches)
        batch = model.make_batch(take_rows(train.inputs, rows), train.targets[rows])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            loss, metrics = objective(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {float(loss)}; lower the learning rate")
        (loss / config.grad_accum_steps).backward()
        for name, value in metrics.items():
            totals[name] = totals.get(name, 0.0) + value / config.grad_accum_steps
    if config.max_grad_norm > 0:
        totals["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return totals


def _evaluate(model, decoder, validation, rows, config, fallback) -> dict[str, float]:
    inputs = take_rows(validation.inputs, rows)
    predictions = predict_prepared(
        model,
        decoder,
        inputs,
        batch_size=config.eval_batch_size,
        seed=config.seed,
        bf16=config.bf16,
    )
    model.train()
    y_pred = with_fallback(predictions, fallback)
    return regression_report(validation.targets[rows], y_pred, predictions.parsed)


def _batches(lengths: np.ndarray, config: TrainConfig, rng: np.random.Generator) -> Iterator:
    """Endless batches of row indices, reshuffled each epoch.

    With length grouping, rows are sorted by length inside windows of 50 batches, cut into
    batches, and the batches shuffled: little padding, and still a random order.
    """
    size = config.batch_size
    while True:
        order = rng.permutation(len(lengths))
        if config.length_grouping:
            window = size * 50
            chunks = [order[i : i + window] for i in range(0, len(order), window)]
            order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        for index in rng.permutation(len(batches)):
            yield batches[index]


def _eval_subset(validation, config: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    if validation is None:
        return np.zeros(0, dtype=int)
    n = len(validation)
    if n <= config.max_eval_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=config.max_eval_rows, replace=False))


def _is_eval_step(step: int, config: TrainConfig) -> bool:
    return step == config.max_steps or (config.eval_every > 0 and step % config.eval_every == 0)


def _schedule(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.schedule == "constant":
            return 1.0
        progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
        progress = min(1.0, progress)
        if config.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _ema(previous: float | None, value: float, decay: float = 0.9) -> float:
    return value if previous is None else decay * previous + (1 - decay) * value
