"""RAIL by scoring the grid: one forward pass gives p(str(g) | x) for every grid value."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from decoreg.causal_lm.grid import expected_value, grid_distribution, grid_quantile
from decoreg.config import DecodeConfig
from decoreg.core import Batch, Decoder, Predictions
from decoreg.uncertainty.distribution import Predictive


@dataclass(frozen=True)
class GridDecoder(Decoder):
    """The mean (or a quantile) of the grid distribution at the answer position.

    Attributes:
        config: `normalize_grid` and `quantile` are read.
        statistic: "mean", "median" or "quantile".
    """

    config: DecodeConfig = field(default_factory=DecodeConfig)
    statistic: str = "mean"
    uses_grid = True
    gives_distribution = True

    @torch.no_grad()
    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        return self._predictions(model, model.grid_logprobs(batch.inputs))

    @torch.no_grad()
    def distribution(self, model, batch: Batch, *, generator: torch.Generator) -> Predictive:
        """The grid values and their probabilities, renormalized over the grid (whatever
        `normalize_grid` says: that option concerns only the unnormalized grid mean)."""
        return self._distribution(model, model.grid_logprobs(batch.inputs))

    @torch.no_grad()
    def decode_with_distribution(
        self, model, batch: Batch, *, generator: torch.Generator
    ) -> tuple[Predictions, Predictive]:
        """One forward pass scores the grid; both outputs are computed from its log-probs.

        The numbers are not read off the returned distribution: the grid mean is taken in the
        model's dtype from the log-probs (unnormalized, off-grid mass counting as 0, unless
        `normalize_grid`), which the float64 renormalized distribution cannot reproduce bit
        for bit; reading both from the same log-probs can.
        """
        grid_logprobs = model.grid_logprobs(batch.inputs)  # [B, G]
        return self._predictions(model, grid_logprobs), self._distribution(model, grid_logprobs)

    def _predictions(self, model, grid_logprobs: torch.Tensor) -> Predictions:  # [B, G]
        grid_values = torch.tensor(model.spec.grid, dtype=torch.float32, device=model.device)
        if self.statistic == "mean":
            values = expected_value(grid_logprobs, grid_values, self.config.normalize_grid)
        else:
            q = 0.5 if self.statistic == "median" else self.config.quantile
            values = grid_quantile(grid_logprobs, grid_values, q)
        mass = grid_logprobs.exp().sum(-1)
        mode = grid_values[grid_logprobs.argmax(-1)]
        texts = [
            f"{model.number_format.format(float(m))} (grid mass {float(p):.3f})"
            for m, p in zip(mode, mass, strict=True)
        ]
        return Predictions(
            values=values.double().cpu().numpy(),
            texts=texts,
            parsed=np.ones(len(texts), dtype=bool),
        )

    @staticmethod
    def _distribution(model, grid_logprobs: torch.Tensor) -> Predictive:  # [B, G]
        grid_values = torch.tensor(model.spec.grid, dtype=torch.float32, device=model.device)
        values, probs = grid_distribution(grid_logprobs, grid_values)
        # already sorted and normalized: the very probabilities `grid_quantile` reads
        return Predictive("grid", np.broadcast_to(values, probs.shape).copy(), probs)
