"""Which training rows form each micro-batch, as a pure function of (seed, epoch, index).

Because the order is not a generator's hidden position, a run restarted from a checkpoint
continues with exactly the micro-batch it would have seen, and data-parallel processes agree
on the global batches without talking to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from decoreg.errors import ConfigError

GROUPING_WINDOW_BATCHES = 50


@dataclass(frozen=True)
class BatchOrder:
    """Global micro-batches of `batch_size * world_size` rows, each cut into per-process slices.

    Every epoch draws a permutation from `numpy.random.default_rng([seed, epoch])`. It is
    extended with its own first rows so every global batch is full (as PyTorch's
    `DistributedSampler` does), then, with length grouping, sorted by length inside windows of
    50 batches, cut into batches, and the batches shuffled: little padding, still random.

    Attributes:
        lengths: [N] cost proxy per row (token counts).
        batch_size: Rows per process per micro-batch.
        world_size: Number of data-parallel processes.
        seed: The run's seed.
        length_grouping: Group rows of similar length into the same batch.
    """

    lengths: np.ndarray
    batch_size: int
    world_size: int = 1
    seed: int = 0
    length_grouping: bool = True
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.lengths) == 0:
            raise ConfigError("there are no training rows")
        if self.batch_size < 1 or self.world_size < 1:
            raise ConfigError(
                f"batch_size and world_size must be >= 1, got {self.batch_size}, {self.world_size}"
            )

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.world_size

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.lengths) // self.global_batch_size)

    def global_batch(self, index: int) -> np.ndarray:
        """Row indices of micro-batch `index` (0-based, counted over the whole run)."""
        epoch, position = divmod(index, self.batches_per_epoch)
        return self._epoch(epoch)[position]

    def local_batch(self, index: int, rank: int) -> np.ndarray:
        """This process's contiguous slice of global micro-batch `index`."""
        rows = self.global_batch(index)
        return rows[rank * self.batch_size : (rank + 1) * self.batch_size]

    def _epoch(self, epoch: int) -> list[np.ndarray]:
        if epoch not in self._cache:
            self._cache.clear()  # one epoch at a time is all a run needs
            self._cache[epoch] = self._make_epoch(epoch)
        return self._cache[epoch]

    def _make_epoch(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        size = self.global_batch_size
        order = np.resize(rng.permutation(len(self.lengths)), self.batches_per_epoch * size)
        if self.length_grouping:
            window = size * GROUPING_WINDOW_BATCHES
            chunks = [order[i : i + window] for i in range(0, len(order), window)]
            order = np.concatenate([c[np.argsort(self.lengths[c], kind="stable")] for c in chunks])
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        return [batches[i] for i in rng.permutation(len(batches))]
