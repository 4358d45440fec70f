"""Assembling a causal-LM regressor from user options and training targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from decoreg.causal_lm.grid_values import (
    check_grid,
    check_grid_writable,
    fewest_decimals,
    parse_grid,
)
from decoreg.causal_lm.heads import HeadSpec, set_head_bias
from decoreg.causal_lm.lora import (
    ALL_LINEAR,
    LoraOptions,
    apply_lora,
    enable_gradient_checkpointing,
)
from decoreg.causal_lm.methods import check_init, resolve_head
from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec, fallback_from_targets
from decoreg.causal_lm.numbers import AffineScaler, DecimalFormat, digit_grid
from decoreg.causal_lm.pretrained import DEFAULT_MODEL, load_pretrained
from decoreg.causal_lm.prompts import DEFAULT_TEMPLATE, PromptTemplate
from decoreg.causal_lm.random_init import randomly_initialized
from decoreg.devices import CPU_FP32, Placement
from decoreg.errors import ConfigError

SCALE_CHOICES = ("auto", "never", "always")

OWNED_PARAMS = frozenset(
    {
        # lm_options_from and lora_options_from
        "model", "template", "decimals", "grid", "scale_targets", "max_prompt_tokens",
        "trust_remote_code", "head", "special_token", "init", "lora_rank", "lora_alpha",
        "lora_targets", "gradient_checkpointing",
        # select_texts_for
        "text_column",
        # DecodeConfig options only the causal-LM decoders read (grid scoring, generation)
        "normalize_grid", "max_new_tokens",
    }
)  # fmt: skip
"""Estimator parameters only the causal-LM family reads (`Family.owned_params`)."""

OBJECTIVE_TRAIN_DEFAULTS = {
    "ce": {"learning_rate": 3e-5},
    "raft": {"learning_rate": 3e-5},
    "mbr": {"learning_rate": 3e-5},
    "head": {"learning_rate": 3e-4},
    "learnable-raft": {"learning_rate": 3e-5},
}
"""The learning rate of each fine-tuning objective where the user gives none
(`Family.objective_train_defaults`): the best of a `decoreg tune` grid study on the clothing
reviews (one epoch of batch 8 on 400 rows, benchmarks/results/lr_study/lr_study.md). The head
objective learns a new layer from scratch and wants a larger step than fine-tuning the LM's
own weights. RL objectives keep TrainConfig's rate (they start from a trained model)."""


@dataclass(frozen=True)
class LMOptions:
    """How to build a causal-LM regressor.

    Attributes:
        model: Built-in model name or a local Hugging Face model folder.
        template: Prompt template with `{text}`, ending with the space before the number.
        decimals: Decimals when writing targets; default: the fewest that write every grid
            value exactly (0 for an integer grid, 1 for 0:5:0.1).
        grid: Grid values for RAFT and the grid decoders; default: all ten digits, with the
            targets scaled onto 0..9, for negative or fractional targets; else the integers
            from the targets' minimum to their maximum within 0..9 (the RAFT paper's rule),
            onto which larger ones are scaled. Multi-token values are scored by a trie.
        scale_targets: "auto" maps targets onto the grid's range only when they fall outside
            it, "always" maps them onto it, "never" refuses targets the grid cannot express.
        max_prompt_tokens: Prompts longer than this have their input text shortened.
        trust_remote_code: Allow a local model folder to run its own code (off by default).
        head: Predictive head to attach (see `decoreg.causal_lm.heads`), or None.
        special_token: The token whose logit the `token` head reads (default: EOS).
        init: "pretrained" weights, or "random" for the same architecture freshly initialized.
        seed: Seed of the random initialization (heads, LoRA adapters, `init="random"`).
        lora: Train LoRA adapters (`decoreg.causal_lm.lora`) instead of every weight, or None.
        gradient_checkpointing: Recompute activations in the backward pass to save memory.
    """

    model: str = DEFAULT_MODEL
    template: str = DEFAULT_TEMPLATE
    decimals: int | None = None
    grid: tuple[float, ...] | None = None
    scale_targets: str = "auto"
    max_prompt_tokens: int = 256
    trust_remote_code: bool = False
    head: str | None = None
    special_token: str | None = None
    init: str = "pretrained"
    seed: int = 0
    lora: LoraOptions | None = None
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        PromptTemplate(self.template)
        if self.scale_targets not in SCALE_CHOICES:
            raise ConfigError(
                f"scale_targets must be one of {SCALE_CHOICES}, got {self.scale_targets!r}"
            )
        if self.decimals is not None:
            DecimalFormat(self.decimals)
        if self.grid is not None:
            check_grid(self.grid)
            if self.decimals is not None:
                check_grid_writable(self.grid, self.decimals)
        if self.head is not None or self.special_token is not None:
            HeadSpec(kind=self.head or "token", special_token=self.special_token)
        check_init(self.init)


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


ALL_DIGITS = tuple(float(v) for v in range(10))


def fits_the_paper_grid(y: np.ndarray) -> bool:
    """Whether the targets are integers within 0..9, which the paper's digit grid writes as is."""
    return _integers(y) and bool(np.min(y) >= 0 and np.max(y) <= 9)


def fills_all_digits(y: np.ndarray) -> bool:
    """Whether the default grid is all ten digits: for negative or fractional targets.

    Non-negative integers above 9 keep the integers from their minimum to 9 (code complexity
    1-16 gets 1..9): on the registry's code-complexity set all ten digits measured worse
    (RAFT test RMSE 2.35 vs 2.17, 2 seeds, paired bootstrap; benchmarks/results/
    default_grid.md), while on fractional bytecode sizes they measured better (1.13 vs 1.37).
    """
    return not _integers(y) or bool(np.min(y) < 0)


def default_grid(y: np.ndarray, options: LMOptions) -> tuple[float, ...]:
    """The user's grid; else, for negative or fractional targets, all ten single-token digits,
    onto which the targets are then scaled; else the integers spanning the targets within 0..9
    (the RAFT paper's rule: ratings 1-5 get 1..5).

    The integers spanning the raw range, clipped to 0..9, would waste the grid's resolution
    on such targets: scores in [-2.7, 2.8] would get the four values 0..3.
    """
    if options.grid is not None:
        return tuple(float(v) for v in options.grid)
    if fills_all_digits(y):
        return ALL_DIGITS
    return digit_grid(float(np.min(y)), float(np.max(y)))


def scaling_policy(y: np.ndarray, options: LMOptions) -> str:
    """`scale_targets`, except that "auto" with the default grid of all ten digits maps the
    targets onto the whole grid (fractional ones inside 0..9 included)."""
    if options.scale_targets == "auto" and options.grid is None and fills_all_digits(y):
        return "always"
    return options.scale_targets


def _integers(y: np.ndarray) -> bool:
    return bool(np.all(y == np.round(y)))


def build_causal_lm(
    options: LMOptions, y_train: np.ndarray, placement: Placement = CPU_FP32
) -> CausalLMRegressor:
    """Load the pretrained LM and fix the grid, number format and scaler from the targets;
    the LM is loaded onto `placement`'s device in its weight dtype."""
    grid = default_grid(y_train, options)
    scaler = choose_scaler(y_train, grid, scaling_policy(y_train, options))
    decimals = options.decimals
    if decimals is None:
        decimals = fewest_decimals(grid)
    check_grid_writable(grid, decimals)
    head = None
    if options.head is not None:
        head = HeadSpec(kind=options.head, special_token=options.special_token)
    spec = CausalLMSpec(
        base_model=options.model,
        template=options.template,
        decimals=decimals,
        grid=grid,
        scaler=scaler,
        max_prompt_tokens=options.max_prompt_tokens,
        fallback=fallback_from_targets(y_train),
        head=head,
    )
    lm, tokenizer = load_pretrained(
        options.model, trust_remote_code=options.trust_remote_code, placement=placement
    )
    if options.init == "random":
        lm = randomly_initialized(lm, options.seed)
    if options.lora is not None:
        lm = apply_lora(lm, options.lora, options.seed)
    if options.gradient_checkpointing:
        enable_gradient_checkpointing(lm)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)  # the head's own initialization
        model = CausalLMRegressor(lm, tokenizer, spec)
    if model.head is not None:
        set_head_bias(model.head, float(np.mean(scaler.transform(y_train))))
    return placement.place(model)  # the head, or a random init, was made on the host


def lm_options_from(params: dict) -> LMOptions:
    """The LM options out of the estimator's parameters (None means the default)."""
    from decoreg.causal_lm.objectives import OBJECTIVES

    head = params.get("head")
    objective = params.get("objective")
    if objective in OBJECTIVES:
        head = resolve_head(objective, OBJECTIVES[objective], head)
    return LMOptions(
        model=params["model"] or DEFAULT_MODEL,
        template=params["template"] or DEFAULT_TEMPLATE,
        decimals=params["decimals"],
        grid=None if params["grid"] is None else parse_grid(params["grid"]),
        scale_targets=params["scale_targets"],
        max_prompt_tokens=params["max_prompt_tokens"],
        trust_remote_code=params["trust_remote_code"],
        head=head,
        special_token=params.get("special_token"),
        init=params.get("init", "pretrained"),
        seed=params.get("random_state", 0),
        lora=lora_options_from(params),
        gradient_checkpointing=bool(params.get("gradient_checkpointing", False)),
    )


def lora_options_from(params: dict) -> LoraOptions | None:
    """LoRA options from the estimator's `lora_rank`, `lora_alpha`, `lora_targets` (rank 0: off)."""
    rank = params.get("lora_rank") or 0
    if rank < 0:
        raise ConfigError(f"lora_rank must be >= 0 (0 trains every weight), got {rank}")
    if rank == 0:
        return None
    targets = params.get("lora_targets")
    return LoraOptions(
        rank=rank,
        alpha=params.get("lora_alpha"),
        targets=(ALL_LINEAR,) if targets is None else tuple(targets),
    )


def select_texts_for(params: dict, frame, source: str) -> list[str]:
    """The texts a causal LM reads: a text column, or feature columns serialized as text."""
    from decoreg.data import select_texts

    text_column = params.get("text_column")
    feature_columns = params.get("feature_columns")
    if text_column is None and not feature_columns:
        text_column = _default_text_column(frame, source)
    return select_texts(frame, source, text_column=text_column, feature_columns=feature_columns)


def build_from_params(
    params: dict, inputs, y: np.ndarray, placement: Placement = CPU_FP32
) -> CausalLMRegressor:
    return build_causal_lm(lm_options_from(params), y, placement)


def _default_text_column(frame, source: str) -> str:
    if "text" in frame.columns:
        return "text"
    if len(frame.columns) == 1:
        return str(frame.columns[0])
    raise ConfigError(
        f"{source}: say which column holds the text (text_column) or which columns to "
        f"serialize (feature_columns); the columns are {[str(c) for c in frame.columns]}"
    )
