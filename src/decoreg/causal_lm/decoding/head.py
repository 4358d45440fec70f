"""The `head` decoder: reads a predictive head's number; nothing is decoded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from decoreg.config import DecodeConfig
from decoreg.core import Batch, Decoder, Predictions


@dataclass(frozen=True)
class HeadDecoder(Decoder):
    """The model's predictive head output for each row (always parsed)."""

    config: DecodeConfig = field(default_factory=DecodeConfig)

    @torch.no_grad()
    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        values = model.predict_head(batch.inputs).double().cpu().numpy()
        kind = model.spec.head.kind
        texts = [f"{v:.6g} ({kind} head)" for v in values]
        return Predictions(values=values, texts=texts, parsed=np.ones(len(values), dtype=bool))
