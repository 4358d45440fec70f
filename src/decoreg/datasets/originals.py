"""Vacareanu et al. (2024)-style "Original" regression functions, written from their formulas.

"From Words to Numbers" (Vacareanu, Negru, Suciu, Surdeanu 2024) added five functions of its
own to Friedman #1-#3, so that a model could not have memorized them. Each is a deterministic
function of uniform inputs; this module samples the inputs with a seeded
`numpy.random.default_rng` and evaluates the formula, with optional Gaussian noise.

- #1: x0 in [0, 100]; y = x0 + 10 sin(5 pi x0 / 100) + 10 cos(6 pi x0 / 100).
- #2: x0 in [0, 3], x1 in [4 pi, 56 pi], x2 in [0, 2], x3 in [1, 11];
  y = (x0^4 + (x1 x2 - 2 / sqrt(x1 x3))^2)^0.75.
- #3: x0 in [1, 3], x1 in [1, 10], x2 in [0, 10], x3 in [1, 20];
  y = e^x0 + x1 x2 / sqrt(x3) + (x0 x3)^1.5.
- #4: x0, x1 in [2, 100]; y = x1/10 sin x0 + x0/10 cos x1 + sqrt(x0) ln x1 / (sqrt(x1) ln x0).
- #5: x0, x1, x2 in [-25, 25]; y = 100 max_i softmax(x / 10)_i.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from decoreg.errors import ConfigError

Formula = Callable[[np.ndarray], np.ndarray]  # x: [N, F] -> y: [N]


def _original1(x: np.ndarray) -> np.ndarray:
    t = x[:, 0]
    return t + 10 * np.sin(5 * np.pi * t / 100) + 10 * np.cos(6 * np.pi * t / 100)


def _original2(x: np.ndarray) -> np.ndarray:
    inner = x[:, 1] * x[:, 2] - 2 / np.sqrt(x[:, 1] * x[:, 3])
    return (x[:, 0] ** 4 + inner**2) ** 0.75


def _original3(x: np.ndarray) -> np.ndarray:
    return np.exp(x[:, 0]) + x[:, 1] * x[:, 2] / np.sqrt(x[:, 3]) + (x[:, 0] * x[:, 3]) ** 1.5


def _original4(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (
        b / 10 * np.sin(a) + a / 10 * np.cos(b) + np.sqrt(a) * np.log(b) / (np.sqrt(b) * np.log(a))
    )


def _original5(x: np.ndarray) -> np.ndarray:
    z = x / 10
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return 100 * (z / z.sum(axis=1, keepdims=True)).max(axis=1)


# variant -> (formula, per-feature (low, high) input bounds)
ORIGINALS: dict[int, tuple[Formula, tuple[tuple[float, float], ...]]] = {
    1: (_original1, ((0.0, 100.0),)),
    2: (_original2, ((0.0, 3.0), (4 * np.pi, 56 * np.pi), (0.0, 2.0), (1.0, 11.0))),
    3: (_original3, ((1.0, 3.0), (1.0, 10.0), (0.0, 10.0), (1.0, 20.0))),
    4: (_original4, ((2.0, 100.0), (2.0, 100.0))),
    5: (_original5, ((-25.0, 25.0),) * 3),
}


def original_function(variant: int) -> Formula:
    """Return the formula of Original #`variant`, mapping inputs [N, F] to targets [N]."""
    if variant not in ORIGINALS:
        raise ConfigError(f"variant={variant!r}: expected one of {sorted(ORIGINALS)}")
    return ORIGINALS[variant][0]


def original_frame(
    variant: int, *, n_rows: int = 2000, noise: float = 0.0, random_state: int = 0
) -> pd.DataFrame:
    """Sample Original #`variant` as columns ``x0..`` and ``y``.

    Args:
        variant: 1 to 5 (see the module table).
        n_rows: Number of rows.
        noise: Standard deviation of Gaussian noise added to the target.
        random_state: Seed of ``numpy.random.default_rng``; the same seed gives the same rows.

    Returns:
        The frame.

    Raises:
        ConfigError: If an argument is out of range.
    """
    formula = original_function(variant)
    if n_rows < 1 or not noise >= 0:
        raise ConfigError(f"n_rows={n_rows}, noise={noise}: need n_rows >= 1 and noise >= 0")
    bounds = np.array(ORIGINALS[variant][1])  # [F, 2]
    rng = np.random.default_rng(random_state)
    x = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * rng.random((n_rows, len(bounds)))
    y = formula(x) + (noise * rng.standard_normal(n_rows) if noise > 0 else 0.0)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["y"] = y
    return frame
