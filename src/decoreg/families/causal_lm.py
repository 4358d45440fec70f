"""Assembling a causal-LM regressor from user options and training targets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from decoreg.errors import ConfigError
from decoreg.models.causal_lm import CausalLMRegressor, CausalLMSpec, fallback_from_targets
from decoreg.models.pretrained import DEFAULT_MODEL, load_pretrained
from decoreg.numbers import AffineScaler, DecimalFormat, digit_grid
from decoreg.prompts import DEFAULT_TEMPLATE, PromptTemplate

SCALE_CHOICES = ("auto", "never", "always")


@dataclass(frozen=True)
class LMOptions:
    """How to build a causal-LM regressor.

    Attributes:
        model: Built-in model name or a local Hugging Face model folder.
        template: Prompt template with `{text}`, ending with the space before the number.
        decimals: Decimals when writing targets; default 0 for an integer grid, else 1.
        grid: Grid values for RAFT and the grid decoders; default: the digits spanning the
            (scaled) targets, as in the RAFT paper.
        scale_targets: "auto" maps targets onto the grid's range only when they fall outside
            it, "always" maps them onto it, "never" refuses targets the grid cannot express.
        max_prompt_tokens: Prompts longer than this have their input text shortened.
        trust_remote_code: Allow a local model folder to run its own code (off by default).
    """

    model: str = DEFAULT_MODEL
    template: str = DEFAULT_TEMPLATE
    decimals: int | None = None
    grid: tuple[float, ...] | None = None
    scale_targets: str = "auto"
    max_prompt_tokens: int = 256
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        PromptTemplate(self.template)
        if self.scale_targets not in SCALE_CHOICES:
            raise ConfigError(
                f"scale_targets must be one of {SCALE_CHOICES}, got {self.scale_targets!r}"
            )
        if self.decimals is not None:
            DecimalFormat(self.decimals)
        if self.grid is not None:
            if len(self.grid) < 2 or len(set(self.grid)) != len(self.grid):
                raise ConfigError(f"grid needs at least two distinct values, got {self.grid}")
            if not all(math.isfinite(v) for v in self.grid):
                raise ConfigError(f"grid values must be finite, got {self.grid}")


def choose_scaler(y: np.ndarray, grid: tuple[float, ...], policy: str) -> AffineScaler:
    """The affine map from the training targets' range onto the grid's range, if needed."""
    lo, hi = float(np.min(y)), float(np.max(y))
    grid_lo, grid_hi = min(grid), max(grid)
    inside = grid_lo <= lo and hi <= grid_hi
    if policy == "never" and not inside:
        raise ConfigError(
            f"the targets span [{lo:g}, {hi:g}] but the grid covers [{grid_lo:g}, {grid_hi:g}] "
            "and scale_targets='never'; allow scaling (scale_targets='auto') or give a grid "
            "that covers the targets"
        )
    if policy == "never" or (policy == "auto" and inside) or hi == lo:
        return AffineScaler()
    return AffineScaler.onto((lo, hi), (grid_lo, grid_hi))


def default_grid(y: np.ndarray, options: LMOptions) -> tuple[float, ...]:
    if options.grid is not None:
        return tuple(float(v) for v in options.grid)
    return digit_grid(float(np.min(y)), float(np.max(y)))


def build_causal_lm(options: LMOptions, y_train: np.ndarray) -> CausalLMRegressor:
    """Load the pretrained LM and fix the grid, number format and scaler from the targets."""
    grid = default_grid(y_train, options)
    scaler = choose_scaler(y_train, grid, options.scale_targets)
    decimals = options.decimals
    if decimals is None:
        decimals = 0 if all(float(v).is_integer() for v in grid) else 1
    spec = CausalLMSpec(
        base_model=options.model,
        template=options.template,
        decimals=decimals,
        grid=grid,
        scaler=scaler,
        max_prompt_tokens=options.max_prompt_tokens,
        fallback=fallback_from_targets(y_train),
    )
    lm, tokenizer = load_pretrained(options.model, trust_remote_code=options.trust_remote_code)
    return CausalLMRegressor(lm, tokenizer, spec)


def lm_options_from(params: dict) -> LMOptions:
    """The LM options out of the estimator's parameters (None means the default)."""
    return LMOptions(
        model=params["model"] or DEFAULT_MODEL,
        template=params["template"] or DEFAULT_TEMPLATE,
        decimals=params["decimals"],
        grid=None if params["grid"] is None else tuple(params["grid"]),
        scale_targets=params["scale_targets"],
        max_prompt_tokens=params["max_prompt_tokens"],
        trust_remote_code=params["trust_remote_code"],
    )
