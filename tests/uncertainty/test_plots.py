import numpy as np

from decoreg.uncertainty import Predictive
from decoreg.uncertainty.plots import write_uncertainty_plots


def test_reliability_and_interval_plots_are_written(tmp_path):
    rng = np.random.default_rng(0)
    pred = Predictive.from_samples(rng.normal(size=(300, 20)))
    y = rng.normal(size=300)
    intervals = np.stack(pred.interval(0.8), axis=1)
    paths = write_uncertainty_plots(pred, y, tmp_path / "plots", name="toy", intervals=intervals)
    assert [p.name for p in paths] == ["toy-reliability.png", "toy-intervals.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    grid = Predictive.from_grid(np.arange(5.0), rng.dirichlet(np.ones(5), size=40))
    assert len(write_uncertainty_plots(grid, rng.integers(0, 5, 40), tmp_path)) == 2
