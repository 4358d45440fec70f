"""Time and RMSE of three RAIL readouts on 1,000 clothing-review test rows (zero-shot SmolLM2).

Reports side by side (issue 5): `grid-mean` (one forward pass per batch, digits 1-5),
`sample-mean` with 32 samples (prompt encoded once, KV cache repeated), and the same sampling
done with Hugging Face `generate(num_return_sequences=32)`. `generate` costs ~30x more, so it
runs on the first `--generate-rows` rows only; the other two are also reported on that subset.
All three run under bf16 autocast with the same batches; unparseable rows get the training
median (4) and are counted.

Usage:
    flock /tmp/decoreg-cpu.lock python benchmarks/rail_decoders.py \
        [--rows 1000] [--generate-rows 64] [--batch-size 32] \
        [--output benchmarks/results/rail_decoders.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rail_common import command_line, machine_facts, review_model, rmse

from decoreg.causal_lm.decoding import DECODERS
from decoreg.causal_lm.numbers import parse_many
from decoreg.config import DecodeConfig
from decoreg.core import Batch, Predictions
from decoreg.inference import predict_prepared, with_fallback

FALLBACK = 4.0


@dataclass(frozen=True)
class GenerateSampleMean:
    """RAIL by sampling through `model.lm.generate` (the prompt is re-encoded per sample)."""

    num_samples: int = 32

    def __call__(self, model, batch: Batch, *, generator: torch.Generator) -> Predictions:
        ids, mask, _ = model.pad_left(batch.inputs)
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        out = model.lm.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            num_return_sequences=self.num_samples,
            max_new_tokens=model.max_number_tokens,
            pad_token_id=model.pad_id,
            eos_token_id=model.eos_id,
            top_k=0,
            top_p=1.0,
        )
        texts = model.tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
        values = np.full(len(batch.inputs), np.nan)
        for row in range(len(batch.inputs)):
            numbers, ok = parse_many(
                model.number_format, texts[row * self.num_samples : (row + 1) * self.num_samples]
            )
            if ok.any():
                values[row] = numbers[ok].mean()
        return Predictions(
            values=values, texts=texts[:: self.num_samples], parsed=~np.isnan(values)
        )


def run(model, decoder, inputs, targets, batch_size) -> dict:
    start = time.perf_counter()
    predictions = predict_prepared(
        model, decoder, inputs, batch_size=batch_size, precision="bf16-mixed"
    )
    seconds = time.perf_counter() - start
    y_pred = with_fallback(predictions, FALLBACK)
    return {
        "rows": len(inputs),
        "seconds": seconds,
        "seconds_per_row": seconds / len(inputs),
        "rmse": rmse(targets, y_pred),
        "unparseable": int((~predictions.parsed).sum()),
        "predictions": y_pred,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--generate-rows", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-prompt-tokens", type=int, default=128)
    parser.add_argument(
        "--output", type=Path, default=Path("benchmarks/results/rail_decoders.json")
    )
    args = parser.parse_args()
    model, data = review_model((1.0, 2.0, 3.0, 4.0, 5.0), 0, args.max_prompt_tokens)
    test = data.split("test").iloc[: args.rows]
    inputs = model.prepare_inputs(test[data.info.text_column].tolist())
    targets = test[data.info.target_column].to_numpy(float)
    config = DecodeConfig(num_samples=32)
    results = {
        "grid-mean": run(model, DECODERS["grid-mean"](config), inputs, targets, args.batch_size),
        "sample-mean (32)": run(
            model, DECODERS["sample-mean"](config), inputs, targets, args.batch_size
        ),
    }
    subset = args.generate_rows
    generated = run(
        model, GenerateSampleMean(32), inputs[:subset], targets[:subset], args.batch_size
    )
    table = {}
    for name, result in results.items():
        table[name] = {k: v for k, v in result.items() if k != "predictions"}
        table[name][f"rmse_on_first_{subset}"] = rmse(
            targets[:subset], result["predictions"][:subset]
        )
    table["generate sampling (32)"] = {k: v for k, v in generated.items() if k != "predictions"}
    table["generate sampling (32)"][f"rmse_on_first_{subset}"] = generated["rmse"]
    per_row = {name: row["seconds_per_row"] for name, row in table.items()}
    report = {
        "benchmark": "grid-mean vs sample-mean vs generate-based sampling, zero-shot",
        "command": command_line(),
        "machine": machine_facts(),
        "model": "smollm2-135m, zero-shot, bf16 autocast",
        "dataset": f"clothing-reviews test split, first {len(inputs)} rows (Rating 1-5)",
        "max_prompt_tokens": args.max_prompt_tokens,
        "results": table,
        "seconds_per_row_relative_to_grid_mean": {
            name: value / per_row["grid-mean"] for name, value in per_row.items()
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
