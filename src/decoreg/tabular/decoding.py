"""Decoders for `TabularRegressor`: `(model, batch, *, generator) -> core.Predictions`.

Token decoders write numbers under the tokenizer's grammar (logits of forbidden tokens are
masked), so every sequence they produce parses; a special-value token (NaN, inf) reads as a
non-finite sample, which aggregation skips. Values are in the model's [0, 1] target space.

    greedy: the most likely token at each step.
    sample-*: `num_samples` numbers per row at `temperature`, aggregated by mean, median,
        clipped mean / median (samples clipped to the model's [-margin, 1 + margin] target range
        first) or a quantile (`sample-quantile`, the `quantile` option; what
        `DecodingRegressor.predict_quantiles` uses), all by `decoreg.aggregation`.
    head-*: read the pointwise or Riemann head (for models trained with those objectives).

Sampling noise is a pure function of the seed and each row's own features (`row_keys`,
`decoreg.rl.rollout.input_uniforms`), so a row's samples do not depend on its position or on
the other rows of the batch: predicting a permuted or partial frame gives the same numbers
for the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from decoreg.aggregation import AGGREGATES, aggregate
from decoreg.core import Batch, Decoder, Predictions
from decoreg.devices import HOST
from decoreg.errors import ConfigError
from decoreg.rl.rollout import choose_actions, input_uniforms
from decoreg.tabular.model import TabularRegressor
from decoreg.uncertainty.distribution import Predictive

HEAD_READOUTS = ("pointwise", "riemann-mean", "riemann-median")
DECODING_STEP = 0  # the `step` of decoding noise; RL rollouts count their steps from 1


def _slice_inputs(inputs: dict[str, Tensor], start: int, stop: int) -> dict[str, Tensor]:
    return {name: tensor[start:stop] for name, tensor in inputs.items()}


def row_keys(inputs: dict[str, Tensor]) -> list[bytes]:
    """One byte string per row of the encoded features: what seeds the row's noise."""
    arrays = [inputs[name].detach().cpu().numpy() for name in sorted(inputs)]
    rows = len(arrays[0]) if arrays else 0
    return [b"".join(array[row].tobytes() for array in arrays) for row in range(rows)]


@torch.no_grad()
def sample_token_ids(
    model: TabularRegressor,
    batch: Batch,
    *,
    num_samples: int,
    temperature: float,
    seed: int = 0,
    max_sequences: int = 16384,
) -> Tensor:
    """Grammar-constrained numbers for every row, with a key/value cache.

    Args:
        model: The model to decode with.
        batch: Rows to condition on.
        num_samples: Numbers per row (S).
        temperature: Softmax temperature; 0 takes the argmax (then S copies are identical).
        seed: Seeds the sampling noise, with each row's features (unused at temperature 0).
        max_sequences: Decode at most this many sequences at once (rows are chunked).

    Returns:
        [B, S, L] int64 token ids.
    """
    tokenizer, rows, length = model.tokenizer, len(batch), model.tokenizer.num_tokens
    chunk_rows = max(1, max_sequences // num_samples)
    chunks = []
    for start in range(0, rows, chunk_rows):
        inputs = _slice_inputs(batch.inputs, start, min(rows, start + chunk_rows))
        state = model.start_decoding(inputs, num_samples)
        n = state.memory_kv[0][0].shape[0]
        ids = torch.zeros(n, 0, dtype=torch.long, device=HOST)  # grammar masks are CPU work
        noise = None  # [N, L], row b * S + s for sample s of row b
        if temperature > 0:
            keys = row_keys(inputs)
            noise = input_uniforms(
                keys, seed=seed, step=DECODING_STEP, num_samples=num_samples, num_steps=length
            ).reshape(-1, length)
        last = None
        for position in range(length):
            logits = model.decode_step(state, last).float().cpu()  # [N, V]
            logits = logits.masked_fill(~tokenizer.next_token_mask(ids), float("-inf"))
            if noise is None:
                step = logits.argmax(-1)
            else:
                sampled = torch.zeros(len(logits), dtype=torch.bool, device=HOST)
                log_probs = logits.log_softmax(-1)
                step = choose_actions(log_probs, sampled, temperature, noise[:, position])
            ids = torch.cat([ids, step.unsqueeze(1)], dim=1)
            last = step.to(model.device)
        chunks.append(ids.view(-1, num_samples, length))
    if not chunks:
        return torch.zeros(0, num_samples, length, dtype=torch.long, device=HOST)
    return torch.cat(chunks)


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
        ids = sample_token_ids(model, batch, num_samples=1, temperature=0.0)
        values = _decode(model, ids)[:, 0]
        finite = np.isfinite(values)
        return Predictions(np.where(finite, values, np.nan), _texts(model, ids[:, 0]), finite)


@dataclass(frozen=True)
class SamplingDecoder(Decoder):
    """`num_samples` constrained samples per row at `temperature`, aggregated per row.

    Each row's noise comes from `generator.initial_seed()` and the row's features, so its
    prediction does not depend on the batch it is decoded in.

    Attributes:
        num_samples: Samples per row.
        temperature: Softmax temperature (> 0).
        aggregate: "mean", "median", "clipped-mean", "clipped-median" or "quantile"
            (`decoreg.aggregation`).
        quantile: The quantile for aggregate "quantile", in [0, 1].
        max_sequences: Sequences decoded at once; bounds memory.
    """

    num_samples: int = 128
    temperature: float = 1.0
    aggregate: str = "mean"
    quantile: float = 0.5
    max_sequences: int = 16384
    gives_distribution = True

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
        """[B, S] sample values (non-finite = unusable) -> [B] aggregates, NaN if none usable.

        The clipped aggregates clip into [-margin, 1 + margin] ([0, 1] without a margin).
        """
        margin = 0.0 if clip_margin is None else clip_margin
        return aggregate(
            samples, self.aggregate, quantile=self.quantile, bounds=(-margin, 1.0 + margin)
        )

    def __call__(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> Predictions:
        return self.decode_with_distribution(model, batch, generator=generator)[0]

    def distribution(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> Predictive:
        """The samples `__call__` aggregates (special-value tokens unusable), unclipped: the
        model's inverse target transform clips them on the way to the user's scale."""
        return Predictive.from_samples(_decode(model, self._token_ids(model, batch, generator)))

    def decode_with_distribution(
        self, model: TabularRegressor, batch: Batch, *, generator: torch.Generator
    ) -> tuple[Predictions, Predictive]:
        """The samples, drawn once, and their aggregates: `__call__` is this one's numbers
        (the distribution's values are NaN where a sample is non-finite, which `aggregate`
        skips alike)."""
        ids = self._token_ids(model, batch, generator)
        pred = Predictive.from_samples(_decode(model, ids))
        values = self.aggregate_samples(pred.values, model.target.clip_margin)
        return Predictions(values, _texts(model, ids[:, 0]), ~np.isnan(values)), pred

    def _token_ids(
        self, model: TabularRegressor, batch: Batch, generator: torch.Generator
    ) -> Tensor:  # [B, S, L]
        return sample_token_ids(
            model,
            batch,
            num_samples=self.num_samples,
            temperature=self.temperature,
            seed=generator.initial_seed(),
            max_sequences=self.max_sequences,
        )


def riemann_readout(probs: Tensor, statistic: str) -> Tensor:
    """[B, K] bin probabilities over K equal bins of [0, 1] -> [B] mean or median.

    The histogram density is flat within a bin, so the mean is sum_k p_k * center_k and the
    median interpolates linearly inside the bin where the CDF crosses 1/2.
    """
    bins = probs.shape[-1]
    width = 1.0 / bins
    if statistic == "mean":
        centers = (torch.arange(bins, dtype=probs.dtype, device=probs.device) + 0.5) * width
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
