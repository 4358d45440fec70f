"""Predictive heads on a causal LM: numbers read from the network without decoding.

Each head maps prompts to one number per row (in target space) and is trained with squared
error, with the LM fully fine-tuned underneath (the RAFT paper's predictive-head baselines
and learnable RAFT):

| kind | prediction |
|---|---|
| `token` | b + logit of a special token v* at the last prompt position |
| `mean` | w . mean over the prompt's positions of the final hidden states + b |
| `mlp` | a 2-layer MLP on the final-token logits |
| `learnable-grid` | sum_g p(str(g) \\| x) w_g, w starting at the grid values (RAFT at step 0) |
| `learnable-vocab` | sum_v p(v \\| x) w_v, w_v starting at g on g's token, 0 elsewhere |

A head's parameters live in the regressor module (so the training loop updates them) and are
saved next to the LM in `head.safetensors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from decoreg.devices import HOST
from decoreg.errors import ConfigError, require

HEAD_KINDS = ("token", "mean", "mlp", "learnable-grid", "learnable-vocab")
HEAD_FILE = "head.safetensors"


@dataclass(frozen=True)
class HeadSpec:
    """Which head a regressor carries.

    Attributes:
        kind: One of HEAD_KINDS.
        special_token: For `token`: the token whose logit is read (default: the tokenizer's
            end-of-sequence token). It must be a single token of the tokenizer.
        mlp_hidden: For `mlp`: width of the hidden layer.
    """

    kind: str
    special_token: str | None = None
    mlp_hidden: int = 128

    def __post_init__(self) -> None:
        kind = self.kind
        require(kind in HEAD_KINDS, f"unknown head {kind!r}; choose from {list(HEAD_KINDS)}")
        require(self.mlp_hidden >= 1, f"mlp_hidden must be >= 1, got {self.mlp_hidden}")
        require(
            self.special_token is None or kind == "token",
            f"special_token applies to the 'token' head, not {kind!r}",
        )


class TokenLogitHead(nn.Module):
    """b + f_out(x)[v*]: the special token's logit at the last prompt position."""

    def __init__(self, token_id: int) -> None:
        super().__init__()
        self.token_id = token_id
        self.bias = nn.Parameter(torch.zeros((), device=HOST))  # placed with the model

    def forward(self, model, prompts: Sequence[list[int]]) -> Tensor:  # [B]
        logits = model.forward_logits(prompts, keep_last=1)[:, -1]  # [B, V]
        return self.bias + logits[:, self.token_id].float()


class MeanPooledHead(nn.Module):
    """w . mean_t h_t + b over the real (non-padding) positions of the final hidden states."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)  # random weights: gradients reach the LM at once

    def forward(self, model, prompts: Sequence[list[int]]) -> Tensor:  # [B]
        hidden, mask = model.hidden_states(prompts)  # [B, T, H], [B, T]
        weights = mask.to(hidden.dtype)[..., None]  # [B, T, 1]
        pooled = (hidden * weights).sum(1) / weights.sum(1)  # [B, H]
        return self.linear(pooled.float()).squeeze(-1)


class LogitsMLPHead(nn.Module):
    """A 2-layer MLP (ReLU) on the logits at the last prompt position."""

    def __init__(self, vocab_size: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(vocab_size, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, model, prompts: Sequence[list[int]]) -> Tensor:  # [B]
        logits = model.forward_logits(prompts, keep_last=1)[:, -1]  # [B, V]
        return self.mlp(logits.float()).squeeze(-1)


class LearnedGridHead(nn.Module):
    """sum_g p(str(g) | x) w_g with learned w, starting at the grid values (RAFT at step 0)."""

    def __init__(self, grid: Sequence[float]) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.tensor(grid, dtype=torch.float32, device=HOST))

    def forward(self, model, prompts: Sequence[list[int]]) -> Tensor:  # [B]
        return model.grid_logprobs(prompts).exp() @ self.weights


class LearnedVocabHead(nn.Module):
    """sum_v p(v | x) w_v over the vocabulary; w_v starts at g for the token of g, 0 elsewhere."""

    def __init__(self, vocab_size: int, grid_token_ids: Sequence[int], grid: Sequence[float]):
        super().__init__()
        weights = torch.zeros(vocab_size, device=HOST)  # placed with the model
        weights[list(grid_token_ids)] = torch.tensor(grid, dtype=torch.float32, device=HOST)
        self.weights = nn.Parameter(weights)

    def forward(self, model, prompts: Sequence[list[int]]) -> Tensor:  # [B]
        return model.answer_logprobs(prompts).exp() @ self.weights


def build_head(spec: HeadSpec, model) -> nn.Module:
    """A freshly initialized head of `spec.kind` for a `CausalLMRegressor`."""
    vocab_size = model.lm.get_output_embeddings().weight.shape[0]
    if spec.kind == "token":
        return TokenLogitHead(special_token_id(model.tokenizer, spec.special_token))
    if spec.kind == "mean":
        return MeanPooledHead(model.lm.config.hidden_size)
    if spec.kind == "mlp":
        return LogitsMLPHead(vocab_size, spec.mlp_hidden)
    if spec.kind == "learnable-grid":
        _ = model.grid_trie  # the grid must be writable
        return LearnedGridHead(model.spec.grid)
    try:
        token_ids = model.grid_token_ids
    except ConfigError as error:
        raise ConfigError(f"head 'learnable-vocab' needs a single-token grid: {error}") from None
    return LearnedVocabHead(vocab_size, token_ids, model.spec.grid)


def special_token_id(tokenizer, token: str | None) -> int:
    """The id of `token` (default: end-of-sequence); a ConfigError naming the option if absent."""
    if token is None:
        if tokenizer.eos_token_id is None:
            raise ConfigError("the tokenizer has no end-of-sequence token; set special_token")
        return int(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    if token in vocab:
        return int(vocab[token])
    examples = sorted(tokenizer.all_special_tokens)[:8]
    raise ConfigError(
        f"special_token {token!r} is not a token of this tokenizer; pick one it has, e.g. "
        f"one of its special tokens {examples}"
    )


def set_head_bias(head: nn.Module, value: float) -> None:
    """Start a head's output bias at `value` (the mean training target), where it has one."""
    with torch.no_grad():
        if isinstance(head, TokenLogitHead):
            head.bias.fill_(value)
        elif isinstance(head, MeanPooledHead):
            head.linear.bias.fill_(value)
        elif isinstance(head, LogitsMLPHead):
            head.mlp[2].bias.fill_(value)
