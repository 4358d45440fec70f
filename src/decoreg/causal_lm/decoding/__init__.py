"""Decoders for causal LMs: model + batch -> numbers.

`DECODERS` maps a name to a factory `DecodeConfig -> Decoder`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from decoreg.causal_lm.decoding.generated import Greedy, SampleAggregate
from decoreg.causal_lm.decoding.grid import GridDecoder
from decoreg.config import DecodeConfig
from decoreg.core import Decoder

DECODERS: dict[str, Callable[[DecodeConfig], Decoder]] = {
    "greedy": Greedy,
    "sample-mean": partial(SampleAggregate, statistic="mean"),
    "sample-median": partial(SampleAggregate, statistic="median"),
    "sample-quantile": partial(SampleAggregate, statistic="quantile"),
    "grid-mean": partial(GridDecoder, statistic="mean"),
    "grid-median": partial(GridDecoder, statistic="median"),
    "grid-quantile": partial(GridDecoder, statistic="quantile"),
}

__all__ = ["DECODERS", "Greedy", "GridDecoder", "SampleAggregate"]
