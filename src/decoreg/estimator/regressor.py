"""`DecodingRegressor`: fit, predict, score and save through a run plan resolved once per call."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError

from decoreg.config import DecodeConfig, TrainConfig
from decoreg.data import PYTHON_SOURCE
from decoreg.distributed import World
from decoreg.estimator import saving
from decoreg.estimator.fitting import fit_model
from decoreg.estimator.inputs import declare_input_tags, fit_rows, read_inputs
from decoreg.estimator.plan import RunPlan, resolve_plan, train_option
from decoreg.estimator.uncertainty import UncertaintyMethods, held_out_rows
from decoreg.families import get_family
from decoreg.inference import predict_prepared, with_fallback
from decoreg.training import EvaluationHook


class DecodingRegressor(UncertaintyMethods, RegressorMixin, BaseEstimator):
    """A language model that predicts numbers by writing them, fine-tuned to be accurate.

    Options that only one family reads (`Family.owned_params`: e.g. `grid` and `head` for
    causal LMs, `tabular_options` for the tabular family) are refused with a ConfigError when
    set for the other family.

    Args:
        model: Built-in model name (`decoreg models`) or a local Hugging Face model folder.
        objective: Training objective name (None: the family's default, "raft" for causal LMs,
            "ce" for the tabular family); see `decoreg.causal_lm.objectives`, `decoreg.tabular`.
        decoder: How numbers are read out ("grid-mean", "greedy", "sample-mean", ...);
            None: the family's default, or "head" for head objectives (which refuse others).
        family: "causal-lm" (pretrained LMs on text) or "tabular" (the encoder-decoder on
            feature tables: DataFrames or numeric array-likes, as in scikit-learn).
        text_column: Column of X holding the text (default: "text" or X's only column).
        feature_columns: Columns serialized as "name: value; ..." instead of a text column
            (causal LMs), or the feature columns to read (tabular; default: all).
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
        learning_rate: Peak learning rate (None: the family's default, see below).
        batch_size: Rows per optimizer micro-batch (None: the family's default).
        grad_accum_steps: Micro-batches accumulated per optimizer step.
        max_steps: Optimizer steps (None: the family's default); 0 fits nothing (zero-shot
            use of the pretrained model).
        epochs: Passes over the training rows (after the holdout) instead of `max_steps`
            (refused together): ceil(rows / (batch_size * grad_accum_steps * processes)) * epochs.
        warmup_steps: Linear warm-up steps (None: the family's default).
        schedule: Learning-rate schedule after warm-up: "linear", "cosine" or "constant".
        weight_decay: AdamW weight decay.
        max_grad_norm: Gradient clipping norm (0 disables clipping).
        eval_every: Steps between validation evaluations, 0 only at the end (None: the
            family's default).
        early_stopping_patience: Evaluations without a better validation score before
            stopping, 0 never stops (None: the family's default).
        select_by: Validation score that picks the best checkpoint ("rmse", "mae", "reward").
        max_eval_rows: Validation rows decoded at each evaluation (a seeded subset beyond it).
        device: "auto" (CUDA, else MPS, else the CPU), "cpu", "cuda", "cuda:N" or "mps".
        precision: "fp32", "bf16-mixed", "bf16", "fp16-mixed" (`decoreg.devices`; None: the
            family's, bf16-mixed for causal LMs, fp32 for tabular); `bf16` is its older switch
            (True: bf16-mixed, False: fp32), refused with it.
        validation_fraction: Share of the training rows held out (seeded) to pick the best
            checkpoint (by validation RMSE unless `select_by` says otherwise), when `fit` gets
            no `eval_set`.
        lora_rank: Train LoRA adapters of this rank instead of every weight (0: off).
        lora_alpha: LoRA scale numerator (updates are scaled by alpha / rank; None: 2 * rank).
        lora_targets: Module names LoRA adapts, e.g. ["q_proj", "v_proj"] (None: all linear).
        gradient_checkpointing: Recompute activations in backward to save memory.
        checkpoint_dir: Folder for kill-safe training checkpoints (None: no checkpoints).
        checkpoint_every: Write a checkpoint every this many optimizer steps (0: never).
        resume: Continue from the newest checkpoint in `checkpoint_dir` (from step 1 if
            none); the run must use the same options, data and number of processes.
        fsdp: Shard the model over the processes of a `torchrun` launch with FSDP2 (LoRA
            included); refused in a single process (`decoreg.engine`).
        num_samples: Samples per input of the sample-* decoders (None: the family's default,
            32 for causal LMs, 128 for the tabular family).
        temperature: Sampling temperature of the sample-* decoders.
        normalize_grid: Renormalize the grid probabilities of the grid-* decoders.
        quantile: The quantile the *-quantile decoders report.
        max_new_tokens: Tokens generated per number (None: derived from the number format).
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
        report_to: Also send the training log and every validation pass to "tensorboard"
            (event files) or "mlflow" (a local file store); "none" keeps `train_result_` only.
        report_dir: Folder of those event files or of the MLflow store (None: ./runs).

    The training options are those of `decoreg.config.TrainConfig`, and the decoder options
    those of `decoreg.config.DecodeConfig`. Where a training option is None the family's
    default applies (`Family.train_defaults`, per objective where it names one): TrainConfig's,
    tuned for fine-tuning LMs (batch 8, 200 steps, ...), for causal LMs, with each objective's
    learning rate (`decoreg.causal_lm.build.OBJECTIVE_TRAIN_DEFAULTS`: 3e-5, the head 3e-4);
    for the small tabular models lr 1e-3, batch 128, up to 2,000 steps with early stopping (see
    `decoreg.tabular.build.TRAIN_DEFAULTS`).
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
        epochs: int | None = None,
        warmup_steps: int | None = None,
        schedule: str = "linear",
        weight_decay: float = 0.0,
        max_grad_norm: float = 1.0,
        eval_every: int | None = None,
        early_stopping_patience: int | None = None,
        select_by: str = "rmse",
        max_eval_rows: int = 256,
        device: str = "auto",
        precision: str | None = None,
        bf16: bool | None = None,
        validation_fraction: float = 0.1,
        lora_rank: int = 0,
        lora_alpha: float | None = None,
        lora_targets: list[str] | None = None,
        gradient_checkpointing: bool = False,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 50,
        resume: bool = False,
        fsdp: bool = False,
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
        report_to: str = "none",
        report_dir: str | None = None,
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
        self.epochs = epochs
        self.warmup_steps = warmup_steps
        self.schedule = schedule
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.eval_every = eval_every
        self.early_stopping_patience = early_stopping_patience
        self.select_by = select_by
        self.max_eval_rows = max_eval_rows
        self.device, self.precision, self.bf16 = device, precision, bf16
        self.validation_fraction = validation_fraction
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_targets = lora_targets
        self.gradient_checkpointing = gradient_checkpointing
        self.checkpoint_dir, self.checkpoint_every = checkpoint_dir, checkpoint_every
        self.resume = resume
        self.fsdp = fsdp
        self.num_samples, self.temperature = num_samples, temperature
        self.normalize_grid, self.quantile = normalize_grid, quantile
        self.max_new_tokens = max_new_tokens
        self.trust_remote_code = trust_remote_code
        self.init_from = init_from
        self.tabular_options = tabular_options
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose
        self.report_to = report_to
        self.report_dir = report_dir

    # ------------------------------------------------------------------ configuration
    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Each parameter's default, from the signature of `__init__`."""
        signature = inspect.signature(cls.__init__)
        return {name: signature.parameters[name].default for name in cls._get_param_names()}

    def plan(self) -> RunPlan:
        """The run plan of the current parameters; a ConfigError names a bad option."""
        return resolve_plan(self.get_params(), self.param_defaults())

    def train_option(self, name: str) -> Any:
        """A training option: the value given, else the family's default for the objective,
        else TrainConfig's."""
        return train_option(self.get_params(), get_family(self.family), name)

    def train_config(self) -> TrainConfig:
        return self.plan().train

    def decode_config(self) -> DecodeConfig:
        return self.plan().decode

    def objective_name(self) -> str:
        """The objective used: the one given, else the family's default (raft, or ce)."""
        return self.plan().objective_name

    def decoder_name(self) -> str:
        """The decoder used: the one given, else the default for the objective."""
        return self.plan().decoder_name

    def build_objective(self):
        return self.plan().objective

    def build_decoder(self):
        return self.plan().decoder

    # ------------------------------------------------------------------------ fitting
    def fit(self, X, y, *, eval_set: tuple | None = None, source: str = PYTHON_SOURCE,
            on_evaluation: EvaluationHook | None = None):  # fmt: skip
        """Fit on inputs and numeric targets; returns self.

        Args:
            X: Texts (a list, Series or DataFrame using `text_column` or `feature_columns`)
                for causal LMs; a DataFrame or a 2-D numeric array-like for the tabular family.
            y: [N] numeric targets.
            eval_set: Optional (X_val, y_val) for checkpoint selection; otherwise a seeded
                `validation_fraction` of the rows is held out.
            source: Name used in error messages (the CLI passes the file path).
            on_evaluation: `on_evaluation(step, metrics)` after each validation pass of the
                training loop; an exception it raises ends the fit (`decoreg.tune` prunes so).
        """
        plan = self.plan()  # every option problem is raised here, before data is read
        inputs, targets, validation = fit_rows(self, plan, X, y, eval_set, source)
        with plan.torch_threads():
            fit_model(self, plan, inputs, targets, validation, on_evaluation)
        self.calibration_ = held_out_rows(validation)  # predict_interval's default rows
        return self

    # --------------------------------------------------------------------- predicting
    def predict(self, X) -> np.ndarray:
        """[N] predictions; rows the decoder could not read get the training median."""
        return with_fallback(self.predict_details(X), self.model_.fallback)

    def predict_details(self, X, *, source: str = PYTHON_SOURCE, seed: int | None = None):
        """Predictions with raw text and a parsed flag per row (raw space, NaN unparsed)."""
        self._require_fitted()
        plan = self.plan()
        return self._predict(plan, read_inputs(self, plan, X, source, fitting=False), seed)

    def input_texts(self, X, *, source: str = PYTHON_SOURCE):
        """The validated inputs the model reads for X: texts, or feature rows (tabular)."""
        return read_inputs(self, self.plan(), X, source, fitting=False)

    def predict_texts(self, texts, *, seed: int | None = None):
        """`predict_details` for inputs from `input_texts`; `seed` replaces `random_state`."""
        self._require_fitted()
        return self._predict(self.plan(), texts, seed)

    def _predict(self, plan: RunPlan, inputs, seed: int | None, *, output: str = "numbers"):
        """From the plan's decoder: predictions ("numbers"), each row's `Predictive`
        ("distribution"), or (predictions, distributions) from one decoding pass ("both")."""
        with plan.torch_threads():
            return predict_prepared(
                self.model_,
                plan.decoder,
                self.model_.prepare_inputs(inputs),
                output=output,
                batch_size=plan.predict_batch_size,
                seed=self.random_state if seed is None else seed,
                show_progress=self.verbose,
                description=f"predict{'' if output == 'numbers' else ' ' + output} "
                f"({plan.decoder_name})",
                precision=plan.train.precision,
                world=World.current(),  # under torchrun: the rows split across the processes
            )

    # ------------------------------------------------------------------------- saving
    def save(self, directory: str | Path, *, target_column: str | None = None) -> Path:
        """Write weights (safetensors) and a JSON of everything needed to predict again.

        Args:
            directory: Folder to write (created if needed).
            target_column: Recorded so that `decoreg evaluate` finds the targets by itself.
        """
        self._require_fitted()
        return saving.save(self, directory, target_column=target_column)

    @classmethod
    def load(cls, directory: str | Path, *, trust_remote_code: bool = False, device: str = "auto",
             precision: str | None = None) -> DecodingRegressor:  # fmt: skip
        """Read a folder written by `save` onto `device` (not the one it trained on) in
        `precision` (None: the saved one), predicting as the saved model did; checked first
        (`decoreg.causal_lm.folder_safety`): safetensors only, nothing leading outside it, and
        a model's own code only with `trust_remote_code=True` (never from the folder)."""
        trust, where = trust_remote_code, {"device": device, "precision": precision}
        return saving.load(cls, directory, trust_remote_code=trust, **where)

    # -------------------------------------------------------------------- scikit-learn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # Not non_deterministic: a fixed random_state gives the same fit and predictions.
        declare_input_tags(tags.input_tags, self.family, self.tabular_options)
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _require_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("this DecodingRegressor is not fitted yet; call fit first")
