"""The training loop's evaluation hook: `on_evaluation(step, metrics)` after each validation
pass, and an exception it raises ends the run (how `decoreg.tune` prunes a trial)."""

from __future__ import annotations

import pytest

from tests.conftest import linear_rows as data
from tests.conftest import tiny_tabular_estimator

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**params):
    return tiny_tabular_estimator(**{"max_steps": 9, "early_stopping_patience": 0, **params})


def test_the_hook_sees_every_evaluation_the_result_records():
    seen = []
    est = tiny().fit(*data(), on_evaluation=lambda step, metrics: seen.append((step, metrics)))
    assert [step for step, _ in seen] == [3, 6, 9]
    assert [{"step": s, **m} for s, m in seen] == est.train_result_.evaluations
    assert all("rmse" in metrics for _, metrics in seen)


class Stop(Exception):
    pass


def test_an_exception_from_the_hook_ends_the_run_at_that_step():
    steps = []

    def stop_at_six(step, metrics):
        steps.append(step)
        if step == 6:
            raise Stop

    est = tiny()
    with pytest.raises(Stop):
        est.fit(*data(), on_evaluation=stop_at_six)
    assert steps == [3, 6]  # no step after the sixth was evaluated


def test_without_validation_the_hook_is_never_called():
    called = []
    tiny(validation_fraction=0.0).fit(*data(), on_evaluation=lambda *a: called.append(a))
    assert called == []
