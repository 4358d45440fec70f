"""LoRA adapters (PEFT) on a causal LM: train few weights, save, load back, merge.

A saved LoRA model folder holds the untouched base weights in `lm/` (safetensors, so the
folder is self-contained and never points outside itself) and the adapter in `lora/`
(`adapter_config.json` + `adapter_model.safetensors`). Loading rebuilds the same PEFT model,
which predicts exactly like the one that was saved; merging folds `B @ A * alpha / rank` into
the base weights and gives a plain model.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from decoreg.errors import ConfigError

LORA_FOLDER = "lora"
ALL_LINEAR = "all-linear"


@dataclass(frozen=True)
class LoraOptions:
    """A LoRA adapter's shape.

    Attributes:
        rank: Rank r of the update `B @ A` (r x d_in and d_out x r matrices).
        alpha: Scale numerator: the update is multiplied by alpha / rank (None: 2 * rank).
        targets: Names (or name suffixes) of the linear modules to adapt, e.g.
            ("q_proj", "v_proj"); ("all-linear",) adapts every linear layer but the output.
        dropout: Dropout on the adapter's input during training.
    """

    rank: int
    alpha: float | None = None
    targets: tuple[str, ...] = (ALL_LINEAR,)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ConfigError(f"lora_rank must be >= 1 to use LoRA, got {self.rank}")
        if self.alpha is not None and not self.alpha > 0:
            raise ConfigError(f"lora_alpha must be > 0, got {self.alpha}")
        if not self.targets or any(not t.strip() for t in self.targets):
            raise ConfigError(f"lora_targets needs at least one module name, got {self.targets}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.dropout}")

    @property
    def scale_numerator(self) -> float:
        return float(self.alpha) if self.alpha is not None else 2.0 * self.rank


def apply_lora(lm: nn.Module, options: LoraOptions, seed: int) -> nn.Module:
    """Wrap `lm` in a PEFT LoRA model: only the adapters require gradients.

    The adapters' random initialization is drawn from `seed` without touching the global RNG.
    """
    from peft import LoraConfig, get_peft_model

    targets = ALL_LINEAR if options.targets == (ALL_LINEAR,) else list(options.targets)
    config = LoraConfig(
        r=options.rank,
        lora_alpha=options.scale_numerator,
        target_modules=targets,
        lora_dropout=options.dropout,
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]), _quiet_peft():
        torch.manual_seed(seed)
        try:
            return get_peft_model(lm, config)
        except ValueError as error:
            if "not found in the base model" not in str(error):
                raise
            names = sorted(
                {n.rsplit(".", 1)[-1] for n, m in lm.named_modules() if isinstance(m, nn.Linear)}
            )
            raise ConfigError(
                f"lora_targets {list(options.targets)} match no module of this model; its "
                f"linear layers are {names} (or use {ALL_LINEAR!r})"
            ) from None


def is_lora(lm: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(lm, PeftModel)


def save_lm(lm: nn.Module, lm_dir: Path, lora_dir: Path) -> None:
    """Write the weights as safetensors: the whole LM, or for LoRA the base plus the adapter."""
    if not is_lora(lm):
        lm.save_pretrained(lm_dir, safe_serialization=True)
        return
    base = lm.get_base_model()
    base.save_pretrained(lm_dir, state_dict=base_state_dict(lm), safe_serialization=True)
    lm.save_pretrained(lora_dir, safe_serialization=True)


def base_state_dict(lm: nn.Module) -> dict[str, torch.Tensor]:
    """The base model's own weights under their original names (adapters left out)."""
    state = lm.get_base_model().state_dict()
    return {
        name.replace(".base_layer.", "."): value
        for name, value in state.items()
        if ".lora_" not in name
    }


def load_adapter(lm: nn.Module, lora_dir: Path) -> nn.Module:
    """`lm` with the saved adapter in `lora_dir` attached, or `lm` itself if there is none."""
    if not lora_dir.is_dir():
        return lm
    from peft import PeftModel

    with _quiet_peft():
        return PeftModel.from_pretrained(lm, lora_dir, is_trainable=True)  # can train on


def merge(lm: nn.Module) -> nn.Module:
    """A plain model whose weights include the adapters' updates (`lm` if not LoRA)."""
    return lm.merge_and_unload() if is_lora(lm) else lm


def enable_gradient_checkpointing(lm: nn.Module) -> None:
    """Recompute activations in the backward pass instead of storing them (less memory)."""
    target = lm.get_base_model() if is_lora(lm) else lm
    if not getattr(target, "supports_gradient_checkpointing", False):
        raise ConfigError(f"{type(target).__name__} does not support gradient checkpointing")
    options = {"use_reentrant": False}
    if hasattr(target, "activation_checkpointing_enable"):  # transformers >= 5.x
        target.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
    else:
        target.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)


@contextmanager
def _quiet_peft():
    """Hide a deprecation warning PEFT 0.21 triggers inside transformers 5 (not ours to fix)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        yield
