"""Training objectives for causal LMs: `(model, batch) -> (loss, detached metrics)`.

`OBJECTIVES` maps a name to a factory taking the objective's options; the estimator and the
CLI look names up here and list the keys when a name is unknown.
"""

from collections.abc import Callable

from decoreg.causal_lm.objectives.cross_entropy import CrossEntropy
from decoreg.causal_lm.objectives.head import HeadRegression, LearnableRaft
from decoreg.causal_lm.objectives.mbr import MinimumBayesRisk
from decoreg.causal_lm.objectives.raft import Raft
from decoreg.rl import RL_OBJECTIVES

OBJECTIVES: dict[str, Callable] = {
    "ce": CrossEntropy,
    "raft": Raft,
    "head": HeadRegression,
    "learnable-raft": LearnableRaft,
    "mbr": MinimumBayesRisk,
    **RL_OBJECTIVES,  # remax, grpo, rloo, genre2 (decoreg.rl)
}

__all__ = [
    "OBJECTIVES",
    "CrossEntropy",
    "HeadRegression",
    "LearnableRaft",
    "MinimumBayesRisk",
    "Raft",
]
