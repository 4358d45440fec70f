"""Command-line pieces for scale and reliability: LoRA, checkpoints, resumable prediction,
data-parallel launches and `decoreg merge`.

`decoreg.cli` adds these options to its commands; the handlers here hold no logic beyond
reading flags and calling the library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from decoreg.atomic_files import remove_stale_temporaries
from decoreg.checkpoint import Checkpointer, checkpoint_name
from decoreg.config import TrainConfig
from decoreg.distributed import World, launched_world_size
from decoreg.errors import ConfigError
from decoreg.incremental import write_incrementally
from decoreg.inference import take_rows

CHECKPOINTS_SUFFIX = ".checkpoints"
DEFAULT_CHUNK_ROWS = 1000


# ----------------------------------------------------------------------------- train
def add_train_options(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    g = p.add_argument_group("LoRA, checkpoints and large models")
    g.add_argument(
        "--lora-rank",
        type=int,
        default=0,
        help="train LoRA adapters of this rank instead of every weight (default 0: off)",
    )
    g.add_argument("--lora-alpha", type=float, help="LoRA scale numerator (default 2 x rank)")
    g.add_argument(
        "--lora-targets",
        help="comma-separated module names LoRA adapts, e.g. q_proj,v_proj (default: every "
        "linear layer but the output)",
    )
    g.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute activations in the backward pass (less memory, ~30%% more time)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=int,
        default=defaults.checkpoint_every,
        help=f"write a kill-safe checkpoint every N steps (default {defaults.checkpoint_every}; "
        "0: never)",
    )
    g.add_argument(
        "--checkpoint-dir",
        type=Path,
        help=f"checkpoint folder (default: OUTPUT{CHECKPOINTS_SUFFIX} next to the output); "
        "deleted once the model is saved",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest checkpoint (same command and data; from step 1 if none)",
    )


def checkpoint_dir(args) -> Path:
    return args.checkpoint_dir or args.output.with_name(args.output.name + CHECKPOINTS_SUFFIX)


def train_params(args) -> dict:
    """The estimator parameters these options set."""
    targets = None
    if args.lora_targets is not None:
        targets = [t.strip() for t in args.lora_targets.split(",") if t.strip()]
    return {
        "lora_rank": args.lora_rank,
        "lora_alpha": args.lora_alpha,
        "lora_targets": targets,
        "gradient_checkpointing": args.gradient_checkpointing,
        "checkpoint_dir": str(checkpoint_dir(args)),
        "checkpoint_every": args.checkpoint_every,
        "resume": args.resume,
    }


def remove_checkpoints(args) -> None:
    """Delete this run's checkpoint files (rank 0, after the model is saved)."""
    folder = checkpoint_dir(args)
    checkpointer = Checkpointer(folder, World())
    for step in checkpointer.steps():
        (folder / checkpoint_name(step)).unlink(missing_ok=True)
    if folder.is_dir():
        remove_stale_temporaries(folder)
        if not any(folder.iterdir()):
            folder.rmdir()  # a folder holding anything else is left alone


def refuse_distributed(command: str) -> None:
    """predict/evaluate run in one process; under torchrun every rank would redo all the work."""
    if launched_world_size() > 1:
        raise ConfigError(
            f"`decoreg {command}` runs in a single process; launch it without torchrun or "
            "accelerate (only `decoreg train` is data-parallel)"
        )


# --------------------------------------------------------------------------- predict
def add_predict_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("large files")
    g.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        help=f"rows predicted and appended to the output at a time (default {DEFAULT_CHUNK_ROWS})",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run's output file: keep its complete rows, predict the rest",
    )
    add_trust_option(p)


def add_trust_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let the model folder run its own code (off by default)",
    )


def run_incremental_predict(args, estimator, frame: pd.DataFrame, quantiles) -> int:
    """Predict every row of `frame` into args.output chunk by chunk (resumable)."""
    source = str(args.data)
    inputs = estimator.input_texts(frame, source=source)  # texts, or feature rows (tabular)

    def predict_chunk(start: int, stop: int, seed: int) -> pd.DataFrame:
        details = estimator.predict_texts(take_rows(inputs, np.arange(start, stop)), seed=seed)
        out = pd.DataFrame(
            {
                "row": np.arange(start, stop),
                "prediction": details.values,
                "parsed": details.parsed,
                "text": details.texts,
            }
        )
        if quantiles:
            bounds = estimator.predict_quantiles(frame.iloc[start:stop], quantiles=quantiles)
            for column, level in enumerate(quantiles):
                out[f"q{level:g}"] = bounds[:, column]
        return out

    fingerprint = {
        "data": str(Path(args.data).resolve()),
        "inputs_sha256": _digest(inputs),
        "model_dir": str(Path(args.model_dir).resolve()),
        "model_meta_sha256": _file_digest(Path(args.model_dir) / "decoreg.json"),
        "decoder": estimator.decoder_name(),
        "decode": estimator.decode_config().to_dict(),
        "quantiles": list(quantiles or []),
    }
    summary = write_incrementally(
        args.output,
        len(inputs),
        predict_chunk,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
        fingerprint=fingerprint,
        seed=estimator.random_state,
    )
    parsed = pd.read_csv(args.output, usecols=["parsed"])["parsed"].astype(bool)
    kept = f", {summary.resumed_from} kept from before" if summary.resumed_from else ""
    print(
        f"wrote {summary.rows} predictions to {args.output} ({int((~parsed).sum())} "
        f"unparseable{kept})"
    )
    return 0


def _digest(inputs) -> str:
    """SHA-256 of the model inputs: a list of texts or a frame of feature rows."""
    digest = hashlib.sha256()
    if isinstance(inputs, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(inputs, index=False).to_numpy().tobytes())
        return digest.hexdigest()
    for text in inputs:
        digest.update(str(text).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


# ----------------------------------------------------------------------------- merge
def add_merge_command(commands) -> None:
    p = commands.add_parser(
        "merge",
        help="fold a LoRA model's adapters into its weights and save a plain model",
        description="Read the LoRA model folder MODEL_DIR (from `decoreg train --lora-rank`), "
        "add the adapters' updates to the base weights and write a plain model folder to "
        "OUTPUT that predicts the same.",
    )
    p.add_argument("model_dir", type=Path, help="a LoRA model folder written by decoreg train")
    p.add_argument("output", type=Path, help="folder to write the merged model to")
    add_trust_option(p)
    p.set_defaults(handler=_run_merge)


def _run_merge(args) -> int:
    from decoreg.causal_lm.lora import is_lora
    from decoreg.estimator import DecodingRegressor

    estimator = DecodingRegressor.load(args.model_dir, trust_remote_code=args.trust_remote_code)
    lm = getattr(estimator.model_, "lm", None)
    if lm is None or not is_lora(lm):
        raise ConfigError(f"{args.model_dir} holds no LoRA adapters; there is nothing to merge")
    estimator.model_.merge_lora()
    estimator.set_params(lora_rank=0, lora_alpha=None, lora_targets=None)
    meta = json.loads((args.model_dir / "decoreg.json").read_text())
    estimator.save(args.output, target_column=meta.get("target_column"))
    print(f"merged the LoRA adapters into {args.output}")
    return 0
