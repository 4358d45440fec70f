"""Decoders that read numbers from generated text: greedy, and RAIL by sampling."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from decoreg.causal_lm.decoding.sampling import sample_sequences
from decoreg.causal_lm.numbers import parse_many
from decoreg.config import DecodeConfig
from decoreg.core import Batch, Predictions


@dataclass(frozen=True)
class Greedy:
    """The most likely token at each step; the first number in the text is the prediction."""

    config: DecodeConfig = field(default_factory=DecodeConfig)

    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        texts = sample_sequences(
            model,
            batch.inputs,
            num_samples=1,
            temperature=0.0,
            generator=generator,
            max_new_tokens=self.config.max_new_tokens or model.max_number_tokens,
        ).grouped_texts()
        flat = [samples[0] for samples in texts]
        values, parsed = parse_many(model.number_format, flat)
        return Predictions(values=values, texts=flat, parsed=parsed)


@dataclass(frozen=True)
class SampleAggregate:
    """RAIL by sampling: aggregate the numbers in `num_samples` sampled continuations.

    A row counts as unparseable only when none of its samples holds a number; the texts
    report how many samples were readable.
    """

    config: DecodeConfig = field(default_factory=DecodeConfig)
    statistic: str = "mean"

    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        samples = sample_sequences(
            model,
            batch.inputs,
            num_samples=self.config.num_samples,
            temperature=self.config.temperature,
            generator=generator,
            max_new_tokens=self.config.max_new_tokens or model.max_number_tokens,
        ).grouped_texts()
        values = np.full(len(samples), np.nan)
        texts = []
        for row, row_samples in enumerate(samples):
            numbers, ok = parse_many(model.number_format, row_samples)
            if ok.any():
                values[row] = _aggregate(numbers[ok], self.statistic, self.config.quantile)
            texts.append(f"{row_samples[0]!r} ({int(ok.sum())}/{len(row_samples)} parsed)")
        return Predictions(values=values, texts=texts, parsed=~np.isnan(values))


def _aggregate(numbers: np.ndarray, statistic: str, quantile: float) -> float:
    if statistic == "mean":
        return float(numbers.mean())
    if statistic == "median":
        return float(np.median(numbers))
    return float(np.quantile(numbers, quantile, method="inverted_cdf"))
