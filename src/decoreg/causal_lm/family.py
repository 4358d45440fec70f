"""The causal-LM family's registry record: its objectives, decoders, builder and loader."""

from __future__ import annotations

from decoreg.causal_lm import build as causal_lm
from decoreg.causal_lm.decoding import DECODERS
from decoreg.causal_lm.decoding.head import HeadDecoder
from decoreg.causal_lm.model import CausalLMRegressor
from decoreg.causal_lm.objectives import OBJECTIVES
from decoreg.family_record import Family

FAMILY = Family(
    name="causal-lm",
    objectives=OBJECTIVES,
    decoders={**DECODERS, "head": HeadDecoder},  # "head" reads a predictive head
    load=CausalLMRegressor.load,
    default_objective="raft",
    default_decoder="grid-mean",
    build=causal_lm.build_from_params,
    select_inputs=causal_lm.select_texts_for,
    check_options=causal_lm.lm_options_from,
    owned_params=causal_lm.OWNED_PARAMS,
    objective_train_defaults=causal_lm.OBJECTIVE_TRAIN_DEFAULTS,
)
