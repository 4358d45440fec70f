"""`decoreg quickstart`: zero-shot vs RAFT fine-tuning on clothing reviews."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from decoreg.causal_lm.pretrained import DEFAULT_MODEL
from decoreg.cli.common import add_command, add_device_options
from decoreg.quickstart import run_quickstart

# The options `run_quickstart` takes; --output and --json are the command's own.
SETTINGS = ("model", "train_rows", "validation_rows", "test_rows", "max_steps", "batch_size",
            "learning_rate", "max_prompt_tokens", "seed", "device", "precision")  # fmt: skip


def add_quickstart_command(commands) -> None:
    summary = "zero-shot vs RAFT fine-tuning on clothing reviews (about 10 minutes on 2 cores)"
    p = add_command(commands, "quickstart", run, summary, description=run.__doc__)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--train-rows", type=int, default=1200)
    p.add_argument("--validation-rows", type=int, default=64)
    p.add_argument("--test-rows", type=int, default=300)
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--max-prompt-tokens", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    add_device_options(p, saved=False)
    p.add_argument("--output", type=Path, help="also save the fine-tuned model here")
    p.add_argument("--json", type=Path, help="write the measured figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    """On the embedded model and the clothing reviews (1-5 stars): report the zero-shot
    grid-mean RMSE on a test sample, fine-tune with RAFT on a training sample, and report the
    test RMSE after. Defaults fit in about 10 minutes on 2 CPU cores."""
    settings = {k: v for k, v in vars(args).items() if k != "handler"}  # --json records them
    result = run_quickstart(**{name: settings[name] for name in SETTINGS})
    if args.output:
        result.model.save(args.output)
        print(f"saved the fine-tuned model to {args.output}")
    if args.json:
        figures = {
            "zero_shot": result.zero_shot,
            "fine_tuned": result.fine_tuned,
            "wall_seconds": result.wall_seconds,
            "settings": settings,
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0
