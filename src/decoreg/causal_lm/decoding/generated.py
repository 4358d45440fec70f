"""Decoders that read numbers from generated text: greedy, and RAIL by sampling.

Sampling noise is a pure function of the seed and each prompt's tokens
(`decoreg.rl.rollout.input_uniforms`), so a prompt's samples do not depend on its position or
on the other prompts of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from decoreg.aggregation import aggregate
from decoreg.causal_lm.decoding.sampling import sample_sequences
from decoreg.causal_lm.numbers import parse_many
from decoreg.config import DecodeConfig
from decoreg.core import Batch, Decoder, Predictions
from decoreg.rl.rollout import input_uniforms
from decoreg.uncertainty.distribution import Predictive

DECODING_STEP = 0  # the `step` of decoding noise; RL rollouts count their steps from 1


@dataclass(frozen=True)
class Greedy(Decoder):
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
class SampleAggregate(Decoder):
    """RAIL by sampling: aggregate the numbers in `num_samples` sampled continuations.

    The statistic ("mean", "median" or "quantile") is computed by `decoreg.aggregation` over
    the samples that hold a number; a row counts as unparseable only when none does, and the
    texts report how many samples were readable.
    """

    config: DecodeConfig = field(default_factory=DecodeConfig)
    statistic: str = "mean"

    gives_distribution = True

    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        return self.decode_with_distribution(model, batch, generator=generator)[0]

    def distribution(self, model, batch: Batch, *, generator: torch.Generator) -> Predictive:
        """The samples themselves (unparseable ones unusable), as `__call__` draws them."""
        return Predictive.from_samples(self._samples(model, batch, generator)[0])

    def decode_with_distribution(
        self, model, batch: Batch, *, generator: torch.Generator
    ) -> tuple[Predictions, Predictive]:
        """The samples, drawn once, and their aggregates: `__call__` is this one's numbers.

        The numbers aggregate the distribution's own values (`from_samples` only turns
        non-finite samples into NaN, which `aggregate` skips alike).
        """
        numbers, texts = self._samples(model, batch, generator)
        pred = Predictive.from_samples(numbers)
        values = aggregate(pred.values, self.statistic, quantile=self.config.quantile)
        return Predictions(values=values, texts=texts, parsed=~np.isnan(values)), pred

    def _samples(
        self, model, batch: Batch, generator: torch.Generator
    ) -> tuple[np.ndarray, list[str]]:  # [B, S] numbers (NaN = unparseable), B texts
        max_new_tokens = self.config.max_new_tokens or model.max_number_tokens
        samples = sample_sequences(
            model,
            batch.inputs,
            num_samples=self.config.num_samples,
            temperature=self.config.temperature,
            generator=generator,
            max_new_tokens=max_new_tokens,
            uniforms=prompt_uniforms(
                batch.inputs, generator.initial_seed(), self.config.num_samples, max_new_tokens
            ),
        ).grouped_texts()
        numbers = np.full((len(samples), self.config.num_samples), np.nan)  # [B, S]
        texts = []
        for row, row_samples in enumerate(samples):
            values, ok = parse_many(model.number_format, row_samples)
            numbers[row] = np.where(ok, values, np.nan)
            texts.append(f"{row_samples[0]!r} ({int(ok.sum())}/{len(row_samples)} parsed)")
        return numbers, texts


def prompt_uniforms(
    prompts: list[list[int]], seed: int, num_samples: int, max_new_tokens: int
) -> Tensor:  # [B * S, max_new_tokens], row b * S + s for sample s of prompt b
    """Each prompt's sampling noise, seeded by `seed` and the prompt's token ids."""
    keys = [np.asarray(prompt, dtype=np.int64).tobytes() for prompt in prompts]
    uniforms = input_uniforms(
        keys, seed=seed, step=DECODING_STEP, num_samples=num_samples, num_steps=max_new_tokens
    )
    return uniforms.reshape(-1, max_new_tokens)
