"""The methods a benchmark suite can name: decoding methods and classical baselines.

`METHODS` is a plain dict from a method's name to its `Method`. A decoding method is a set of
`DecodingRegressor` parameters (family, objective, decoder, ...); a baseline builds its own
scikit-learn estimator. A decoding method is *available* when its family, objective and decoder
are registered (`decoreg.families.FAMILIES`): methods whose pieces have not landed yet stay in
the registry but a suite cannot run them, and the error says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from decoreg.bench.baselines import BASELINES
from decoreg.errors import ConfigError

TEXT, TABULAR = "text", "tabular"


@dataclass(frozen=True)
class Method:
    """One benchmarked method.

    Attributes:
        name: Registry key, used in suite files and result rows.
        label: Short name shown in tables, as the papers call it (e.g. "CE + RAIL").
        description: One sentence on what it does.
        data_kinds: Dataset kinds it applies to ("text", "tabular").
        params: `DecodingRegressor` parameters fixed by the method (decoding methods only).
        baseline: Factory `(DatasetInfo, seed) -> estimator` (baselines only).
        warm_start: Another method trained first (same dataset, model and seed) whose saved
            model this one starts from (`init_from`), e.g. cross-entropy before RL.
    """

    name: str
    label: str
    description: str
    data_kinds: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    baseline: Callable[..., Any] | None = None
    warm_start: str | None = None

    def __post_init__(self) -> None:
        if (self.baseline is None) == (not self.params):
            raise ConfigError(f"method {self.name!r}: give either params or a baseline factory")
        if not self.data_kinds or set(self.data_kinds) - {TEXT, TABULAR}:
            raise ConfigError(f"method {self.name!r}: bad data_kinds {self.data_kinds}")

    @property
    def is_baseline(self) -> bool:
        return self.baseline is not None

    @property
    def family(self) -> str | None:
        """The model family of a decoding method (None for a baseline)."""
        return None if self.is_baseline else self.params.get("family", "causal-lm")

    @property
    def uses_pretrained_model(self) -> bool:
        """True when the suite's `models` axis applies (causal-LM methods)."""
        return self.family == "causal-lm"


def _lm(name: str, label: str, description: str, **params: Any) -> Method:
    return Method(name, label, description, (TEXT,), {"family": "causal-lm", **params})


def _tab(name: str, label: str, objective: str, decoder: str, description: str) -> Method:
    params = {"family": "tabular", "objective": objective, "decoder": decoder}
    return Method(name, label, description, (TABULAR,), params)


# Labels of the RAFT paper's methods (`decoreg.causal_lm.methods.PAPER_METHODS`) in the tables.
LM_LABELS = {
    "zero-shot-greedy": "Zero-shot greedy",
    "zero-shot-rail-sampling": "Zero-shot RAIL (sampling)",
    "zero-shot-rail-grid": "Zero-shot RAIL",
    "ce-greedy": "CE + greedy",
    "ce-rail-sampling": "CE + RAIL (sampling)",
    "ce-rail": "CE + RAIL",
    "head-token": "Predictive head (token)",
    "head-mean": "Predictive head (mean-pool)",
    "head-mlp": "Predictive head (MLP)",
    "raft": "RAFT",
    "learnable-raft-grid": "Learnable RAFT (grid)",
    "learnable-raft-vocab": "Learnable RAFT (vocab)",
    "mbr": "MBR",
    "raft-random-init": "RAFT (random init)",
}


def _paper_methods() -> list[Method]:
    """The causal-LM methods of the RAFT paper, exactly as `decoreg train --method` runs them."""
    from decoreg.causal_lm.methods import PAPER_METHODS

    return [
        _lm(name, LM_LABELS.get(name, name), method.description[:1].upper()
            + method.description[1:] + ".", **method.params)
        for name, method in PAPER_METHODS.items()
    ]  # fmt: skip


_RL = (
    ("remax", "ReMax", "ReMax (advantage: reward minus the greedy output's reward)"),
    ("grpo", "GRPO", "GRPO (advantage: group-normalized reward)"),
    ("genre2", "expert-guided ReMax", "GenRe2's expert-guided ReMax (ReMax plus cross-entropy "
     "toward the target's tokens on the rollouts' prefixes)"),
)  # fmt: skip

_ENTRIES = [
    *_paper_methods(),
    _tab("tab-ce", "CE", "ce", "sample-mean",
         "Tabular encoder-decoder, token cross-entropy; mean of sampled numbers."),
    _tab("tab-ntl", "NTL", "ntl-was", "sample-mean",
         "Tabular encoder-decoder, CE plus the Wasserstein number-token loss."),
    _tab("tab-dist", "DIST", "dist", "sample-mean",
         "Tabular encoder-decoder, distance-aware soft labels per digit."),
    _tab("tab-pointwise", "Pointwise head", "pointwise-mse", "head-pointwise",
         "Tabular encoder with a scalar head trained by MSE."),
    _tab("tab-riemann", "Riemann head", "riemann", "head-riemann",
         "Tabular encoder with a histogram (Riemann) head over target bins."),
    *(
        Method(f"ce-{rl}", f"CE → {label}", f"{description} after cross-entropy fine-tuning "
               "(starts from the ce-greedy model); greedy decoding.", (TEXT,),
               {"family": "causal-lm", "objective": rl, "decoder": "greedy"},
               warm_start="ce-greedy")
        for rl, label, description in _RL
    ),
    *(
        Method(f"tab-{rl}", f"CE → {label}", f"Tabular encoder-decoder: {description} after "
               "cross-entropy training (starts from the tab-ce model); mean of samples.",
               (TABULAR,), {"family": "tabular", "objective": rl, "decoder": "sample-mean"},
               warm_start="tab-ce")
        for rl, label, description in _RL
    ),
    Method("ce-crps", "CE → ReMax (CRPS reward)", "ReMax after cross-entropy fine-tuning "
           "with the distributional reward (each sample's leave-one-out credit to the group's "
           "CRPS; starts from the ce-greedy model); greedy decoding.", (TEXT,),
           {"family": "causal-lm", "objective": "remax", "decoder": "greedy",
            "objective_options": {"reward": "crps"}}, warm_start="ce-greedy"),
    Method("tab-crps", "CE → ReMax (CRPS reward)", "Tabular encoder-decoder: ReMax after "
           "cross-entropy training with the distributional reward (each sample's "
           "leave-one-out credit to the group's CRPS); mean of samples.", (TABULAR,),
           {"family": "tabular", "objective": "remax", "decoder": "sample-mean",
            "objective_options": {"reward": "crps"}}, warm_start="tab-ce"),
    *(
        Method(name, label, description, kinds, baseline=factory)
        for name, (label, description, kinds, factory) in BASELINES.items()
    ),
]  # fmt: skip
_OTHER_DECODERS = {"median": ("sample-median", "median of samples"), "greedy": ("greedy",
                   "greedy decoding")}  # fmt: skip


def _decoded_otherwise(method: Method, suffix: str) -> Method:
    """`method` with another decoder: the same fit (a suite reuses it), other predictions."""
    decoder, words = _OTHER_DECODERS[suffix]
    description = method.description.rsplit(";", 1)[0] + f"; {words}."
    return Method(f"{method.name}-{suffix}", f"{method.label} ({suffix})", description,
                  method.data_kinds, {**method.params, "decoder": decoder},
                  warm_start=method.warm_start)  # fmt: skip


_SAMPLED_TABULAR = ("tab-ce", "tab-ntl", "tab-remax", "tab-grpo", "tab-genre2", "tab-crps")
_ENTRIES += [
    _decoded_otherwise(method, suffix)
    for method in _ENTRIES
    if method.name in _SAMPLED_TABULAR
    for suffix in _OTHER_DECODERS
]

METHODS: dict[str, Method] = {method.name: method for method in _ENTRIES}


def missing_pieces(method: Method) -> str | None:
    """Why `method` cannot run with what is registered now, or None when it can."""
    if method.is_baseline:
        return None
    from decoreg.families import FAMILIES  # late: families import models and torch

    family = FAMILIES.get(method.family)
    if family is None:
        return f"family {method.family!r} is not registered (registered: {sorted(FAMILIES)})"
    for kind, registry in (("objective", family.objectives), ("decoder", family.decoders)):
        name = method.params.get(kind)
        if name is not None and name not in registry:
            return f"{kind} {name!r} is not registered for the {method.family} family"
    return None


def available_methods() -> list[str]:
    """Names of the methods that can run now, sorted."""
    return sorted(name for name, method in METHODS.items() if missing_pieces(method) is None)


def get_method(name: str) -> Method:
    """Return a runnable method.

    Raises:
        ConfigError: If `name` is unknown (listing the available methods) or its pieces are
            not registered yet (saying which).
    """
    method = METHODS.get(name)
    if method is None:
        raise ConfigError(
            f"method {name!r} is unknown; valid methods: {', '.join(available_methods())}"
        )
    missing = missing_pieces(method)
    if missing is not None:
        raise ConfigError(
            f"method {name!r} cannot run yet: {missing}; available methods: "
            f"{', '.join(available_methods())}"
        )
    return method
