"""Shared fixtures: a character tokenizer and tiny Llama models built locally, no weights."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
import torch

SPECIALS = ["<pad>", "<eos>"]
CHARACTERS = list(string.ascii_letters + string.digits + string.punctuation + " \n")


def char_tokenizer():
    """One token per character; digits, '.', '-' and ' ' are single tokens like in SmolLM2."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS + CHARACTERS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<pad>"
    )


def tiny_llama(vocab_size: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config).float()


def pytest_report_header(config):
    # CI runs the suite at 1 and 2 threads (.ci/run): say which one this is.
    return f"torch intra-op threads: {torch.get_num_threads()}"


def gpu_tier_device_name() -> str:
    """The device the `gpu` tier compares with the CPU: DECOREG_TEST_DEVICE, default "cuda"
    (set it to "cpu" to run the tier's comparisons here)."""
    return os.environ.get("DECOREG_TEST_DEVICE", "cuda")


def pytest_collection_modifyitems(config, items):
    """`gpu` tests are skipped where their device is missing (CI: no CUDA)."""
    from decoreg.devices import resolve_device
    from decoreg.errors import ConfigError

    name = gpu_tier_device_name()
    try:
        resolve_device(name)
    except ConfigError as error:
        skip = pytest.mark.skip(reason=f"gpu tier: {error}")
        for item in items:
            if item.get_closest_marker("gpu") is not None:
                item.add_marker(skip)


@pytest.fixture
def tokenizer():
    return char_tokenizer()


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A local Hugging Face model folder holding a tiny random Llama and the char tokenizer."""
    tok = char_tokenizer()
    model = tiny_llama(len(tok))
    folder = tmp_path / "tiny-llama"
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _isolated_cache(request, tmp_path_factory, monkeypatch):
    """Fast tests never touch the user's cache; real-model and real-data tests share it (one
    conversion, one wheel download)."""
    shared = ("real_model", "real_data")
    if not any(request.node.get_closest_marker(m) for m in shared):
        monkeypatch.setenv("DECOREG_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and far slower when two threads fight a busy CPU.

    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`; the count is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def first_step_rollout(model, batch, num_samples=4, with_greedy=True, seed=0):
    """`(policy, rollout)`: the rollout an RL objective with this seed draws at its first step,
    for a model of either family (its `rl_policy()`)."""
    from decoreg.rl.rollout import input_uniforms

    policy = model.rl_policy()
    uniforms = input_uniforms(
        policy.input_keys(batch),
        seed=seed,
        step=1,
        num_samples=num_samples,
        num_steps=policy.num_steps(model),
    )
    rollout = policy.rollout(
        model,
        batch,
        num_samples=num_samples,
        with_greedy=with_greedy,
        temperature=1.0,
        uniforms=uniforms,
    )
    return policy, rollout


def tiny_lm_estimator(model_dir, **params):
    """A DecodingRegressor on the tiny local Llama: two fp32 steps of batch 4 at lr 1e-2,
    evaluated every step, quiet; `params` override these."""
    from decoreg.estimator import DecodingRegressor

    defaults = dict(
        template="Q: {text}\nA: ",
        max_steps=2,
        batch_size=4,
        eval_every=1,
        learning_rate=1e-2,
        bf16=False,
        verbose=False,
    )
    return DecodingRegressor(model=str(model_dir), **{**defaults, **params})


def save_untrained_sampler(model_dir, folder: Path, texts: list[str]) -> Path:
    """A sample-mean decoder (2 random draws a row, bf16 autocast) over the untrained tiny
    model, fitted on `texts[:20]` with no training step and saved to `folder`."""
    import numpy as np

    from decoreg.estimator import DecodingRegressor

    model = DecodingRegressor(
        model=str(model_dir),
        template="Q: {text}\nA: ",
        decoder="sample-mean",
        num_samples=2,
        max_steps=0,
        verbose=False,
    ).fit(texts[:20], np.arange(20) % 5 + 1.0)
    model.save(folder)
    return folder


def tiny_tabular_estimator(**params):
    """A quiet tabular DecodingRegressor small enough to train in a second: 6 steps of batch 8,
    evaluated every 3, 2 samples per row; `params` override these."""
    from decoreg.estimator import DecodingRegressor

    defaults = dict(
        family="tabular",
        max_steps=6,
        eval_every=3,
        batch_size=8,
        verbose=False,
        num_samples=2,
        tabular_options={"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
    )
    return DecodingRegressor(**{**defaults, **params})


def linear_rows(n: int = 40):
    """`(frame, y)`: one feature x evenly spaced over [0, 1] and y = 3x."""
    import numpy as np
    import pandas as pd

    x = np.linspace(0.0, 1.0, n)
    return pd.DataFrame({"x": x}), 3.0 * x
