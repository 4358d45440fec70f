"""`DecodingRegressor`: the scikit-learn face of decoreg.

It only assembles the pieces (family, objective, decoder, training loop) and follows the
scikit-learn rules: `__init__` stores its arguments, `fit` returns self, learned state ends
in `_`, so `clone`, `GridSearchCV` and `cross_val_score` work.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone

from decoreg.causal_lm.folder_safety import check_model_folder
from decoreg.config import DecodeConfig, TrainConfig
from decoreg.data import (
    PYTHON_SOURCE,
    frame_from_python,
    targets_from_python,
)
from decoreg.errors import ConfigError
from decoreg.families import check_choice, get_family
from decoreg.inference import predict_prepared, take_rows, with_fallback
from decoreg.metrics import regression_report
from decoreg.training import Dataset, TrainResult, fit, process_rank

logger = logging.getLogger(__name__)

META_FILE = "decoreg.json"
FORMAT_VERSION = 1


class DecodingRegressor(RegressorMixin, BaseEstimator):
    """A language model that predicts numbers by writing them, fine-tuned to be accurate.

    Args:
        model: Built-in model name (`decoreg models`) or a local Hugging Face model folder.
        objective: Training objective name (None: the family's default, "raft" for causal LMs,
            "ce" for the tabular family); see `decoreg.causal_lm.objectives`, `decoreg.tabular`.
        decoder: How numbers are read out ("grid-mean", "greedy", "sample-mean", ...);
            None: the family's default, or "head" for head objectives (which refuse others).
        family: "causal-lm" (pretrained LMs on text).
        text_column: Column of X holding the text (default: "text" or X's only column).
        feature_columns: Columns serialized as "name: value; ..." instead of a text column.
        template: Prompt template with `{text}`, ending with the space before the number.
        decimals: Decimals when writing targets (default from the grid).
        grid: Grid values for RAFT and grid decoders (default: digits spanning the targets).
        scale_targets: "auto", "always" or "never" map targets onto the grid's range.
        max_prompt_tokens: Longer inputs have their text shortened, with a warning.
        objective_options: Options of the objective, e.g. {"normalize": True} for RAFT.
        head: Predictive head for objectives "head" ("token", "mean", "mlp") and
            "learnable-raft" ("learnable-grid", "learnable-vocab"); None: the objective's first.
        special_token: Token whose logit the "token" head reads (default: end-of-sequence).
        init: "pretrained", or "random" to train the same architecture from scratch.
        learning_rate, batch_size, grad_accum_steps, max_steps, warmup_steps, schedule,
        weight_decay, max_grad_norm, eval_every, early_stopping_patience, select_by,
        max_eval_rows, bf16:
            Training options; see `decoreg.config.TrainConfig`. `max_steps=0` fits nothing
            (zero-shot use of the pretrained model). Where learning_rate, batch_size,
            max_steps, warmup_steps, eval_every or early_stopping_patience is None, the
            family's default applies (`Family.train_defaults`): TrainConfig's, tuned for
            fine-tuning LMs (3e-5, batch 8, 200 steps, ...), for causal LMs; for the small
            tabular models lr 1e-3, batch 128, up to 2,000 steps with early stopping (see
            `decoreg.tabular.build.TRAIN_DEFAULTS`).
        validation_fraction: Share of the training rows held out (seeded) to pick the best
            checkpoint (by validation RMSE unless `select_by` says otherwise), when `fit` gets
            no `eval_set`.
        lora_rank: Train LoRA adapters of this rank instead of every weight (0: off).
        lora_alpha: LoRA scale numerator (updates are scaled by alpha / rank; None: 2 * rank).
        lora_targets: Module names LoRA adapts, e.g. ["q_proj", "v_proj"] (None: all linear).
        gradient_checkpointing: Recompute activations in backward to save memory.
        checkpoint_dir, checkpoint_every, resume: Kill-safe checkpoints every
            `checkpoint_every` steps in `checkpoint_dir`, and resuming from the newest one;
            see `decoreg.config.TrainConfig`.
        num_samples, temperature, normalize_grid, quantile, max_new_tokens: Decoder options;
            see `decoreg.config.DecodeConfig`.
        trust_remote_code: Allow a local model folder to run its own code.
        init_from: A model folder written by `save` (or `decoreg train`) to start training
            from instead of building a new model, e.g. a cross-entropy model for the RL
            objectives ("remax", "grpo", "rloo", "genre2"); its template, grid and number
            format are kept.
        tabular_options: Options of the tabular encoder-decoder (`family="tabular"`): see
            `decoreg.tabular.TabularModelConfig` (tokenizer, d_model, layers, nan_policy, ...).
        num_threads: torch threads used by fit and predict (None: the family's default: one
            for the small tabular models, torch's default for causal LMs).
        random_state: Seed for splitting, data order and sampling.
        verbose: Show progress bars.
    """

    def __init__(
        self,
        model: str | None = None,
        objective: str | None = None,
        decoder: str | None = None,
        *,
        family: str = "causal-lm",
        text_column: str | None = None,
        feature_columns: list[str] | None = None,
        template: str | None = None,
        decimals: int | None = None,
        grid: list[float] | None = None,
        scale_targets: str = "auto",
        max_prompt_tokens: int = 256,
        objective_options: dict | None = None,
        head: str | None = None,
        special_token: str | None = None,
        init: str = "pretrained",
        learning_rate: float | None = None,
        batch_size: int | None = None,
        grad_accum_steps: int = 1,
        max_steps: int | None = None,
        warmup_steps: int | None = None,
        schedule: str = "linear",
        weight_decay: float = 0.0,
        max_grad_norm: float = 1.0,
        eval_every: int | None = None,
        early_stopping_patience: int | None = None,
        select_by: str = "rmse",
        max_eval_rows: int = 256,
        bf16: bool | None = None,
        validation_fraction: float = 0.1,
        lora_rank: int = 0,
        lora_alpha: float | None = None,
        lora_targets: list[str] | None = None,
        gradient_checkpointing: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 50,
        resume: bool = False,
        num_samples: int | None = None,
        temperature: float = 1.0,
        normalize_grid: bool = True,
        quantile: float = 0.5,
        max_new_tokens: int | None = None,
        trust_remote_code: bool = False,
        init_from: str | None = None,
        tabular_options: dict | None = None,
        num_threads: int | None = None,
        random_state: int = 0,
        verbose: bool = True,
    ) -> None:
        self.model = model
        self.objective = objective
        self.decoder = decoder
        self.family = family
        self.text_column = text_column
        self.feature_columns = feature_columns
        self.template = template
        self.decimals = decimals
        self.grid = grid
        self.scale_targets = scale_targets
        self.max_prompt_tokens = max_prompt_tokens
        self.objective_options = objective_options
        self.head = head
        self.special_token = special_token
        self.init = init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.grad_accum_steps = grad_accum_steps
        self.max_steps = max_steps
        self.warmup_steps = warmup_steps
        self.schedule = schedule
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.eval_every = eval_every
        self.early_stopping_patience = early_stopping_patience
        self.select_by = select_by
        self.max_eval_rows = max_eval_rows
        self.bf16 = bf16
        self.validation_fraction = validation_fraction
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_targets = lora_targets
        self.gradient_checkpointing = gradient_checkpointing
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.num_samples = num_samples
        self.temperature = temperature
        self.normalize_grid = normalize_grid
        self.quantile = quantile
        self.max_new_tokens = max_new_tokens
        self.trust_remote_code = trust_remote_code
        self.init_from = init_from
        self.tabular_options = tabular_options
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ configuration
    def train_option(self, name: str):
        """A training option: the value given, else the family's default, else TrainConfig's."""
        value = getattr(self, name)
        if value is not None:
            return value
        return get_family(self.family).train_defaults.get(name, getattr(TrainConfig(), name))

    def train_config(self) -> TrainConfig:
        option = self.train_option
        return TrainConfig(
            learning_rate=option("learning_rate"),
            weight_decay=self.weight_decay,
            batch_size=option("batch_size"),
            grad_accum_steps=self.grad_accum_steps,
            max_steps=max(option("max_steps"), 1),
            warmup_steps=option("warmup_steps"),
            schedule=self.schedule,
            max_grad_norm=self.max_grad_norm,
            eval_every=option("eval_every"),
            early_stopping_patience=option("early_stopping_patience"),
            select_by=self.select_by,
            bf16=self._bf16(),
            seed=self.random_state,
            max_eval_rows=self.max_eval_rows,
            show_progress=self.verbose,
            checkpoint_dir=None if self.checkpoint_dir is None else str(self.checkpoint_dir),
            checkpoint_every=self.checkpoint_every,
            resume=self.resume,
        )

    def decode_config(self) -> DecodeConfig:
        return DecodeConfig(
            num_samples=self.num_samples or get_family(self.family).default_num_samples,
            temperature=self.temperature,
            normalize_grid=self.normalize_grid,
            max_new_tokens=self.max_new_tokens,
            quantile=self.quantile,
        )

    def build_objective(self):
        family = get_family(self.family)
        name = self.objective_name()
        check_choice("objective", name, family.objectives, self.family)
        factory = family.objectives[name]
        try:
            return factory(**(self.objective_options or {}))
        except TypeError as error:
            raise ConfigError(
                f"bad objective_options {self.objective_options} for {name!r}: {error}"
            ) from error

    def decoder_name(self) -> str:
        """The decoder used: the one given, else the default for the objective."""
        return get_family(self.family).resolve_decoder(self.objective_name(), self.decoder)

    def objective_name(self) -> str:
        """The objective used: the one given, else the family's default (raft, or ce)."""
        return self.objective or get_family(self.family).default_objective

    def build_decoder(self):
        family = get_family(self.family)
        name = self.decoder_name()
        check_choice("decoder", name, family.decoders, self.family)
        return family.decoders[name](self.decode_config())

    def _check_options(self) -> None:
        """Every option problem is raised here, before data is read or a model loaded."""
        self.build_objective()
        self.build_decoder()
        self.train_config()
        get_family(self.family).check_options(self.get_params())
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.train_option("max_steps") < 0:
            raise ConfigError(f"max_steps must be >= 0, got {self.max_steps}")
        if self.init_from is not None:
            _saved_family(self.init_from, self.family)

    # ------------------------------------------------------------------------ fitting
    def fit(self, X, y, *, eval_set: tuple | None = None, source: str = PYTHON_SOURCE):
        """Fit on texts (a list, Series or DataFrame) and numeric targets; returns self.

        Args:
            X: Inputs; a DataFrame uses `text_column` or `feature_columns`.
            y: [N] numeric targets.
            eval_set: Optional (X_val, y_val) for checkpoint selection; otherwise a seeded
                `validation_fraction` of the rows is held out.
            source: Name used in error messages (the CLI passes the file path).
        """
        self._check_options()
        frame = frame_from_python(X, source)
        targets = targets_from_python(y, len(frame), source)
        texts = self._inputs(frame, source)
        val_texts, val_targets = None, None
        if eval_set is not None:
            val_frame = frame_from_python(eval_set[0], f"{source} (validation)")
            val_targets = targets_from_python(eval_set[1], len(val_frame), f"{source} (validation)")
            val_texts = self._inputs(val_frame, f"{source} (validation)")
        elif (
            self.train_option("max_steps") > 0 and self.validation_fraction > 0 and len(texts) >= 10
        ):
            texts, targets, val_texts, val_targets = _holdout(
                texts, targets, self.validation_fraction, self.random_state
            )
        with self._threads():
            return self._fit_inputs(texts, targets, val_texts, val_targets)

    def _fit_inputs(self, texts, targets, val_texts, val_targets):
        model = self._initial_model(texts, targets)
        if any(
            getattr(p, "uses_grid", False) for p in (self.build_objective(), self.build_decoder())
        ):
            model.grid_trie  # noqa: B018 - raises a ConfigError for a grid it cannot write
        self.model_ = model
        self.train_result_ = TrainResult()
        if self.train_option("max_steps") > 0:
            validation = None
            if val_texts is not None:
                validation = Dataset(model.prepare_inputs(val_texts), val_targets)
            self.train_result_ = fit(
                model,
                self.build_objective(),
                Dataset(model.prepare_inputs(texts), targets),
                self.train_config(),
                validation=validation,
                decoder=self.build_decoder(),
                fallback=model.fallback,
            )
        self.n_train_rows_ = len(texts)
        return self

    # --------------------------------------------------------------------- predicting
    def predict_details(self, X, *, source: str = PYTHON_SOURCE, seed: int | None = None):
        """Predictions with raw text and a parsed flag per row (raw space, NaN unparsed)."""
        self._require_fitted()
        return self.predict_texts(self.input_texts(X, source=source), seed=seed)

    def input_texts(self, X, *, source: str = PYTHON_SOURCE) -> list[str]:
        """The validated texts the model reads for X (errors name the source, row, column)."""
        return self._inputs(frame_from_python(X, source), source)

    def predict_texts(self, texts: list[str], *, seed: int | None = None):
        """`predict_details` for texts from `input_texts`; `seed` replaces `random_state`."""
        self._require_fitted()
        with self._threads():
            return predict_prepared(
                self.model_,
                self.build_decoder(),
                self.model_.prepare_inputs(texts),
                batch_size=self.train_option("batch_size") * 2,
                seed=self.random_state if seed is None else seed,
                show_progress=self.verbose,
                description=f"predict ({self.decoder_name()})",
                bf16=self._bf16(),
            )

    def predict_quantiles(self, X, quantiles=(0.1, 0.9)) -> np.ndarray:
        """[N, Q] quantiles of each row's predicted distribution, e.g. a 10%-90% interval.

        Uses the quantile decoder of the configured kind: "grid-quantile" for grid decoders,
        "sample-quantile" for sampling ones (the same seed, so the same samples, for every q).
        """
        self._require_fitted()
        name = self.decoder_name()
        kind = "grid-quantile" if name.startswith("grid-") else None
        kind = "sample-quantile" if name.startswith("sample-") else kind
        if kind is None:
            raise ConfigError(
                f"decoder {name!r} gives a point, not a distribution; quantiles need a grid-* "
                "or sample-* decoder"
            )
        columns = []
        for q in quantiles:
            estimator = clone(self).set_params(decoder=kind, quantile=float(q))
            estimator.model_ = self.model_
            columns.append(estimator.predict(X))
        return np.stack(columns, axis=1)

    def predict(self, X) -> np.ndarray:
        """[N] predictions; rows the decoder could not read get the training median."""
        return with_fallback(self.predict_details(X), self.model_.fallback)

    def evaluate(self, X, y, *, source: str = PYTHON_SOURCE) -> dict[str, float]:
        """RMSE, MAE, R^2, Pearson, Spearman and the share of unparseable outputs."""
        details = self.predict_details(X, source=source)
        targets = targets_from_python(y, len(details.values), source)
        y_pred = with_fallback(details, self.model_.fallback)
        return regression_report(targets, y_pred, details.parsed)

    # ------------------------------------------------------------------------- saving
    def save(self, directory: str | Path, *, target_column: str | None = None) -> Path:
        """Write weights (safetensors) and a JSON of everything needed to predict again.

        Args:
            directory: Folder to write (created if needed).
            target_column: Recorded so that `decoreg evaluate` finds the targets by itself.
        """
        self._require_fitted()
        directory = Path(directory)
        if process_rank() != 0:
            return directory  # data-parallel: every process holds the same weights; rank 0 writes
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory)
        params = self.get_params()
        meta = {
            "format_version": FORMAT_VERSION,
            "family": self.family,
            "params": params,
            "target_column": target_column,
            "train": {
                "steps_run": self.train_result_.steps_run,
                "best_step": self.train_result_.best_step,
                "best_validation": self.train_result_.best_validation,
            },
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=_json_default))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, trust_remote_code: bool = False) -> DecodingRegressor:
        """Read a folder written by `save`; predictions are identical to the saved model's.

        The folder is checked first (`decoreg.causal_lm.folder_safety`): safetensors weights
        only, no file or link leading outside it, and a model's own code only when the caller
        passes `trust_remote_code=True` (a value stored in the folder never enables it).
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.is_file():
            raise ConfigError(f"{directory} is not a decoreg model folder (no {META_FILE})")
        check_model_folder(directory, trust_remote_code=trust_remote_code)
        meta = json.loads(meta_path.read_text())
        try:
            estimator = cls(**meta["params"])
        except TypeError as error:
            raise ConfigError(f"{meta_path} holds unknown parameters: {error}") from None
        loader = get_family(meta["family"]).load
        # Loaders take trust_remote_code only when it is on (the tabular family has no code).
        if trust_remote_code:
            estimator.model_ = loader(directory, trust_remote_code=True)
        else:
            estimator.model_ = loader(directory)
        estimator.train_result_ = TrainResult(**meta["train"])
        return estimator

    # ------------------------------------------------------------------------ helpers
    def _initial_model(self, inputs, targets: np.ndarray):
        """The saved model of `init_from`, or a new one built from the options and data."""
        if self.init_from is None:
            return get_family(self.family).build(self.get_params(), inputs, targets)
        return get_family(_saved_family(self.init_from, self.family)).load(self.init_from)

    def _inputs(self, frame: pd.DataFrame, source: str):
        """What the family's model reads from `frame`: texts, or feature rows."""
        return get_family(self.family).select_inputs(self.get_params(), frame, source)

    def _bf16(self) -> bool:
        return get_family(self.family).default_bf16 if self.bf16 is None else self.bf16

    @contextlib.contextmanager
    def _threads(self):
        """Run with `num_threads` (or the family's default) torch threads, then restore."""
        wanted = self.num_threads or get_family(self.family).default_threads
        previous = torch.get_num_threads()
        if wanted:
            torch.set_num_threads(wanted)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _require_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this DecodingRegressor is not fitted yet; call fit first")


def _saved_family(directory: str | Path, family: str) -> str:
    """The family of the decoreg model saved in `directory`; a ConfigError if there is none
    or it is not `family`."""
    meta_path = Path(directory) / META_FILE
    try:
        saved = json.loads(meta_path.read_text()).get("family")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"init_from={str(directory)!r} is not a decoreg model folder (no readable "
            f"{META_FILE}; write one with `decoreg train` or DecodingRegressor.save): {error}"
        ) from error
    if saved != family:
        raise ConfigError(
            f"init_from={str(directory)!r} holds a {saved!r} model, but family={family!r}"
        )
    return saved


def _holdout(inputs, targets, fraction, seed):
    """Split inputs (a list or a frame) and targets into seeded training and validation parts."""
    order = np.random.default_rng(seed).permutation(len(targets))
    n_val = max(1, round(fraction * len(targets)))
    val, train = order[:n_val], order[n_val:]
    return (take_rows(inputs, train), targets[train], take_rows(inputs, val), targets[val])


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
