"""The `decoreg` command line: train | predict | evaluate | models | quickstart | bench |
datasets."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from decoreg import cli_scale
from decoreg.causal_lm.heads import HEAD_KINDS
from decoreg.causal_lm.methods import INIT_CHOICES, PAPER_METHODS, method_params
from decoreg.causal_lm.pretrained import BUILTIN_MODELS, DEFAULT_MODEL
from decoreg.config import TrainConfig
from decoreg.data import numeric_targets, read_table
from decoreg.distributed import init_from_environment
from decoreg.errors import DecoregError
from decoreg.estimator import DecodingRegressor
from decoreg.families import FAMILIES
from decoreg.metrics import METRIC_NAMES

METRICS_FILE = "metrics.json"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return args.handler(args)
    except DecoregError as error:
        print(f"decoreg: error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decoreg",
        description="Decoding-based regression: language models that predict numbers by "
        "writing them, fine-tuned with cross-entropy or RAFT.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(commands)
    _add_predict(commands)
    _add_evaluate(commands)
    models = commands.add_parser("models", help="list the built-in pretrained models")
    models.set_defaults(handler=_run_models)
    from decoreg.quickstart import add_quickstart_command

    add_quickstart_command(commands)
    from decoreg.bench.command import add_bench_command, add_datasets_command

    add_bench_command(commands)
    add_datasets_command(commands)
    cli_scale.add_merge_command(commands)
    return parser


# --------------------------------------------------------------------------------- train
def _add_train(commands) -> None:
    p = commands.add_parser(
        "train",
        help="fine-tune a model on a data file and save it",
        description="Fine-tune on DATA (CSV, TSV, JSONL or Parquet) and save a model folder "
        "plus metrics.json. Without --validation a seeded share of DATA is held out to keep "
        "the checkpoint with the best validation RMSE.",
    )
    p.add_argument("data", type=Path, help="training rows")
    _add_column_options(p)
    p.add_argument("--target-column", required=True, help="numeric column to predict")
    p.add_argument("--output", type=Path, required=True, help="folder to write the model to")
    p.add_argument("--validation", type=Path, help="validation rows (same columns)")
    p.add_argument("--family", default="causal-lm", choices=sorted(FAMILIES))
    p.add_argument(  # no default here: the tabular family refuses a model (it builds its own)
        "--model", help=f"built-in name or local HF folder (default {DEFAULT_MODEL})"
    )
    p.add_argument(
        "--method",
        choices=sorted(PAPER_METHODS),
        help="a RAFT-paper method by name (sets objective/decoder/head/init/max-steps)",
    )
    p.add_argument(
        "--objective",
        help="training objective (default raft for causal LMs, ce for --family tabular); "
        "RL: remax, grpo, rloo, genre2 (with --init-from)",
    )
    p.add_argument(
        "--init-from",
        type=Path,
        help="start from a saved model folder (e.g. a CE model for RL) instead of a new one",
    )
    p.add_argument(
        "--objective-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an objective option, e.g. normalize=true, or for RL num_samples=8, "
        "reward=gaussian, reward_sigma=0.1, expert_weight=0.05 (repeatable)",
    )
    p.add_argument(
        "--tabular-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tabular model option with --family tabular, e.g. d_model=64, layers=2, "
        "nan_policy=impute, tokenizer=p10, tokenizer_options='{\"digits\": 4}' (JSON for { or "
        "[; repeatable; see TabularModelConfig)",
    )
    p.add_argument(
        "--decoder", help="how numbers are read out (default grid-mean; head objectives: head)"
    )
    p.add_argument("--head", choices=list(HEAD_KINDS), help="predictive head (objective head)")
    p.add_argument("--special-token", help="token whose logit the 'token' head reads (def. EOS)")
    p.add_argument(
        "--init", choices=list(INIT_CHOICES), help="pretrained weights (default) or random"
    )
    p.add_argument("--template", help="prompt template with {text}, ending with a space")
    p.add_argument(
        "--grid",
        help="grid values: start:stop:step (e.g. 0:5:0.1) or comma-separated (default: the "
        "digits over the targets)",
    )
    p.add_argument("--decimals", type=int, help="decimals when writing targets")
    p.add_argument("--scale-targets", default="auto", choices=["auto", "always", "never"])
    p.add_argument("--max-prompt-tokens", type=int, default=256)
    defaults, tabular = TrainConfig(), FAMILIES["tabular"].train_defaults

    def family_default(name: str) -> str:
        return f"default {getattr(defaults, name)}; --family tabular: {tabular[name]}"

    p.add_argument(
        "--max-steps",
        type=int,
        help=f"optimizer steps ({family_default('max_steps')}); 0 saves the zero-shot model",
    )
    p.add_argument("--learning-rate", type=float, help=family_default("learning_rate"))
    p.add_argument("--batch-size", type=int, help=family_default("batch_size"))
    p.add_argument("--grad-accum-steps", type=int, default=defaults.grad_accum_steps)
    p.add_argument("--warmup-steps", type=int, help=family_default("warmup_steps"))
    p.add_argument(
        "--schedule", default=defaults.schedule, choices=["constant", "linear", "cosine"]
    )
    p.add_argument("--eval-every", type=int, help=family_default("eval_every"))
    p.add_argument(
        "--early-stopping-patience",
        type=int,
        help=f"evaluations without a better validation RMSE before stopping, 0: never "
        f"({family_default('early_stopping_patience')})",
    )
    p.add_argument(
        "--select-by",
        default=defaults.select_by,
        choices=["rmse", "mae", "reward"],
        help="validation score that keeps the best checkpoint and drives early stopping; "
        "'reward' (the RL objectives' mean reward of the decoded predictions) is higher-better",
    )
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--no-bf16", action="store_true", help="train in fp32 instead of bf16")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a local model folder run its own code (off by default)",
    )
    p.add_argument("--seed", type=int, default=0)
    cli_scale.add_train_options(p)
    _add_decode_options(p)
    p.set_defaults(handler=_run_train)


def _run_train(args) -> int:
    world = init_from_environment()  # joins the process group under torchrun/accelerate
    method = _method_choices(args)
    frame = read_table(args.data)
    targets = numeric_targets(frame, args.target_column, str(args.data))
    eval_set = None
    if args.validation is not None:
        val_frame = read_table(args.validation)
        eval_set = (val_frame, numeric_targets(val_frame, args.target_column, str(args.validation)))
    estimator = DecodingRegressor(
        model=args.model,
        objective=method["objective"],
        decoder=method["decoder"],
        head=method["head"],
        special_token=args.special_token,
        init=method["init"],
        family=args.family,
        text_column=args.text_column,
        feature_columns=_split(args.feature_columns),
        template=args.template,
        decimals=args.decimals,
        grid=args.grid,
        scale_targets=args.scale_targets,
        max_prompt_tokens=args.max_prompt_tokens,
        objective_options=_parse_options(args.objective_option),
        tabular_options=_parse_options(args.tabular_option),
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        grad_accum_steps=args.grad_accum_steps,
        max_steps=method["max_steps"],
        warmup_steps=args.warmup_steps,
        schedule=args.schedule,
        eval_every=args.eval_every,
        early_stopping_patience=args.early_stopping_patience,
        select_by=args.select_by,
        validation_fraction=args.validation_fraction,
        bf16=False if args.no_bf16 else None,  # None: the family's default
        trust_remote_code=args.trust_remote_code,
        init_from=None if args.init_from is None else str(args.init_from),
        random_state=args.seed,
        **cli_scale.train_params(args),
        **_decode_params(args),
    )
    estimator.fit(
        frame.drop(columns=[args.target_column]),
        targets,
        eval_set=_drop_target(eval_set, args.target_column),
        source=str(args.data),
    )
    if world.rank != 0:
        return 0  # data-parallel: rank 0 saves and reports
    estimator.save(args.output, target_column=args.target_column)
    cli_scale.remove_checkpoints(args)
    result = estimator.train_result_
    metrics = {
        "steps_run": result.steps_run,
        "best_step": result.best_step,
        "best_validation": result.best_validation,
        "evaluations": result.evaluations,
        "train_seconds": result.seconds,
        "train_rows": estimator.n_train_rows_,
        "log": result.log,
    }
    (args.output / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    print(f"saved the model to {args.output}")
    if result.best_validation is not None:
        print(_table({f"validation (step {result.best_step})": result.best_validation}))
    return 0


# ------------------------------------------------------------------------ predict/evaluate
def _add_predict(commands) -> None:
    p = commands.add_parser("predict", help="write predictions for a data file")
    p.add_argument("model_dir", type=Path, help="a folder written by `decoreg train`")
    p.add_argument("data", type=Path, help="rows to predict")
    p.add_argument("--output", type=Path, required=True, help="CSV: row, prediction, text")
    p.add_argument("--decoder", help="override the saved decoder")
    p.add_argument(
        "--quantiles",
        help="also write these quantiles of each prediction, e.g. 0.1,0.9 for an interval "
        "(grid-* and sample-* decoders)",
    )
    cli_scale.add_predict_options(p)
    _add_decode_options(p, defaults=False)
    p.set_defaults(handler=_run_predict)


def _run_predict(args) -> int:
    estimator = _load(args)
    frame = read_table(args.data)
    levels = [float(q) for q in _split(args.quantiles)] if args.quantiles else None
    return cli_scale.run_incremental_predict(args, estimator, frame, levels)


def _add_evaluate(commands) -> None:
    p = commands.add_parser("evaluate", help="print metrics of a saved model on a data file")
    p.add_argument("model_dir", type=Path, help="a folder written by `decoreg train`")
    p.add_argument("data", type=Path, help="rows with targets")
    p.add_argument("--target-column", help="default: the column used in training")
    p.add_argument("--decoder", help="override the saved decoder")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    cli_scale.add_trust_option(p)
    _add_decode_options(p, defaults=False)
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(args) -> int:
    estimator = _load(args)
    frame = read_table(args.data)
    target_column = args.target_column or _saved_target_column(args.model_dir)
    targets = numeric_targets(frame, target_column, str(args.data))
    metrics = estimator.evaluate(frame, targets, source=str(args.data))
    print(json.dumps(metrics, indent=2) if args.json else _table({str(args.data): metrics}))
    return 0


def _run_models(args) -> int:
    import importlib.util

    for name, entry in BUILTIN_MODELS.items():
        installed = importlib.util.find_spec(entry.module) is not None
        status = "installed" if installed else f"missing: {entry.install}"
        marker = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{marker}\n  {entry.description}\n  licence: {entry.license}; {status}")
    print("Any local Hugging Face model folder also works: --model PATH")
    return 0


# ------------------------------------------------------------------------------ helpers
def _add_column_options(p) -> None:
    p.add_argument("--text-column", help="column holding the input text")
    p.add_argument("--feature-columns", help="comma-separated columns serialized as text")


def _add_decode_options(p, defaults: bool = True) -> None:
    g = p.add_argument_group("decoding")
    g.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help="samples per input for sample-* decoders (default 32 for causal LMs, 128 for "
        "the tabular family)",
    )
    g.add_argument(
        "--temperature",
        type=float,
        default=1.0 if defaults else None,
        help="sampling temperature (default 1.0; 0 is greedy)",
    )
    g.add_argument(
        "--quantile",
        type=float,
        default=0.5 if defaults else None,
        help="quantile reported by *-quantile decoders",
    )
    g.add_argument(
        "--no-normalize-grid",
        action="store_true",
        help="do not renormalize grid probabilities in grid decoders",
    )


def _decode_params(args) -> dict:
    params = {
        "num_samples": args.num_samples,
        "temperature": args.temperature,
        "quantile": args.quantile,
    }
    params = {k: v for k, v in params.items() if v is not None}
    if args.no_normalize_grid:
        params["normalize_grid"] = False
    return params


def _method_choices(args) -> dict:
    """Objective, decoder, head, init and steps: from --method, checked against explicit flags."""
    given = {
        "objective": args.objective,
        "decoder": args.decoder,
        "head": args.head,
        "init": args.init,
        "max_steps": args.max_steps,
    }
    chosen = method_params(args.method, given) if args.method else dict(given)
    # No objective or max_steps default here: the estimator picks the family's.
    defaults = {"init": "pretrained"}
    return {key: defaults.get(key) if chosen.get(key) is None else chosen[key] for key in given}


def _load(args) -> DecodingRegressor:
    cli_scale.refuse_distributed(args.command)
    estimator = DecodingRegressor.load(args.model_dir, trust_remote_code=args.trust_remote_code)
    overrides = _decode_params(args)
    if args.decoder:
        overrides["decoder"] = args.decoder
    return estimator.set_params(**overrides)


def _saved_target_column(model_dir: Path) -> str:
    saved = json.loads((model_dir / "decoreg.json").read_text()).get("target_column")
    if not saved:
        raise DecoregError(f"{model_dir} does not record a target column: pass --target-column")
    return saved


def _drop_target(eval_set, column):
    if eval_set is None:
        return None
    return eval_set[0].drop(columns=[column]), eval_set[1]


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _parse_options(pairs: list[str]) -> dict | None:
    options = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise DecoregError(f"options are given as KEY=VALUE, got {pair!r}")
        options[key.strip()] = _literal(raw.strip())
    return options or None


def _literal(raw: str):
    """true/false, an int, a float, JSON for a value starting with { or [ (e.g.
    tokenizer_options={"digits": 4}), else the text itself."""
    if raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError as error:
            raise DecoregError(f"option value {raw!r} is not valid JSON: {error}") from None
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def _table(rows: dict[str, dict[str, float]]) -> str:
    """A plain-text metrics table: one row per data set, one column per metric."""
    header = ["data", *METRIC_NAMES, "n"]
    lines = [header]
    for name, metrics in rows.items():
        lines.append(
            [name, *[_fmt(metrics.get(m)) for m in METRIC_NAMES], str(int(metrics.get("n", 0)))]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
