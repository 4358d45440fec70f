"""LoRA adapters, merging and gradient checkpointing on a tiny Llama."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from decoreg.causal_lm.build import LMOptions, build_causal_lm
from decoreg.causal_lm.lora import LoraOptions, apply_lora, enable_gradient_checkpointing, is_lora
from decoreg.causal_lm.objectives import Raft
from decoreg.cli import main
from decoreg.errors import ConfigError
from decoreg.estimator import DecodingRegressor
from tests.conftest import char_tokenizer, tiny_llama, tiny_lm_estimator

TEXTS = [f"item {i} is {'good' if i % 2 else 'bad'}" for i in range(24)]
TARGETS = np.array([4.0 if i % 2 else 2.0 for i in range(24)])


def lora_estimator(model_dir, **params) -> DecodingRegressor:
    lora = dict(max_steps=3, learning_rate=5e-2, lora_rank=2, lora_targets=["q_proj", "v_proj"])
    return tiny_lm_estimator(model_dir, **{**lora, **params})


def test_lora_trains_only_the_adapters(tiny_model_dir):
    """hidden 16, 2 layers, rank 2 on q_proj and v_proj (16 -> 16 each): every adapted module
    has A [2, 16] and B [16, 2], 64 weights; 2 modules x 2 layers = 256 trainable weights."""
    zero_shot = lora_estimator(tiny_model_dir, max_steps=0).fit(TEXTS, TARGETS)
    est = lora_estimator(tiny_model_dir, validation_fraction=0.0).fit(TEXTS, TARGETS)
    trainable = {n: p for n, p in est.model_.named_parameters() if p.requires_grad}
    assert sum(p.numel() for p in trainable.values()) == 256
    assert all("lora_" in n for n in trainable)
    before = dict(zero_shot.model_.named_parameters())
    changed = {n for n, p in est.model_.named_parameters() if not torch.equal(p, before[n])}
    assert changed == set(trainable)


def test_saved_lora_model_loads_and_predicts_identically(tiny_model_dir, tmp_path):
    est = lora_estimator(tiny_model_dir).fit(TEXTS, TARGETS)
    before = est.predict(TEXTS)
    est.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "lora" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "saved" / "lm" / "model.safetensors").is_file()
    loaded = DecodingRegressor.load(tmp_path / "saved")
    assert is_lora(loaded.model_.lm)
    np.testing.assert_array_equal(loaded.predict(TEXTS), before)


def test_the_base_weights_saved_are_the_untouched_base(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    est = lora_estimator(tiny_model_dir).fit(TEXTS, TARGETS)
    est.save(tmp_path / "saved")
    saved = load_file(tmp_path / "saved" / "lm" / "model.safetensors")
    original = load_file(tiny_model_dir / "model.safetensors")
    assert saved.keys() == original.keys()
    assert all(torch.equal(saved[k], original[k]) for k in original)


def test_merged_model_is_plain_and_predicts_the_same(tiny_model_dir, tmp_path):
    """Merging adds B @ A * alpha / r to each adapted weight: the same function up to float32
    rounding of one addition per weight."""
    est = lora_estimator(tiny_model_dir).fit(TEXTS, TARGETS)
    before = est.predict(TEXTS)
    est.model_.merge_lora()
    assert not is_lora(est.model_.lm)
    assert not any("lora_" in n for n, _ in est.model_.named_parameters())
    np.testing.assert_allclose(est.predict(TEXTS), before, rtol=0, atol=1e-5)


def test_cli_trains_with_lora_and_merges(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "rows.csv"
    pd.DataFrame({"text": TEXTS, "y": TARGETS}).to_csv(data, index=False)
    out, merged = tmp_path / "lora-model", tmp_path / "merged"
    args = ["train", str(data), "--target-column", "y", "--model", str(tiny_model_dir)]
    args += ["--output", str(out), "--max-steps", "2", "--batch-size", "4", "--no-bf16"]
    args += ["--template", "Q: {text}\nA: ", "--lora-rank", "2", "--lora-alpha", "8"]
    args += ["--lora-targets", "q_proj,o_proj", "--learning-rate", "0.05"]
    assert main(args) == 0
    config = json.loads((out / "lora" / "adapter_config.json").read_text())
    assert config["r"] == 2 and config["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == ["o_proj", "q_proj"]
    assert main(["merge", str(out), str(merged)]) == 0
    assert not (merged / "lora").exists()
    assert json.loads((merged / "decoreg.json").read_text())["params"]["lora_rank"] == 0
    for folder, name in ((out, "a.csv"), (merged, "b.csv")):
        assert main(["predict", str(folder), str(data), "--output", str(tmp_path / name)]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    np.testing.assert_allclose(a["prediction"], b["prediction"], rtol=0, atol=1e-5)
    capsys.readouterr()
    assert main(["merge", str(merged), str(tmp_path / "again")]) == 2
    assert "holds no LoRA adapters" in capsys.readouterr().err


def test_unknown_lora_targets_name_the_linear_layers():
    tok = char_tokenizer()
    with pytest.raises(ConfigError, match=r"match no module.*'q_proj'.*'v_proj'"):
        apply_lora(tiny_llama(len(tok)), LoraOptions(rank=2, targets=("qkv",)), seed=0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lora_rank": -1}, "lora_rank must be >= 0"),
        ({"lora_rank": 2, "lora_alpha": 0.0}, "lora_alpha must be > 0"),
        ({"lora_rank": 2, "lora_targets": []}, "lora_targets needs at least one"),
    ],
)
def test_bad_lora_options_fail_before_any_model_is_loaded(params, message):
    est = DecodingRegressor(model="/does/not/exist", **params)
    with pytest.raises(ConfigError, match=message):
        est.fit(["a", "b"], [1.0, 2.0])


@pytest.mark.parametrize("lora", [False, True])
def test_gradient_checkpointing_gives_the_same_gradients(tiny_model_dir, lora):
    """Recomputing activations in backward is the same arithmetic: equal gradients."""
    options = LMOptions(
        model=str(tiny_model_dir),
        template="Q: {text}\nA: ",
        lora=LoraOptions(rank=2) if lora else None,
    )
    plain = build_causal_lm(options, TARGETS)
    checkpointed = build_causal_lm(options, TARGETS)
    enable_gradient_checkpointing(checkpointed.lm)
    assert any(getattr(m, "gradient_checkpointing", False) for m in checkpointed.modules())
    grads = []
    for model in (plain, checkpointed):
        model.train()
        batch = model.make_batch(model.prepare_inputs(TEXTS[:6]), TARGETS[:6])
        loss, _ = Raft()(model, batch)
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-5, atol=1e-7)
