"""The tabular encoder-decoder family: feature rows in, number tokens out.

Build a model with `build_tabular_model(frame, y, TabularModelConfig(...))`, train it with any
objective of `TABULAR_OBJECTIVES` and predict with any decoder of `TABULAR_DECODERS`.
"""

from decoreg.tabular.decoding import (
    TABULAR_DECODERS,
    GreedyDecoder,
    HeadDecoder,
    SamplingDecoder,
)
from decoreg.tabular.features import FeatureEncoder
from decoreg.tabular.model import (
    TabularModelConfig,
    TabularRegressor,
    build_tabular_model,
    load_tabular_model,
)
from decoreg.tabular.objectives import (
    TABULAR_OBJECTIVES,
    CrossEntropy,
    DistanceSoftLabels,
    NumberTokenLoss,
    PointwiseMSE,
    RiemannHead,
)
from decoreg.tabular.target import TargetTransform

__all__ = [
    "TABULAR_DECODERS",
    "TABULAR_OBJECTIVES",
    "CrossEntropy",
    "DistanceSoftLabels",
    "FeatureEncoder",
    "GreedyDecoder",
    "HeadDecoder",
    "NumberTokenLoss",
    "PointwiseMSE",
    "RiemannHead",
    "SamplingDecoder",
    "TabularModelConfig",
    "TabularRegressor",
    "TargetTransform",
    "build_tabular_model",
    "load_tabular_model",
]
