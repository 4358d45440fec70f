"""`decoreg quickstart`: zero-shot vs RAFT fine-tuning of the embedded model on real reviews."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from decoreg.causal_lm.pretrained import DEFAULT_MODEL
from decoreg.datasets import load_dataset
from decoreg.estimator import DecodingRegressor

DATASET = "clothing-reviews"


def add_quickstart_command(commands) -> None:
    p = commands.add_parser(
        "quickstart",
        help="zero-shot vs RAFT fine-tuning on clothing reviews (about 10 minutes on 2 cores)",
        description="On the embedded model and the clothing reviews (1-5 stars): report the "
        "zero-shot grid-mean RMSE on a test sample, fine-tune with RAFT on a training sample, "
        "and report the test RMSE after. Defaults fit in about 10 minutes on 2 CPU cores.",
    )
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--train-rows", type=int, default=1200)
    p.add_argument("--validation-rows", type=int, default=64)
    p.add_argument("--test-rows", type=int, default=300)
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--max-prompt-tokens", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, help="also save the fine-tuned model here")
    p.add_argument("--json", type=Path, help="write the measured figures to this JSON file")
    p.set_defaults(handler=run_quickstart)


def run_quickstart(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    data = load_dataset(DATASET, seed=args.seed)
    info = data.info
    train = data.split("train").iloc[: args.train_rows]
    validation = data.split("validation").iloc[: args.validation_rows]
    test = data.split("test").iloc[: args.test_rows]
    print(f"{DATASET}: {len(train)} training, {len(validation)} validation, {len(test)} test rows")
    common = dict(
        model=args.model,
        objective="raft",
        decoder="grid-mean",
        text_column=info.text_column,
        template=info.template,
        max_prompt_tokens=args.max_prompt_tokens,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        random_state=args.seed,
        eval_every=25,
        max_eval_rows=args.validation_rows,
    )
    y_train = train[info.target_column].to_numpy(float)
    y_test = test[info.target_column].to_numpy(float)

    zero_shot = DecodingRegressor(**common, max_steps=0).fit(train, y_train)
    before = zero_shot.evaluate(test, y_test)
    print(f"zero-shot grid-mean test RMSE: {before['rmse']:.4f}")
    del zero_shot

    tuned = DecodingRegressor(**common, max_steps=args.max_steps)
    tuned.fit(train, y_train, eval_set=(validation, validation[info.target_column].to_numpy(float)))
    after = tuned.evaluate(test, y_test)
    seconds = time.perf_counter() - start
    print(
        f"RAFT fine-tuned ({args.max_steps} steps, best step "
        f"{tuned.train_result_.best_step}) grid-mean test RMSE: {after['rmse']:.4f}"
    )
    print(
        f"test RMSE {before['rmse']:.4f} -> {after['rmse']:.4f} "
        f"(R^2 {before['r2']:.3f} -> {after['r2']:.3f}); wall time {seconds:.0f} s"
    )
    if args.output:
        tuned.save(args.output)
        print(f"saved the fine-tuned model to {args.output}")
    if args.json:
        figures = {
            "zero_shot": before,
            "fine_tuned": after,
            "wall_seconds": seconds,
            "settings": {k: v for k, v in vars(args).items() if k not in ("handler",)},
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0
