"""scikit-learn's own estimator checks: all of them for the tabular family, and those that
apply to text input for the causal-LM family."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as checks
from sklearn.utils.validation import check_is_fitted

from decoreg.estimator import DecodingRegressor

# Small enough that the whole check_estimator run takes seconds per check, large enough that
# check_regressors_train's R^2 > 0.5 holds (about 0.7 for any random_state).
TABULAR = dict(
    family="tabular",
    max_steps=100,
    batch_size=32,
    learning_rate=1e-2,
    warmup_steps=0,
    num_samples=16,
    verbose=False,
    tabular_options={
        "d_model": 32, "heads": 2, "layers": 1, "ff_size": 64, "encoder_layers": 1,
        "memory_tokens": 1, "dropout": 0.0,
    },
)  # fmt: skip


def test_the_tabular_family_passes_check_estimator():
    """Every check holds, the row-order and subset ones included: sampling noise is a function
    of the seed and the row alone, so no check needs to be declared an expected failure."""
    results = checks.check_estimator(DecodingRegressor(**TABULAR), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    statuses = {r["status"] for r in results}
    assert statuses <= {"passed", "skipped"}  # skipped: the array-API check without SCIPY_ARRAY_API
    passed = [r for r in results if r["status"] == "passed"]
    assert len(passed) >= 45, f"only {len(passed)} of {len(results)} checks passed"


@pytest.mark.parametrize("decoder", ["greedy", "sample-mean", "sample-quantile"])
@pytest.mark.parametrize(
    "check", [checks.check_methods_sample_order_invariance, checks.check_methods_subset_invariance]
)
def test_predictions_are_independent_of_row_order_and_batch(check, decoder):
    check("DecodingRegressor", DecodingRegressor(**{**TABULAR, "decoder": decoder}))


def test_tabular_tags_declare_the_real_input_properties():
    tags = DecodingRegressor(**TABULAR).__sklearn_tags__()
    assert tags.target_tags.required and tags.input_tags.two_d_array
    assert tags.input_tags.categorical and not tags.input_tags.string
    assert tags.input_tags.allow_nan and not tags.input_tags.sparse  # holes by default
    assert not tags.non_deterministic  # a fixed random_state gives the same predictions
    refuse = DecodingRegressor(family="tabular", tabular_options={"nan_policy": "error"})
    assert not refuse.__sklearn_tags__().input_tags.allow_nan


# ----------------------------------------------------------------- causal LMs (text input)
TEXT_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimators_unfitted,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
    checks.check_valid_tag_types,
    checks.check_estimator_tags_renamed,
]
TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(12)]
TARGETS = np.array([4.0 if i % 2 else 2.0 for i in range(12)])


@pytest.mark.parametrize("check", TEXT_CHECKS, ids=lambda c: c.__name__)
def test_causal_lm_passes_the_checks_that_apply_to_text(check):
    check("DecodingRegressor", DecodingRegressor(model="/not/loaded", template="Q: {text}\nA: "))


def test_parameters_are_default_constructible():
    checks.check_parameters_default_constructible("DecodingRegressor", DecodingRegressor())


def test_text_tags_say_strings_not_arrays():
    tags = DecodingRegressor().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.target_tags.required


def test_causal_lm_fit_follows_the_fitted_state_rules(tiny_model_dir):
    """check_fit_check_is_fitted, check_estimators_overwrite_params, check_dict_unchanged and
    check_estimators_pickle, on texts instead of their numeric arrays."""
    est = DecodingRegressor(
        model=str(tiny_model_dir), template="Q: {text}\nA: ", max_steps=1, batch_size=4,
        bf16=False, verbose=False, validation_fraction=0.0,
    )  # fmt: skip
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    params = joblib.hash(est.get_params())
    assert est.fit(TEXTS, TARGETS) is est
    check_is_fitted(est)
    assert joblib.hash(est.get_params()) == params, "fit changed a parameter"
    state = dict(est.__dict__)
    predictions = est.predict(TEXTS)
    assert est.__dict__ == state, "predict changed the fitted state"
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(TEXTS), predictions)
    assert not hasattr(clone(est), "model_")
