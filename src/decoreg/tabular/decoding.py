"""Decoders for `TabularRegressor`: `(model, batch, *, generator) -> core.Predictions`.

Token decoders write numbers under the tokenizer's grammar (logits of forbidden tokens are
masked), so every sequence they produce parses; a special-value token (NaN, inf) reads as a
non-finite sample, which aggregation skips. Values are in the model's [0, 1] target space.

    greedy: the most likely token at each step.
    sample-*: `num_samples` numbers per row at `temperature`, aggregated by mean, median,
        clipped mean / median (samples clipped to the model's [-margin, 1 + margin] target range
        first) or a quantile (`sample-quantile`, the `quantile` option; what
        `DecodingRegressor.predict_quantiles` uses).
    head-*: read the pointwise or Riemann head (for models trained with those objectives).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from decoreg.core import Batch, Decoder, Predictions
from decoreg.errors import ConfigError
from decoreg.tabular.model import TabularRegressor

AGGREGATES = ("mean", "median", "clipped-mean", "clipped-median", "quantile")
HEAD_READOUTS = ("pointwise", "riemann-mean", "riemann-median")


def _slice_inputs(inputs: dict[str, Tensor], start: int, stop: int) -> dict[str, Tensor]:
    return {name: tensor[start:stop] for name, tensor in inputs.items()}


@torch.no_grad()
def sample_token_ids(
    model: TabularRegressor,
    batch: Batch,
    *,
    num_samples: int,
    temperature: float,
    generator: torch.Generator | None,
    max_sequences: int = 16384,
) -> Tensor:
    """Grammar-constrained numbers for every row, with a key/value cache.

    Args:
        model: The model to decode with.
        batch: Rows to condition on.
        num_samples: Numbers per row (S).
        temperature: Softmax temperature; 0 takes the argmax (then S copies are identical).
        generator: Random source for sampling (unused at temperature 0).
        max_sequences: Decode at most this many sequences at once (rows are chunked).

    Returns:
        [B, S, L] int64 token ids.
    """
    tokenizer, rows = model.tokenizer, len(batch)
    chunk_rows = max(1, max_sequences // num_samples)
    chunks = []
    for start in range(0, rows, chunk_rows):
        inputs = _slice_inputs(batch.inputs, start, min(rows, start + chunk_rows))
        state = model.start_decoding(inputs, num_samples)
        ids = torch.zeros(state.memory_kv[0][0].shape[0], 0, dtype=torch.long)
        last = None
        for _ in range(tokenizer.num_tokens):
            logits = model.decode_step(state, last).float().cpu()  # [N, V]
            logits = logits.masked_fill(~tokenizer.next_token_mask(ids), float("-inf"))
            if temperature == 0:
                step = logits.argmax(-1)
            else:
                probs = (logits / temperature).softmax(-1)
                step = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            ids = torch.cat([ids, step.unsqueeze(1)], dim=1)
            last = step.to(model.device)
        chunks.append(ids.view(-1, num_samples, tokenizer.num_tokens))
    return torch.cat(chunks) if chunks else torch.zeros(0, num_samples, tokenizer.num_tokens)


def _texts(model: TabularRegressor, ids: Tensor) -> list[str]:  # ids: [B, L]
    return ["".join(model.tokenizer.ids_to_tokens(row)) for row in ids.tolist()]


def _decode(model: TabularRegressor, ids: Tensor) -> np.ndarray:  # [B, S, L] -> [B, S]
    rows, samples, length = ids.shape
    return model.tokenizer.decode(ids.reshape(-1, length).numpy()).reshape(rows, samples)


@dataclass(frozen=True)
class GreedyDecoder(Decoder):
    """The most likely token at each step, under the grammar."""

    def __call__(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> Predictions:
        ids = sample_token_ids(model, batch, num_samples=1, temperature=0.0, generator=generator)
        values = _decode(model, ids)[:, 0]
        finite = np.isfinite(values)
        return Predictions(np.where(finite, values, np.nan), _texts(model, ids[:, 0]), finite)


@dataclass(frozen=True)
class SamplingDecoder(Decoder):
    """`num_samples` constrained samples per row at `temperature`, aggregated per row.

    Attributes:
        num_samples: Samples per row.
        temperature: Softmax temperature (> 0).
        aggregate: "mean", "median", "clipped-mean", "clipped-median" or "quantile".
        quantile: The quantile for aggregate "quantile", in [0, 1].
        max_sequences: Sequences decoded at once; bounds memory.
    """

    num_samples: int = 128
    temperature: float = 1.0
    aggregate: str = "mean"
    quantile: float = 0.5
    max_sequences: int = 16384

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if self.num_samples < 1 or self.max_sequences < 1:
            raise ConfigError("num_samples and max_sequences must be >= 1")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0 (use greedy for 0), not {self.temperature}")
        if not 0.0 <= self.quantile <= 1.0:
            raise ConfigError(f"quantile must be in [0, 1], got {self.quantile}")

    def aggregate_samples(self, samples: np.ndarray, clip_margin: float | None) -> np.ndarray:
        """[B, S] sample values (non-finite = unusable) -> [B] aggregates, NaN if none usable."""
        samples = np.where(np.isfinite(samples), samples, np.nan)
        if self.aggregate.startswith("clipped"):
            margin = 0.0 if clip_margin is None else clip_margin
            samples = np.clip(samples, -margin, 1.0 + margin)
        out = np.full(len(samples), np.nan)
        usable = ~np.isnan(samples).all(axis=1)
        if usable.any():
            kept = samples[usable]
            if self.aggregate.endswith("mean"):
                out[usable] = np.nanmean(kept, axis=1)
            elif self.aggregate.endswith("median"):
                out[usable] = np.nanmedian(kept, axis=1)
            else:
                out[usable] = np.nanquantile(kept, self.quantile, axis=1)
        return out

    def __call__(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> Predictions:
        ids = sample_token_ids(
            model,
            batch,
            num_samples=self.num_samples,
            temperature=self.temperature,
            generator=generator,
            max_sequences=self.max_sequences,
        )
        values = self.aggregate_samples(_decode(model, ids), model.target.clip_margin)
        return Predictions(values, _texts(model, ids[:, 0]), ~np.isnan(values))


def riemann_readout(probs: Tensor, statistic: str) -> Tensor:
    """[B, K] bin probabilities over K equal bins of [0, 1] -> [B] mean or median.

    The histogram density is flat within a bin, so the mean is sum_k p_k * center_k and the
    median interpolates linearly inside the bin where the CDF crosses 1/2.
    """
    bins = probs.shape[-1]
    width = 1.0 / bins
    if statistic == "mean":
        centers = (torch.arange(bins, dtype=probs.dtype) + 0.5) * width
        return probs @ centers
    cdf = probs.cumsum(-1)
    k = torch.searchsorted(cdf, torch.full_like(cdf[:, :1], 0.5)).clamp(max=bins - 1)  # [B, 1]
    before = torch.where(
        k > 0, cdf.gather(1, (k - 1).clamp(min=0)), torch.zeros_like(k, dtype=cdf.dtype)
    )
    inside = probs.gather(1, k).clamp(min=1e-12)
    return ((k + (0.5 - before) / inside) * width).squeeze(1)


@dataclass(frozen=True)
class HeadDecoder(Decoder):
    """Read a non-decoding head: "pointwise", "riemann-mean" or "riemann-median"."""

    readout: str = "pointwise"

    def __post_init__(self) -> None:
        if self.readout not in HEAD_READOUTS:
            raise ConfigError(f"readout must be one of {HEAD_READOUTS}, got {self.readout!r}")

    @torch.no_grad()
    def __call__(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> Predictions:
        if self.readout == "pointwise":
            values = model.pointwise(batch).double().cpu()
        else:
            probs = model.riemann_logits(batch).double().softmax(-1).cpu()
            values = riemann_readout(probs, self.readout.removeprefix("riemann-"))
        values_np = values.numpy()
        texts = [f"{v:.6g}" for v in values_np]
        return Predictions(values_np, texts, np.isfinite(values_np))


TABULAR_DECODERS = {
    "greedy": GreedyDecoder(),
    "sample-mean": SamplingDecoder(aggregate="mean"),
    "sample-median": SamplingDecoder(aggregate="median"),
    "sample-clipped-mean": SamplingDecoder(aggregate="clipped-mean"),
    "sample-clipped-median": SamplingDecoder(aggregate="clipped-median"),
    "sample-quantile": SamplingDecoder(aggregate="quantile"),
    "head-pointwise": HeadDecoder("pointwise"),
    "head-riemann": HeadDecoder("riemann-mean"),
    "head-riemann-median": HeadDecoder("riemann-median"),
}
"""Decoders by name with default options; `dataclasses.replace` one to change options."""
