"""`DecodingRegressor`: the scikit-learn face of decoreg.

It only assembles the pieces (family, objective, decoder, training loop) and follows the
scikit-learn rules: `__init__` stores its arguments, `fit` returns self, learned state ends
in `_`, so `clone`, `GridSearchCV` and `cross_val_score` work.

    plan.py       resolve the family, objective, decoder and configs once (`RunPlan`)
    inputs.py     texts, or feature tables read as scikit-learn reads them
    regressor.py  `DecodingRegressor`: fit, predict, score, evaluate, quantiles
    saving.py     save and load model folders (format version, previous versions)
"""

from decoreg.estimator.regressor import DecodingRegressor
from decoreg.estimator.saving import FORMAT_VERSION, META_FILE

__all__ = ["FORMAT_VERSION", "META_FILE", "DecodingRegressor"]
