"""Frozen, validated configuration objects shared by the training loop and the decoders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from decoreg.devices import Precision
from decoreg.errors import ConfigError

SCHEDULES = ("constant", "linear", "cosine")
SELECT_BY = ("rmse", "mae", "reward")  # validation metric that picks the best checkpoint


@dataclass(frozen=True)
class TrainConfig:
    """How the single training loop runs.

    Attributes:
        learning_rate: AdamW peak learning rate.
        weight_decay: AdamW decoupled weight decay.
        batch_size: Examples per optimizer micro-batch (per process).
        grad_accum_steps: Micro-batches accumulated per optimizer step.
        max_steps: Optimizer steps to run.
        warmup_steps: Linear warm-up steps before the schedule.
        schedule: Learning-rate shape after warm-up: constant, linear or cosine decay to 0.
        max_grad_norm: Gradient clipping norm (0 disables clipping).
        eval_every: Evaluate on the validation rows every this many steps (0: only at the end).
        early_stopping_patience: Stop after this many evaluations without a better validation
            score (0 disables early stopping).
        select_by: The validation score that picks the best checkpoint and drives early
            stopping: "rmse" or "mae" (lower is better) or "reward" (the mean reward of the
            decoded predictions, higher is better; RL objectives only).
        precision: "fp32", "bf16-mixed" (fp32 weights, bf16 autocast: the default),
            "bf16" (bf16 weights) or "fp16-mixed" (fp16 autocast with a gradient scaler);
            see `decoreg.devices`. The loop computes on the model's own device.
        bf16: The older switch, folded into `precision` and then reset to None: True means
            "bf16-mixed", False "fp32"; refused with a `precision` other than the default.
        length_grouping: Group examples of similar token length into batches to cut padding.
        seed: Seed for data order, dropout and sampling.
        eval_batch_size: Batch size used for validation decoding.
        max_eval_rows: Validation rows decoded at each evaluation (a seeded subset beyond it).
        show_progress: Draw a progress bar with the running loss.
        checkpoint_dir: Folder for kill-safe checkpoints (None: no checkpoints).
        checkpoint_every: Write a checkpoint every this many optimizer steps (0: never).
        resume: Continue from the newest checkpoint in `checkpoint_dir` (from step 1 if none);
            the run must use the same options, data and number of processes.
        fsdp: Shard the model's parameters, gradients and optimizer state over the processes
            with FSDP2 (needs a process group: `torchrun`); checkpoints are then sharded
            (`torch.distributed.checkpoint`). See `decoreg.engine`.
    """

    learning_rate: float = 3e-5
    weight_decay: float = 0.0
    batch_size: int = 8
    grad_accum_steps: int = 1
    max_steps: int = 200
    warmup_steps: int = 10
    schedule: str = "linear"
    max_grad_norm: float = 1.0
    eval_every: int = 50
    early_stopping_patience: int = 0
    select_by: str = "rmse"
    precision: str = "bf16-mixed"
    bf16: bool | None = None
    length_grouping: bool = True
    seed: int = 0
    eval_batch_size: int = 16
    max_eval_rows: int = 256
    show_progress: bool = True
    checkpoint_dir: str | None = None
    checkpoint_every: int = 50
    resume: bool = False
    fsdp: bool = False

    def __post_init__(self) -> None:
        _positive(
            self,
            "learning_rate",
            "batch_size",
            "grad_accum_steps",
            "max_steps",
            "eval_batch_size",
            "max_eval_rows",
        )
        _non_negative(
            self,
            "weight_decay",
            "warmup_steps",
            "max_grad_norm",
            "eval_every",
            "early_stopping_patience",
            "checkpoint_every",
        )
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.select_by not in SELECT_BY:
            raise ConfigError(f"select_by must be one of {SELECT_BY}, got {self.select_by!r}")
        if self.bf16 is not None:
            default = "bf16-mixed"
            precision = Precision.of(None if self.precision == default else self.precision,
                                     self.bf16, default)  # fmt: skip
            object.__setattr__(self, "precision", precision.name)  # frozen: set once, here
            object.__setattr__(self, "bf16", None)
        Precision(self.precision)
        if self.resume and self.checkpoint_dir is None:
            raise ConfigError("resume needs checkpoint_dir: the folder to resume from")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        return cls(**_known_keys(cls, values))


@dataclass(frozen=True)
class DecodeConfig:
    """Options of the decoders; each decoder reads the ones that concern it.

    Attributes:
        num_samples: Samples per input for the sampling decoders (RAIL by sampling).
        temperature: Sampling temperature; 0 means greedy (the seed is then ignored).
        normalize_grid: Renormalize grid probabilities to sum to one before averaging.
        max_new_tokens: Tokens generated per number; None lets the model derive it from the
            number format and target range.
        quantile: The quantile the quantile decoders report.
    """

    num_samples: int = 32
    temperature: float = 1.0
    normalize_grid: bool = True
    max_new_tokens: int | None = None
    quantile: float = 0.5

    def __post_init__(self) -> None:
        _positive(self, "num_samples")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not 0.0 < self.quantile < 1.0:
            raise ConfigError(f"quantile must be in (0, 1), got {self.quantile}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DecodeConfig:
        return cls(**_known_keys(cls, values))


def _positive(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"{name} must be > 0, got {value!r}")


def _non_negative(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not value >= 0:
            raise ConfigError(f"{name} must be >= 0, got {value!r}")


def _known_keys(cls: type, values: dict) -> dict:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} option(s) {unknown}; valid: {sorted(known)}")
    return dict(values)
