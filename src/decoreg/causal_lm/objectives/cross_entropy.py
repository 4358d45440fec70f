"""Token cross-entropy on the target number's tokens only; the prompt is masked out."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from decoreg.core import Batch, Objective

IGNORE = -100


@dataclass(frozen=True)
class CrossEntropy(Objective):
    """Mean cross-entropy over the tokens of str(y) and the end-of-sequence token."""

    def __call__(self, model, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        targets = [model.target_token_ids(z) for z in batch.targets.tolist()]
        sequences = [prompt + answer for prompt, answer in zip(batch.inputs, targets, strict=True)]
        labels = answer_labels(targets, model.device)  # [B, L]
        width = labels.shape[1]
        logits = model.forward_logits(sequences, keep_last=width + 1)[:, :-1]  # [B, L, V]
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
        )
        with torch.no_grad():
            kept = labels != IGNORE
            accuracy = (logits.argmax(-1) == labels)[kept].float().mean()
        return loss, {"loss": float(loss.detach()), "token_accuracy": float(accuracy)}


def answer_labels(answers: list[list[int]], device: torch.device) -> Tensor:
    """Right-aligned labels for left-padded sequences ending with each answer, [B, L], made
    on `device`.

    Columns before a row's answer hold IGNORE, so only the answer tokens are scored.
    """
    width = max(len(a) for a in answers)
    rows = [[IGNORE] * (width - len(answer)) + list(answer) for answer in answers]
    return torch.tensor(rows, dtype=torch.long, device=device)
