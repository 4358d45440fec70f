"""The estimator's uncertainty methods: distributions, calibration and conformal intervals.

`DecodingRegressor` takes these from `UncertaintyMethods`; the logic lives in
`decoreg.uncertainty` (the distribution type, the scores, CQR), this only assembles it.
"""

from __future__ import annotations

import numpy as np

from decoreg.data import PYTHON_SOURCE
from decoreg.errors import ConfigError
from decoreg.estimator.inputs import read_inputs, read_targets
from decoreg.estimator.plan import RunPlan
from decoreg.inference import with_fallback
from decoreg.metrics import regression_report
from decoreg.uncertainty.conformal import CalibrationRows, conformal_interval, conformal_rank
from decoreg.uncertainty.distribution import Predictive, check_coverage
from decoreg.uncertainty.metrics import uncertainty_report

VALIDATION_ORIGIN = "the validation split held out by fit"
CALIBRATE_ORIGIN = "calibrate()"


class UncertaintyMethods:
    """`predict_distribution`, `predict_quantiles`, `calibrate`, `predict_interval` and
    `evaluate` of `DecodingRegressor`."""

    def evaluate(self, X, y, *, source: str = PYTHON_SOURCE) -> dict[str, float]:
        """RMSE, MAE, R^2, Pearson, Spearman and the share of unparseable outputs; with a
        decoder that gives a distribution also CRPS, NLL (grid) and the coverage and width of
        central intervals (`decoreg.uncertainty.metrics.uncertainty_report`).

        X is decoded once: a grid or sampling decoder gives its numbers and distributions
        from one pass (`Decoder.decode_with_distribution`), the numbers bit for bit those of
        `predict`.
        """
        self._require_fitted()
        plan = self.plan()
        inputs = read_inputs(self, plan, X, source, fitting=False)
        pred = None
        if plan.decoder.gives_distribution:
            details, pred = self._predict(plan, inputs, None, output="both")
        else:
            details = self._predict(plan, inputs, None)
        targets = read_targets(y, len(details.values), source)
        y_pred = with_fallback(details, self.model_.fallback)
        report = regression_report(targets, y_pred, details.parsed)
        if pred is None:
            return report
        return report | uncertainty_report(pred.with_fallback(self.model_.fallback), targets)

    def predict_with_distribution(self, X, *, source: str = PYTHON_SOURCE, seed: int | None = None):
        """(`predict_details(X)`, `predict_distribution(X)`) from one decoding pass: the same
        predictions (raw scale, NaN where unparsed) and distributions as those two calls.

        Raises:
            ConfigError: for a decoder that gives one number per row (greedy, a head).
        """
        self._require_fitted()
        plan = self._distribution_plan()
        inputs = read_inputs(self, plan, X, source, fitting=False)
        details, pred = self._predict(plan, inputs, seed, output="both")
        return details, pred.with_fallback(self.model_.fallback)

    def predict_distribution(
        self, X, *, source: str = PYTHON_SOURCE, seed: int | None = None
    ) -> Predictive:
        """Each row's predictive distribution on the user's scale (`decoreg.uncertainty`).

        Grid decoders give the grid values and the model's probabilities of them (renormalized
        over the grid); sampling decoders give their samples (the same ones, for the same
        seed, that `predict` aggregates). A row with no usable sample is a point mass at the
        fallback `predict` reports for it. Its `quantile(q)` equals
        `predict_quantiles(X, [q])[:, 0]`.

        Raises:
            ConfigError: for a decoder that gives one number per row (greedy, a head).
        """
        self._require_fitted()
        plan = self._distribution_plan()
        inputs = read_inputs(self, plan, X, source, fitting=False)
        return self._distribution(plan, inputs, seed)

    def predict_quantiles(self, X, quantiles=(0.1, 0.9)) -> np.ndarray:
        """[N, Q] quantiles of each row's predicted distribution, e.g. a 10%-90% interval.

        Uses the quantile decoder of the configured kind: "grid-quantile" for grid decoders,
        "sample-quantile" for sampling ones (the same seed, so the same samples, for every q).
        """
        self._require_fitted()
        plan = self.plan()
        name = plan.decoder_name
        kind = "grid-quantile" if name.startswith("grid-") else None
        kind = "sample-quantile" if name.startswith("sample-") else kind
        if kind is None:
            raise ConfigError(
                f"decoder {name!r} gives a point, not a distribution; quantiles need a grid-* "
                "or sample-* decoder"
            )
        inputs = read_inputs(self, plan, X, PYTHON_SOURCE, fitting=False)
        columns = []
        for q in quantiles:
            details = self._predict(plan.with_decoder(kind, quantile=float(q)), inputs, None)
            columns.append(with_fallback(details, self.model_.fallback))
        return np.stack(columns, axis=1)

    def calibrate(self, X, y, *, source: str = "calibration rows"):
        """Hold `X, y` as the calibration rows of `predict_interval`; returns self.

        They replace the validation split that `fit` held out (the default calibration rows).
        Use rows the model was not trained on; the interval's coverage holds when they and the
        rows predicted later are exchangeable. Their distributions are decoded here.
        """
        self._require_fitted()
        plan = self._distribution_plan()
        inputs = read_inputs(self, plan, X, source, fitting=False)
        targets = read_targets(y, len(inputs), source)
        self.calibration_ = CalibrationRows(inputs, targets, CALIBRATE_ORIGIN)
        self._calibration_distribution(plan)
        return self

    def predict_interval(self, X, coverage: float = 0.9, *, source: str = PYTHON_SOURCE):
        """[N, 2] split-conformal intervals (lower, upper) that cover a new row's target with
        probability at least `coverage` (`decoreg.uncertainty.conformal`: CQR on the model's
        own central interval, calibrated on the rows of `calibrate`, else on the validation
        split `fit` held out).

        The rows are decoded once, as for `predict`; the calibration rows once per decoder.

        Raises:
            ConfigError: coverage outside (0, 1); no calibration rows, or too few for the
                coverage (the message says how many it needs); a decoder or objective that
                gives no distribution.
        """
        coverage = check_coverage(coverage)
        self._require_fitted()
        plan = self._distribution_plan()
        calibration = self._calibration_distribution(plan)
        conformal_rank(len(calibration), coverage)  # too few rows: say so before decoding X
        test = self._distribution(plan, read_inputs(self, plan, X, source, fitting=False), None)
        return conformal_interval(test, calibration, self.calibration_.targets, coverage)

    def uncertainty_scores(self, X, y, *, source: str = PYTHON_SOURCE) -> dict[str, float]:
        """CRPS, NLL (grid decoders) and central-interval coverage and width of X's
        distributions at targets y (`uncertainty_report`); empty for a decoder that gives
        one number per row."""
        self._require_fitted()
        if not self.plan().decoder.gives_distribution:
            return {}
        pred = self.predict_distribution(X, source=source)
        return uncertainty_report(pred, read_targets(y, len(pred), source))

    # ------------------------------------------------------------------------ helpers
    def _distribution_plan(self) -> RunPlan:
        plan = self.plan()
        if not plan.decoder.gives_distribution:
            raise ConfigError(
                f"decoder {plan.decoder_name!r} (objective {plan.objective_name!r}) gives one "
                "number per row, not a distribution, so there are no quantiles, CRPS or "
                "intervals; use a grid-* or sample-* decoder"
                + (
                    " with an objective that decodes (a head objective's number is read, not "
                    "decoded)"
                    if plan.objective.allowed_decoders is not None
                    else ""
                )
            )
        return plan

    def _distribution(self, plan: RunPlan, inputs, seed: int | None) -> Predictive:
        pred = self._predict(plan, inputs, seed, output="distribution")
        return pred.with_fallback(self.model_.fallback)

    def _calibration_distribution(self, plan: RunPlan) -> Predictive:
        rows = self.calibration_  # fit and load set it (None: no rows held out)
        if rows is None:
            raise ConfigError(
                "no calibration rows: fit held out no validation split (it does when "
                "max_steps > 0, validation_fraction > 0 and there are >= 10 rows, or with "
                "eval_set), so call calibrate(X_cal, y_cal) with held-out rows first "
                "(decoreg predict: --calibration FILE)"
            )
        key = (plan.decoder_name, plan.decode, self.random_state)
        if key not in rows.distributions:
            rows.distributions[key] = self._distribution(plan, rows.inputs, None)
        return rows.distributions[key]


def held_out_rows(validation) -> CalibrationRows | None:
    """The calibration rows `fit` keeps: its validation split (inputs, targets), if any."""
    if validation is None:
        return None
    inputs, targets = validation
    return CalibrationRows(inputs, np.asarray(targets, dtype=np.float64), VALIDATION_ORIGIN)
