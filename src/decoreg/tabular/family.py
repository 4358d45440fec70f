"""The tabular family's registry record: its objectives, decoders, builder and loader."""

from __future__ import annotations

from decoreg.family_record import Family
from decoreg.rl import RL_OBJECTIVES
from decoreg.tabular import TabularRegressor
from decoreg.tabular import build as tabular

FAMILY = Family(
    name="tabular",
    objectives={**tabular.OBJECTIVE_FACTORIES, **RL_OBJECTIVES},
    decoders=tabular.DECODER_FACTORIES,
    load=TabularRegressor.load,
    default_objective="ce",
    default_decoder="sample-mean",
    build=tabular.build_tabular,
    select_inputs=tabular.select_features,
    check_options=tabular.tabular_config,
    default_num_samples=128,
    default_threads=1,
    default_precision="fp32",
    train_defaults=tabular.TRAIN_DEFAULTS,
    owned_params=tabular.OWNED_PARAMS,
    input_kind="table",
)
