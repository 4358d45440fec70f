"""`Predictive`: each row's predictive distribution, as a grid decoder or a sampler gives it.

A decoding model does not only give a number: the grid decoders score every grid value (a
discrete distribution over the grid), and the sampling decoders write S numbers per row (an
empirical distribution). `Predictive` holds either for N rows in one shape:

    kind "grid":    values [N, G] the grid values (ascending, the same in every row) and
                    weights [N, G] the model's probabilities of them, renormalized over the
                    grid (mass the model puts on numbers off the grid is dropped).
    kind "samples": values [N, S] the samples as drawn (NaN where a sample was unusable: an
                    unparseable output, a NaN or inf token) and weights [N, S] = 1 / (number
                    of usable samples) on each usable one, 0 on the others.

Statistics follow the one rule of `decoreg.aggregation`: `quantile(q)` is the inverted CDF
(`sample_quantile` for samples, `weighted_quantile` for a grid), so it is a number the model
can write, it commutes with the model's increasing target transform, and
`DecodingRegressor.predict_distribution(X).quantile(q)` equals
`DecodingRegressor.predict_quantiles(X, [q])[:, 0]` for the same decoder and seed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from decoreg.aggregation import sample_quantile, weighted_quantile
from decoreg.errors import ConfigError

KINDS = ("grid", "samples")


@dataclass(frozen=True)
class Predictive:
    """Predictive distributions of N rows: grid values and probabilities, or samples.

    Build one with `from_grid` or `from_samples`; the decoders do, in the model's target
    space, and `DecodingRegressor.predict_distribution` returns one on the user's scale.

    Attributes:
        kind: "grid" or "samples".
        values: [N, K] float64 support: the grid values (ascending) or the samples (NaN =
            unusable).
        weights: [N, K] float64 probabilities; each row sums to 1, or is all 0 for a row
            with no usable sample (its statistics are NaN).
    """

    kind: str
    values: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"Predictive kind must be one of {KINDS}, got {self.kind!r}")
        if self.values.ndim != 2 or self.values.shape != self.weights.shape:
            raise ValueError(
                f"values and weights must be [N, K] alike, got {self.values.shape} and "
                f"{self.weights.shape}"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_grid(cls, grid_values: np.ndarray, probs: np.ndarray) -> Predictive:
        """A grid distribution from [G] grid values and [N, G] probabilities of them.

        The values are sorted (ascending) and each row's probabilities renormalized.
        """
        grid_values = np.asarray(grid_values, dtype=np.float64)
        probs = np.asarray(probs, dtype=np.float64)
        order = np.argsort(grid_values, kind="stable")
        probs = probs[:, order]
        probs = probs / probs.sum(axis=1, keepdims=True)
        return cls("grid", np.broadcast_to(grid_values[order], probs.shape).copy(), probs)

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> Predictive:
        """An empirical distribution from [N, S] samples; non-finite samples are unusable."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim != 2:
            raise ValueError(f"samples must be [N, S], got shape {samples.shape}")
        usable = np.isfinite(samples)
        counts = usable.sum(axis=1, keepdims=True)
        weights = np.where(usable, 1.0 / np.maximum(counts, 1), 0.0)
        return cls("samples", np.where(usable, samples, np.nan), weights)

    @staticmethod
    def concatenate(parts: Sequence[Predictive]) -> Predictive:
        """The rows of `parts` one after the other (one kind, one support size)."""
        kinds = {p.kind for p in parts}
        if len(kinds) != 1:
            raise ValueError(f"cannot concatenate distributions of kinds {sorted(kinds)}")
        values = np.concatenate([p.values for p in parts])
        return Predictive(kinds.pop(), values, np.concatenate([p.weights for p in parts]))

    def take(self, rows: np.ndarray) -> Predictive:
        """The distributions of `rows` (indices or a boolean mask), in that order."""
        return Predictive(self.kind, self.values[rows], self.weights[rows])

    def map_values(self, increasing: Callable[[np.ndarray], np.ndarray]) -> Predictive:
        """The distribution of f(Y) for a non-decreasing f (e.g. a model's inverse target
        transform): probabilities stay, values are mapped, so quantiles map with them."""
        mapped = np.asarray(increasing(self.values.reshape(-1)), dtype=np.float64)
        return Predictive(self.kind, mapped.reshape(self.values.shape), self.weights)

    def with_fallback(self, fallback: float) -> Predictive:
        """Rows with no usable sample become a point mass at `fallback` (what `predict`
        reports for them), the others stay."""
        empty = ~self.usable
        if not empty.any():
            return self
        values, weights = self.values.copy(), self.weights.copy()
        values[empty] = fallback
        weights[empty] = 1.0 / values.shape[1]
        return Predictive(self.kind, values, weights)

    # -------------------------------------------------------------------- statistics
    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def usable(self) -> np.ndarray:
        """[N] bool: whether the row has a distribution (a usable sample, or grid mass)."""
        return self.weights.sum(axis=1) > 0

    def mean(self) -> np.ndarray:
        """[N] the expected value of each row's distribution (NaN for an unusable row); for
        samples the mean of the usable ones, as `decoreg.aggregation` takes it."""
        usable = self.usable
        out = np.full(len(self), np.nan)
        if self.kind == "samples":
            out[usable] = np.nanmean(self.values[usable], axis=1)
        else:
            out[usable] = np.sum(self.weights[usable] * self.values[usable], axis=1)
        return out

    def median(self) -> np.ndarray:
        """[N] the 0.5 quantile (the inverted CDF, so a value of the support)."""
        return self.quantile(0.5)

    def quantile(self, q: float) -> np.ndarray:
        """[N] the q quantile by the inverted CDF: the smallest value x of the support with
        P(Y <= x) >= q (for samples exactly `decoreg.aggregation.sample_quantile`)."""
        q = float(q)
        out = np.full(len(self), np.nan)
        usable = self.usable
        if not usable.any():
            return out
        if self.kind == "samples":
            out[usable] = sample_quantile(self.values[usable], q)
        else:
            out[usable] = weighted_quantile(self.values[usable], self.weights[usable], q)
        return out

    def interval(self, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """([N], [N]) the central interval of probability `coverage`: the (1 - c) / 2 and
        (1 + c) / 2 quantiles (not calibrated: see `decoreg.uncertainty.conformal`)."""
        check_coverage(coverage)
        return self.quantile((1.0 - coverage) / 2), self.quantile((1.0 + coverage) / 2)

    def cdf(self, y) -> np.ndarray:
        """[N] P(Y_i <= y_i) for a scalar y or one y per row."""
        y = np.broadcast_to(np.asarray(y, dtype=np.float64), (len(self),))
        below = self.values <= y[:, None]  # NaN compares False: unusable samples weigh 0
        return np.sum(np.where(below, self.weights, 0.0), axis=1)

    def cdf_left(self, y) -> np.ndarray:
        """[N] P(Y_i < y_i): with `cdf`, the jump of a discrete distribution at y."""
        y = np.broadcast_to(np.asarray(y, dtype=np.float64), (len(self),))
        return np.sum(np.where(self.values < y[:, None], self.weights, 0.0), axis=1)


def check_coverage(coverage: float) -> float:
    """`coverage` as a float, or a ConfigError unless it lies strictly between 0 and 1."""
    real = isinstance(coverage, numbers.Real) and not isinstance(coverage, bool)
    value = float(coverage) if real else math.nan
    if not 0.0 < value < 1.0:
        raise ConfigError(
            f"coverage must be strictly between 0 and 1 (e.g. 0.9 for a 90% interval), "
            f"got {coverage!r}"
        )
    return value
