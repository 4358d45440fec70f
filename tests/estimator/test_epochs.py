"""`epochs` instead of `max_steps`: the number of steps is derived once the training rows are
known, and the two options are refused together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    family="tabular",
    verbose=False,
    early_stopping_patience=0,  # the run lasts exactly the derived number of steps
    eval_every=0,
    num_samples=2,
    tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
)


def rows(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    x = np.linspace(0.0, 1.0, n)
    return pd.DataFrame({"x": x}), 2.0 * x


@pytest.mark.parametrize(
    ("rows_", "batch", "accum", "processes", "epochs", "steps"),
    [
        # ceil(100 / (8 * 1 * 1)) = 13 steps per epoch, 13 * 3 = 39
        (100, 8, 1, 1, 3, 39),
        # 96 rows fill 12 batches of 8 exactly: 12 * 2 = 24
        (96, 8, 1, 1, 2, 24),
        # each step takes 8 * 2 micro-batch rows: ceil(100 / 16) = 7, * 3 = 21
        (100, 8, 2, 1, 3, 21),
        # two processes each take 8 rows of a global batch: ceil(100 / 32) = 4, * 5 = 20
        (100, 8, 2, 2, 5, 20),
        # fewer rows than one batch: one step per epoch
        (3, 8, 1, 1, 4, 4),
    ],
)
def test_steps_from_epochs_are_derived_by_hand(rows_, batch, accum, processes, epochs, steps):
    est = DecodingRegressor(**TINY, batch_size=batch, grad_accum_steps=accum, epochs=epochs)
    plan = est.plan()
    assert plan.max_steps is None and plan.fits  # not known before the rows are
    resolved = plan.for_train_rows(rows_, processes)
    assert resolved.max_steps == steps and resolved.train.max_steps == steps
    assert resolved.epochs == epochs


def test_a_fit_with_epochs_runs_the_steps_of_the_rows_left_after_the_holdout():
    """50 rows, validation_fraction 0.2: 10 held out, 40 train; batch 16: ceil(40 / 16) = 3
    steps per epoch, 2 epochs = 6 steps, with the last step evaluated."""
    frame, y = rows(50)
    est = DecodingRegressor(**TINY, batch_size=16, epochs=2, validation_fraction=0.2)
    est.fit(frame, y)
    assert est.n_train_rows_ == 40
    assert est.train_result_.steps_run == 6
    assert [e["step"] for e in est.train_result_.evaluations] == [6]


def test_max_steps_without_epochs_is_unchanged():
    est = DecodingRegressor(**TINY, max_steps=5)
    assert est.plan().for_train_rows(1000, 1).max_steps == 5


def test_epochs_and_max_steps_are_refused_together():
    est = DecodingRegressor(**TINY, max_steps=10, epochs=2)
    with pytest.raises(ConfigError, match=r"max_steps=10 and epochs=2 are refused together"):
        est.plan()
    with pytest.raises(ConfigError, match="refused together"):
        est.fit(*rows(20))


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_epochs_must_be_a_positive_int(epochs):
    with pytest.raises(ConfigError, match="epochs must be a positive int"):
        DecodingRegressor(**TINY, epochs=epochs).plan()


def test_epochs_survive_save_and_load(tmp_path):
    frame, y = rows(30)
    est = DecodingRegressor(**TINY, batch_size=32, epochs=1).fit(frame, y)
    est.save(tmp_path / "m")
    assert DecodingRegressor.load(tmp_path / "m").get_params()["epochs"] == 1
