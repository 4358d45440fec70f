"""How heads fit objectives, and the RAFT paper's methods by name.

A head objective ("head", "learnable-raft") trains one of its `head_kinds` and reads its
numbers with the `head` decoder (the rule for decoders lives in
`decoreg.family_record.Family.resolve_decoder`, from each objective's `allowed_decoders`).
`PAPER_METHODS` names every row of the RAFT paper's Tables 2-4 as estimator parameters, so
`decoreg train --method ce-rail` and `DecodingRegressor(**PAPER_METHODS["ce-rail"].params)`
run the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from decoreg.causal_lm.heads import HEAD_KINDS
from decoreg.causal_lm.objectives.head import HeadRegression
from decoreg.errors import ConfigError

INIT_CHOICES = ("pretrained", "random")


def objective_head_kinds(objective) -> tuple[str, ...]:
    """The head kinds an objective (or its factory) trains; empty for objectives that decode."""
    kind = objective if isinstance(objective, type) else type(objective)
    return kind.head_kinds if issubclass(kind, HeadRegression) else ()


def resolve_head(objective_name: str, objective, head: str | None) -> str | None:
    """The head the model needs: the user's choice, checked, or the objective's default."""
    kinds = objective_head_kinds(objective)
    if not kinds:
        if head is not None:
            raise ConfigError(
                f"head={head!r} needs a head objective ('head' or 'learnable-raft'); objective "
                f"{objective_name!r} decodes numbers and trains no head"
            )
        return None
    if head is None:
        return kinds[0]
    if head not in HEAD_KINDS:
        raise ConfigError(f"unknown head {head!r}; choose from {list(HEAD_KINDS)}")
    if head not in kinds:
        raise ConfigError(
            f"head {head!r} cannot be trained by objective {objective_name!r}; choose from "
            f"{list(kinds)}"
        )
    return head


def check_init(init: str) -> None:
    if init not in INIT_CHOICES:
        raise ConfigError(f"init must be one of {list(INIT_CHOICES)}, got {init!r}")


@dataclass(frozen=True)
class PaperMethod:
    """A row of the RAFT paper's tables as estimator parameters.

    Attributes:
        name: The method's name (`--method`).
        description: What the paper calls it.
        params: `DecodingRegressor` parameters that define it; everything else stays free.
    """

    name: str
    description: str
    params: Mapping[str, object] = field(default_factory=dict)


# fmt: off
_PAPER_ROWS: tuple[tuple[str, str, dict[str, object]], ...] = (
    # name, the paper's description, the estimator parameters that define the row
    ("zero-shot-greedy", "zero-shot, greedy decoding", {"max_steps": 0, "decoder": "greedy"}),
    ("zero-shot-rail-sampling", "zero-shot, RAIL by sampling (mean of samples)",
     {"max_steps": 0, "decoder": "sample-mean"}),
    ("zero-shot-rail-grid", "zero-shot, RAIL over the grid",
     {"max_steps": 0, "decoder": "grid-mean"}),
    ("ce-greedy", "cross-entropy fine-tuning, greedy", {"objective": "ce", "decoder": "greedy"}),
    ("ce-rail-sampling", "cross-entropy fine-tuning, RAIL by sampling",
     {"objective": "ce", "decoder": "sample-mean"}),
    ("ce-rail", "cross-entropy fine-tuning, RAIL over the grid",
     {"objective": "ce", "decoder": "grid-mean"}),
    ("head-token", "predictive head: special-token logit", {"objective": "head", "head": "token"}),
    ("head-mean", "predictive head: mean-pooled embeddings",
     {"objective": "head", "head": "mean"}),
    ("head-mlp", "predictive head: MLP on final logits", {"objective": "head", "head": "mlp"}),
    ("raft", "RAFT (squared error of the grid mean)",
     {"objective": "raft", "decoder": "grid-mean"}),
    ("learnable-raft-grid", "learnable RAFT, weights over the grid's tokens",
     {"objective": "learnable-raft", "head": "learnable-grid"}),
    ("learnable-raft-vocab", "learnable RAFT, weights over the whole vocabulary",
     {"objective": "learnable-raft", "head": "learnable-vocab"}),
    ("mbr", "minimum-Bayes-risk loss (appendix C)", {"objective": "mbr", "decoder": "grid-mean"}),
    ("raft-random-init", "RAFT from a randomly initialized model (Figure 3)",
     {"objective": "raft", "decoder": "grid-mean", "init": "random"}),
)
# fmt: on

PAPER_METHODS: dict[str, PaperMethod] = {
    name: PaperMethod(name, description, params) for name, description, params in _PAPER_ROWS
}


def method_params(name: str, given: Mapping[str, object]) -> dict[str, object]:
    """The parameters of method `name`, merged with `given`; a conflict is an error.

    Args:
        name: A key of PAPER_METHODS.
        given: Parameters the user set explicitly (None values count as unset).
    """
    if name not in PAPER_METHODS:
        raise ConfigError(f"unknown method {name!r}; choose from {sorted(PAPER_METHODS)}")
    fixed = dict(PAPER_METHODS[name].params)
    for key, value in given.items():
        if value is not None and key in fixed and value != fixed[key]:
            raise ConfigError(
                f"method {name!r} sets {key}={fixed[key]!r}, but {key}={value!r} was also given"
            )
    return {**{k: v for k, v in given.items() if v is not None}, **fixed}
