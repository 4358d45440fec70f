"""The single training loop, shared by every objective and model family.

It knows nothing of methods: an objective turns (model, batch) into a loss, a decoder turns a
model into validation predictions. Logging and saving happen on process rank 0 only, and no
global state is touched, so data-parallel training wraps this loop rather than rewriting it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from decoreg.checkpoint import Checkpointer, load_trainable_state, trainable_state
from decoreg.config import TrainConfig
from decoreg.core import Decoder, Objective
from decoreg.data_order import BatchOrder
from decoreg.devices import Precision, model_device
from decoreg.distributed import World, average_metrics, gather_strided, strided_share
from decoreg.engine import Engine, make_engine
from decoreg.errors import ConfigError
from decoreg.inference import predict_prepared, take_rows
from decoreg.memory import RELEASE_EVERY, model_tensors, release_free_memory, spill_to_disk
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


EvaluationHook = Callable[[int, dict[str, float]], None]
"""`on_evaluation(step, metrics)`: told each validation pass's step and report (rmse, mae, ...,
and the objective's own metrics); an exception it raises ends the run (e.g. Optuna's
`TrialPruned`, raised by `decoreg.tune` for a trial its pruner stops)."""

StepHook = Callable[[int, dict[str, float]], None]
"""`on_step(step, log)`: told each optimizer step's log entry (`decoreg.reporting`)."""


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
    on_evaluation: EvaluationHook | None = None,
    on_step: StepHook | None = None,
) -> TrainResult:
    """Train `model` in place; with validation rows, keep the weights with the best RMSE.

    Under torch.distributed (`torchrun`, `accelerate launch`) every process runs this with the
    same arguments and trains on its slice of each global batch of `batch_size * world_size`
    rows (`decoreg.distributed`). With `config.checkpoint_dir` a checkpoint is written every
    `checkpoint_every` steps and `config.resume` continues from the newest one, ending with
    the same weights as an uninterrupted run (`decoreg.checkpoint`). `on_evaluation` is
    called after every validation pass, on every process, with the same step and report;
    `on_step` after every optimizer step with its log entry.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"the objective must be a decoreg.core.Objective, not {objective!r}")
    if decoder is not None and not isinstance(decoder, Decoder):
        raise TypeError(f"the decoder must be a decoreg.core.Decoder, not {decoder!r}")
    if validation is not None and decoder is None:
        raise ValueError("validation needs a decoder to turn the model's output into numbers")
    if config.select_by == "reward" and "reward" not in objective.validation_metric_names:
        raise ConfigError(
            "select_by='reward' needs an objective that rewards its predictions (remax, grpo, "
            "rloo, genre2); use 'rmse' or 'mae'"
        )
    device, precision = model_device(model), Precision(config.precision)
    precision.check(device)  # before any step: a device that cannot compute so is refused
    scaler = precision.loss_scaler(device)
    objective.prepare(model)  # before a checkpoint is restored: sees the starting weights
    world = World.current()
    engine = make_engine(model, objective, world, fsdp=config.fsdp)  # DDP: rank 0's weights
    torch.manual_seed(config.seed + world.rank)  # dropout masks differ between processes
    params = [p for p in model.parameters() if p.requires_grad]  # FSDP: the local shards
    # The fused kernel updates all tensors in one pass: ~10x faster than foreach on CPU here.
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=_schedule(config))
    lengths = model.input_lengths(train.inputs)
    order = BatchOrder(lengths, config.batch_size, world.size, config.seed, config.length_grouping)
    eval_rows = _eval_subset(validation, config, np.random.default_rng(config.seed))
    result, best_state, bad_evals, seconds_before = TrainResult(), None, 0, 0.0
    checkpointer = None
    if config.checkpoint_dir is not None:
        checkpointer = Checkpointer(Path(config.checkpoint_dir), world, sharded=config.fsdp)
    fingerprint = _fingerprint(config, lengths, train, validation, world)
    if checkpointer is not None and config.resume:
        restored = checkpointer.restore(
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            objective=objective,
            fingerprint=fingerprint,
        )
        if restored is not None:
            _, record, best_state = restored
            result, bad_evals = TrainResult(**record["result"]), record["bad_evals"]
            seconds_before = result.seconds
    last_step = result.steps_run if result.stopped_early else config.max_steps
    bar = tqdm(
        total=config.max_steps,
        initial=result.steps_run,
        desc="train",
        disable=not (config.show_progress and world.is_main),
    )
    running_loss, start = None, time.perf_counter()
    model.train()
    for step in range(result.steps_run + 1, last_step + 1):
        metrics = _optimizer_step(
            engine, objective, train, order, step, world, config, optimizer, params,
            precision.autocast(device), scaler,
        )  # fmt: skip
        scheduler.step()
        running_loss = _ema(running_loss, metrics["loss"])
        result.log.append({"step": step, "lr": scheduler.get_last_lr()[0], **metrics})
        if on_step is not None:
            on_step(step, dict(result.log[-1]))
        bar.update(1)
        bar.set_postfix(loss=f"{running_loss:.4f}")
        result.steps_run = step
        if validation is not None and _is_eval_step(step, config):
            with engine.evaluating():
                report = _evaluate(
                    model, objective, decoder, validation, eval_rows, config, fallback, world
                )
            result.evaluations.append({"step": step, **report})
            if _improves(report, result.best_validation, config.select_by):
                result.best_step, result.best_validation, bad_evals = step, report, 0
                best_state = _best_weights(model, device, sharded=config.fsdp)
                release_free_memory()
            else:
                bad_evals += 1
            shown = {"val_rmse": f"{report['rmse']:.4f}"}
            if "reward" in report:
                shown["val_reward"] = f"{report['reward']:.4f}"
            bar.set_postfix(loss=f"{running_loss:.4f}", **shown)
            if on_evaluation is not None:
                on_evaluation(step, dict(report))
            if config.early_stopping_patience and bad_evals >= config.early_stopping_patience:
                result.stopped_early = True
                logger.info("early stop at step %d (best step %d)", step, result.best_step)
        result.seconds = seconds_before + time.perf_counter() - start
        if checkpointer is not None and _is_checkpoint_step(step, config):
            checkpointer.save(
                step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                objective=objective,
                record={"result": asdict(result), "bad_evals": bad_evals},
                best_state=best_state,
                fingerprint=fingerprint,
            )
        if step % RELEASE_EVERY == 0:
            release_free_memory()
        if result.stopped_early:
            break
    bar.close()
    if best_state is not None:
        release_free_memory()  # before the spilled weights' pages are read back in
        load_trainable_state(model, best_state)
    engine.finish()
    model.eval()
    result.seconds = seconds_before + time.perf_counter() - start
    return result


def _optimizer_step(
    engine: Engine, objective: Objective, train, order, step, world, config, optimizer, params,
    autocast, scaler,
) -> dict:  # fmt: skip
    """Accumulate `grad_accum_steps` micro-batches, average gradients over processes, step.

    The engine averages the gradients over the processes (DDP, FSDP), in the backward pass of
    the last micro-batch; the ones before it only accumulate locally. `autocast` is the
    precision's context on the model's device (re-entered per micro-batch), `scaler` its
    `decoreg.devices.LossScaler` (a no-op but for fp16-mixed)."""
    totals: dict[str, float] = {}
    objective.begin_step(step)  # objectives that sample (RL) seed their noise with the step
    for micro in range(config.grad_accum_steps):
        rows = order.local_batch((step - 1) * config.grad_accum_steps + micro, world.rank)
        batch = engine.model.make_batch(take_rows(train.inputs, rows), train.targets[rows])
        sync = micro == config.grad_accum_steps - 1  # the last micro-batch's backward syncs
        with autocast:
            loss, metrics = engine(batch, sync=sync)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {float(loss)}; lower the learning rate")
        scaler.scale(loss / config.grad_accum_steps).backward()  # averaged by the engine
        for name, value in metrics.items():
            totals[name] = totals.get(name, 0.0) + value / config.grad_accum_steps
    totals = average_metrics(totals, world)
    if config.max_grad_norm > 0:
        scaler.unscale_(optimizer)  # clip the true gradients
        totals["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
    scaler.step(optimizer)
    optimizer.zero_grad(set_to_none=True)
    return totals


def _best_weights(model, device: torch.device, *, sharded: bool) -> dict:
    """A copy of the weights to restore at the end: on a CPU spilled to a memory-mapped file
    (page cache, not heap); sharded (FSDP) or accelerator weights copied where they are."""
    if device.type == "cpu" and not sharded:
        return spill_to_disk(model_tensors(model))
    return trainable_state(model)


def _improves(report: dict, best: dict | None, select_by: str) -> bool:
    if best is None:
        return True
    if select_by == "reward":
        return report["reward"] > best["reward"]
    return report[select_by] < best[select_by]


def _evaluate(
    model, objective: Objective, decoder, validation, rows, config, fallback, world
) -> dict[str, float]:
    """Each process decodes every `world.size`-th row; all of them get the whole report,
    with the objective's own validation metrics (the RL objectives' mean reward) added.
    Sampling decoders seed each row's noise by the row itself, so one seed for every process
    gives the numbers one process would."""
    share = rows[strided_share(len(rows), world)]
    predictions = predict_prepared(
        model,
        decoder,
        take_rows(validation.inputs, share),
        batch_size=config.eval_batch_size,
        seed=config.seed,
        precision=config.precision,
    )
    model.train()
    values = gather_strided(predictions.values, len(rows), world)
    parsed = gather_strided(predictions.parsed, len(rows), world)
    y_pred = np.where(parsed, values, fallback)
    targets = validation.targets[rows]
    report = regression_report(targets, y_pred, parsed)
    report.update(objective.validation_metrics(model, targets, np.where(parsed, values, np.nan)))
    return report


def _fingerprint(config, lengths, train, validation, world) -> dict:
    """What must not change between a run and its resumption."""
    digest = hashlib.sha256(np.ascontiguousarray(lengths, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(train.targets, dtype=np.float64).tobytes())
    options = {k: v for k, v in config.to_dict().items() if k not in _FREE_ON_RESUME}
    return {
        "train_config": options,
        "world_size": world.size,
        "train_rows": len(train),
        "train_data_sha256": digest.hexdigest(),
        "validation_rows": 0 if validation is None else len(validation),
    }


_FREE_ON_RESUME = ("show_progress", "checkpoint_dir", "checkpoint_every", "resume")


def _eval_subset(validation, config: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    if validation is None:
        return np.zeros(0, dtype=int)
    n = len(validation)
    if n <= config.max_eval_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=config.max_eval_rows, replace=False))


def _is_eval_step(step: int, config: TrainConfig) -> bool:
    return step == config.max_steps or (config.eval_every > 0 and step % config.eval_every == 0)


def _is_checkpoint_step(step: int, config: TrainConfig) -> bool:
    return config.checkpoint_every > 0 and step % config.checkpoint_every == 0


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
