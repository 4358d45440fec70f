import numpy as np
import pytest

from decoreg.uncertainty import Predictive, crps, interval_scores, nll, pit, uncertainty_report


def point(x):
    return Predictive.from_grid(np.array([x]), np.array([[1.0]]))


def test_crps_of_a_point_mass_is_the_absolute_error():
    """F a point mass at 2, y = 3: the integrand is 1 on [2, 3), so CRPS = 1."""
    assert crps(point(2.0), [3.0])[0] == pytest.approx(1.0)


def test_crps_of_two_equal_points():
    """{0, 1} with p = 1/2, y = 0: E|X - y| = 1/2, E|X - X'| / 2 = (2 * 1/4) / 2 = 1/4: 1/4."""
    pred = Predictive.from_grid(np.array([0.0, 1.0]), np.array([[0.5, 0.5]]))
    assert crps(pred, [0.0])[0] == pytest.approx(0.25)


def test_crps_of_three_samples_standard_and_fair():
    """Samples {0, 1, 2}, y = 1: E|X - y| = 2/3; sum_ij |x_i - x_j| = 8.

    Standard: 2/3 - 8 / (2 * 9) = 2/9.  Fair: 2/3 - 8 / (2 * 3 * 2) = 0.
    """
    pred = Predictive.from_samples(np.array([[2.0, 0.0, np.nan, 1.0]]))  # NaN: unusable
    assert crps(pred, [1.0])[0] == pytest.approx(2 / 9)
    assert crps(pred, [1.0], fair=True)[0] == pytest.approx(0.0, abs=1e-15)


def integrated_crps(pred: Predictive, y: np.ndarray, step: float) -> np.ndarray:
    """The definition, by the midpoint rule: sum over t of (F(t) - 1{t >= y})^2 * step."""
    lo = min(np.nanmin(pred.values), y.min()) - 1.0
    hi = max(np.nanmax(pred.values), y.max()) + 1.0
    t = np.arange(lo + step / 2, hi, step)
    out = []
    for row in range(len(pred)):
        values, weights = pred.values[row], pred.weights[row]
        usable = weights > 0
        order = np.argsort(values[usable])
        cumulative = np.cumsum(weights[usable][order])
        F = np.concatenate([[0.0], cumulative])[np.searchsorted(values[usable][order], t, "right")]
        out.append(np.sum((F - (t >= y[row])) ** 2) * step)
    return np.array(out)


@pytest.mark.parametrize("kind", ["grid", "samples"])
def test_crps_matches_the_integral_of_its_definition(kind):
    """The integrand is a step function with at most K + 1 jumps, each of height <= 1: the
    midpoint rule errs by at most step per jump, so the bound (K + 1) * step is exact."""
    rng = np.random.default_rng(1)
    if kind == "grid":
        pred = Predictive.from_grid(np.linspace(-2, 3, 9), rng.dirichlet(np.ones(9), size=6))
    else:
        samples = rng.normal(size=(6, 12))
        samples[0, :3] = np.nan
        pred = Predictive.from_samples(samples)
    y = rng.normal(size=6)
    step = 1e-4
    bound = (pred.values.shape[1] + 1) * step
    np.testing.assert_allclose(crps(pred, y), integrated_crps(pred, y, step), atol=bound)


def test_nll_reads_the_grid_value_nearest_the_target():
    pred = Predictive.from_grid(np.array([1.0, 2.0, 3.0]), np.array([[0.2, 0.5, 0.3]] * 3))
    np.testing.assert_allclose(
        nll(pred, [2.4, 1.5, 9.0]), [-np.log(0.5), -np.log(0.2), -np.log(0.3)]
    )  # 1.5 is a tie: the lower value
    with pytest.raises(ValueError, match="grid probabilities"):
        nll(Predictive.from_samples(np.ones((1, 3))), [1.0])


def test_interval_scores_count_the_ends_as_inside():
    coverage, width = interval_scores([0, 0, 0, 0], [1, 1, 2, 2], [0, 1, 3, -1])
    assert coverage == 0.5 and width == 1.5


def test_pit_lies_within_the_jump_at_the_target():
    pred = Predictive.from_grid(np.array([1.0, 2.0, 3.0]), np.array([[0.2, 0.5, 0.3]] * 50))
    u = pit(pred, np.full(50, 2.0))
    assert np.all((u >= 0.2) & (u <= 0.7)) and u.std() > 0


def test_uncertainty_report_names_its_scores():
    pred = Predictive.from_grid(np.array([1.0, 2.0, 3.0]), np.array([[0.2, 0.5, 0.3]] * 2))
    report = uncertainty_report(pred, [2.0, 3.0])
    assert set(report) == {"crps", "nll"} | {
        f"{m}_{level}" for m in ("coverage", "width") for level in (50, 80, 90, 95)
    }
    assert report["coverage_95"] == 1.0 and report["width_95"] == 2.0
    assert "nll" not in uncertainty_report(Predictive.from_samples(np.ones((2, 3))), [1, 1])
