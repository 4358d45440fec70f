"""A pretrained causal LM wrapped as a regression model that writes numbers as text.

Sequences are left-padded so that the answer position (the token after the prompt) is the
last prompt column for every row; position ids follow the attention mask so padding never
shifts positions. What defines the regression besides the weights (template, decimals, grid,
scaler, head) is a `CausalLMSpec` (`decoreg.causal_lm.spec`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from decoreg.causal_lm.digit_grammar import DigitGrammar
from decoreg.causal_lm.folder_safety import check_model_folder
from decoreg.causal_lm.grid_scoring import GridTrie, grid_sequences, score_trie
from decoreg.causal_lm.grid_values import check_grid_writable
from decoreg.causal_lm.heads import HEAD_FILE, build_head
from decoreg.causal_lm.lora import LORA_FOLDER, load_adapter, merge, save_lm
from decoreg.causal_lm.numbers import DecimalFormat, parse_many
from decoreg.causal_lm.policy import CausalLMPolicy
from decoreg.causal_lm.prompts import PromptTemplate
from decoreg.causal_lm.shared_prompt import (
    PromptEncoding,
    SharedPromptStepper,
    feed_after_prompts,
    teacher_forced_chains,
)
from decoreg.causal_lm.spec import CausalLMSpec
from decoreg.core import Batch
from decoreg.devices import CPU_FP32, Placement, model_device
from decoreg.errors import ConfigError

logger = logging.getLogger(__name__)

FAMILY = "causal-lm"
SPEC_FILE = "causal_lm.json"
LM_FOLDER = "lm"


class CausalLMRegressor(nn.Module):
    """A Hugging Face causal LM plus its tokenizer, number format, grid and scaler.

    Decoders, objectives and the RL policy go through its methods (`encode_prompts` and the
    `continuation_*` methods, `grid_logprobs`, `parse_numbers`, ...), not through its parts.

    Attributes:
        lm: The Hugging Face causal LM (LoRA-wrapped while LoRA trains).
        tokenizer: Its Hugging Face tokenizer.
        spec: The template, decimals, grid, scaler and head.
        eos_id: The end-of-sequence token that ends every written number.
    """

    family = FAMILY

    def __init__(self, lm: nn.Module, tokenizer, spec: CausalLMSpec) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.spec = spec
        self.template = PromptTemplate(spec.template)
        self.number_format = DecimalFormat(spec.decimals)
        self.eos_id = _eos_id(tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self._special_prefix = _special_prefix_ids(tokenizer)
        self._prefix_ids = self.encode_text(self.template.prefix)
        self._suffix_ids = self.encode_text(self.template.suffix)
        budget = spec.max_prompt_tokens - len(self._special_prefix + self._prefix_ids)
        self._text_budget = budget - len(self._suffix_ids)
        if self._text_budget < 1:
            raise ConfigError(
                f"max_prompt_tokens={spec.max_prompt_tokens} leaves no room for text after the "
                "template's own tokens"
            )
        self.head = build_head(spec.head, self) if spec.head is not None else None

    # ----------------------------------------------------------------- inputs and targets
    def prepare_inputs(self, texts: Sequence[str]) -> list[list[int]]:
        """Tokenize and render each text once; over-long texts are shortened, with a warning."""
        prepared, shortened = [], 0
        for text in texts:
            text_ids = self.encode_text(str(text))
            if len(text_ids) > self._text_budget:
                text_ids = text_ids[: self._text_budget]
                shortened += 1
            prepared.append(self._special_prefix + self._prefix_ids + text_ids + self._suffix_ids)
        if shortened:
            logger.warning(
                "%d of %d inputs were longer than max_prompt_tokens=%d and had their text "
                "shortened (the template's instruction and answer cue were kept)",
                shortened,
                len(texts),
                self.spec.max_prompt_tokens,
            )
        return prepared

    def input_report(self) -> dict[str, Any]:
        """Nothing to report: texts are checked row by row when they are read."""
        return {}

    @property
    def fallback(self) -> float:
        """Raw-space prediction where the output cannot be parsed (the training median)."""
        return self.spec.fallback

    def input_lengths(self, inputs: Sequence[list[int]]) -> np.ndarray:
        return np.array([len(ids) for ids in inputs])

    def shard_units(self) -> list[nn.Module]:
        """The LM's decoder layers (LoRA-wrapped or not): the elements of its longest
        `nn.ModuleList` of one class."""
        lists = [
            m
            for m in self.lm.modules()
            if isinstance(m, nn.ModuleList) and len(m) > 0 and len({type(x) for x in m}) == 1
        ]
        return list(max(lists, key=len)) if lists else []

    def make_batch(self, inputs: Sequence[list[int]], targets: np.ndarray | None) -> Batch:
        if targets is None:
            return Batch(inputs=list(inputs))
        z = self.to_target_space(np.asarray(targets))
        z = torch.tensor(z, dtype=torch.float32, device=self.device)
        return Batch(inputs=list(inputs), targets=z)

    def to_target_space(self, y: np.ndarray) -> np.ndarray:
        return self.spec.scaler.transform(y)

    def from_target_space(self, z: np.ndarray) -> np.ndarray:
        return self.spec.scaler.inverse(z)

    def target_token_ids(self, z: float) -> list[int]:
        """Tokens of the number as written (in target space), followed by end-of-sequence."""
        return [*self.encode_text(self.number_format.format(z)), self.eos_id]

    @property
    def max_number_tokens(self) -> int:
        """Tokens enough to write any grid-range number (sign, digits, point) plus EOS."""
        widest = max(abs(v) for v in self.spec.grid)
        digits = len(self.number_format.format(widest)) + 1  # room for a sign
        return digits + 1

    @functools.cached_property
    def grid_token_ids(self) -> list[int]:
        """Token id of each grid value as written; a ConfigError if one is not a single token."""
        return self._single_token_ids(self.spec.grid)

    @functools.cached_property
    def grid_trie(self) -> GridTrie:
        """Prefix trie of the grid values' tokens (a ConfigError if a value cannot be written)."""
        check_grid_writable(self.spec.grid, self.spec.decimals)
        written = [self.encode_text(self.number_format.format(v)) for v in self.spec.grid]
        return GridTrie.build(grid_sequences(written, self.eos_id))

    def continuation_text(self, token_ids: Sequence[int]) -> str:
        """A sampled continuation as text, cut before its first end-of-sequence token."""
        token_ids = list(token_ids)
        if self.eos_id in token_ids:
            token_ids = token_ids[: token_ids.index(self.eos_id)]
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def parse_numbers(self, texts: Sequence[str]) -> np.ndarray:
        """[N] float64 the first number in each text (target space), NaN where there is none."""
        return parse_many(self.number_format, list(texts))[0]

    def format_number(self, z: float) -> str:
        """A target-space number as the model writes it (rounded to the spec's decimals)."""
        return self.number_format.format(z)

    @functools.cached_property
    def digit_grammar(self) -> DigitGrammar:
        """The numbers of the grid's range as written with the spec's decimals."""
        grid, decimals = self.spec.grid, self.spec.decimals
        return DigitGrammar.for_range(min(grid), max(grid), decimals)

    def encode_text(self, text: str) -> list[int]:
        """Token ids of `text` without special tokens (none for the empty text)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    _encode = encode_text  # the older private name

    # ------------------------------------------------------------------------- forward
    def pad_left(self, sequences: Sequence[list[int]]) -> tuple[Tensor, Tensor, Tensor]:
        """Left-pad token lists; returns input_ids, attention_mask and position_ids, [B, T]."""
        width = max(len(s) for s in sequences)
        padded = [[self.pad_id] * (width - len(s)) + list(s) for s in sequences]
        flags = [[0] * (width - len(s)) + [1] * len(s) for s in sequences]
        ids = torch.tensor(padded, dtype=torch.long, device=self.device)
        mask = torch.tensor(flags, dtype=torch.long, device=self.device)
        return ids, mask, _positions(mask)

    @property
    def device(self) -> torch.device:
        """Where the weights are, and so everything the model makes."""
        return model_device(self)

    def forward_logits(self, sequences: Sequence[list[int]], keep_last: int) -> Tensor:
        """Logits of the last `keep_last` columns of left-padded sequences, [B, keep_last, V]."""
        return self._run(sequences, keep_last=keep_last, keep_cache=False)[0].logits

    def hidden_states(self, sequences: Sequence[list[int]]) -> tuple[Tensor, Tensor]:
        """The LM's final hidden states of left-padded sequences, [B, T, H], and their mask."""
        ids, mask, positions = self.pad_left(sequences)
        out = self.lm.base_model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False
        )
        return out.last_hidden_state, mask

    def answer_logprobs(self, prompts: Sequence[list[int]]) -> Tensor:
        """Log-probabilities of the first answer token, [B, V], in fp32."""
        return torch.log_softmax(self.forward_logits(prompts, keep_last=1)[:, -1].float(), -1)

    def grid_logprobs(self, prompts: Sequence[list[int]]) -> Tensor:
        """log p(str(g) | x) for every grid value g, [B, G], scored through the grid's trie.

        A grid of single tokens costs one forward pass; longer numbers share their prefixes.
        """
        return score_trie(self, prompts, self.grid_trie)

    def predict_head(self, prompts: Sequence[list[int]]) -> Tensor:
        """The predictive head's numbers (target space), [B]; a ConfigError without a head."""
        if self.head is None:
            raise ConfigError(
                "this model has no predictive head; train it with objective 'head' (--head ...)"
            )
        return self.head(self, prompts)

    # ------------------------------------------------- prompts encoded once, continued many times
    def encode_prompts(
        self, prompts: Sequence[list[int]], *, keep_cache: bool = True
    ) -> PromptEncoding:
        """Run left-padded prompts once: their KV cache (unless not `keep_cache`), the logits
        of the first answer token and the mask; what sampling, RL and grid scoring start from."""
        out, mask, positions = self._run(prompts, keep_last=1, keep_cache=keep_cache)
        cache = out.past_key_values if keep_cache else None
        return PromptEncoding(cache, out.logits[:, -1], mask, positions)

    def continuation_stepper(
        self, encoding: PromptEncoding, rows_per_prompt: int
    ) -> SharedPromptStepper:
        """Feeds R continuations per prompt one token at a time after `encoding`'s cache."""
        return SharedPromptStepper(
            self.lm, encoding.cache, encoding.mask, encoding.positions, rows_per_prompt
        )

    def continuation_logits(self, encoding: PromptEncoding, tokens: Tensor) -> Tensor:
        """Teacher-forced logits after each token of R given continuations per prompt.

        Args:
            encoding: The prompts (B rows); gradients flow through its cache if it has them.
            tokens: [B * R, S] the continuations' tokens, rows ordered `b * R + r`.

        Returns:
            [B * R, S, V]: the logits after each continuation's tokens 0..s.
        """
        return teacher_forced_chains(
            self.lm, encoding.cache, encoding.mask, encoding.positions, tokens
        )

    def feed_after_prompts(
        self,
        encoding: PromptEncoding,
        tokens: Tensor,  # [B, C]
        allowed: Tensor,  # [B, 1, C, K] bool over the K cached + fed keys
        positions: Tensor,  # [B, C]
    ) -> Tensor:  # [B, C, V]
        """Logits of `tokens` fed after `encoding`'s cache under a custom attention mask."""
        return feed_after_prompts(self.lm, encoding.cache, tokens, allowed, positions)

    # ------------------------------------------------------------------------ saving
    def rl_policy(self, *, constrained: bool = True):
        """The RL objectives' adapter for this family (`decoreg.causal_lm.policy`)."""
        return CausalLMPolicy.for_model(self, constrained=constrained)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_lm(self.lm, directory / LM_FOLDER, directory / LORA_FOLDER)  # LoRA: base + adapter
        self.tokenizer.save_pretrained(directory / LM_FOLDER)
        (directory / SPEC_FILE).write_text(json.dumps(self.spec.to_dict(), indent=2))
        if self.head is not None:
            save_file(
                {k: v.contiguous() for k, v in self.head.state_dict().items()},
                directory / HEAD_FILE,
            )

    @classmethod
    def load(
        cls, directory: str | Path, *, trust_remote_code: bool = False,
        placement: Placement = CPU_FP32,
    ) -> CausalLMRegressor:  # fmt: skip
        """Read a folder written by `save` (safetensors only; see `models.folder_safety`) onto
        `placement`'s device and weight dtype, wherever it was trained."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from decoreg.causal_lm.pretrained import lm_load_options

        directory = Path(directory)
        check_model_folder(directory, trust_remote_code=trust_remote_code)
        spec = CausalLMSpec.from_dict(json.loads((directory / SPEC_FILE).read_text()))
        lm = AutoModelForCausalLM.from_pretrained(
            directory / LM_FOLDER,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            **lm_load_options(placement),
        )
        lm = load_adapter(lm, directory / LORA_FOLDER)
        tokenizer = AutoTokenizer.from_pretrained(
            directory / LM_FOLDER, trust_remote_code=trust_remote_code
        )
        model = cls(lm, tokenizer, spec)
        if model.head is not None:
            model.head.load_state_dict(load_file(directory / HEAD_FILE))
        return placement.place(model)

    def merge_lora(self) -> None:
        """Fold LoRA adapters into the weights: a plain model that predicts the same."""
        self.lm = merge(self.lm)

    # ------------------------------------------------------------------------ helpers
    def _run(self, sequences: Sequence[list[int]], *, keep_last: int, keep_cache: bool):
        """One forward pass of left-padded sequences: (LM output, mask, positions)."""
        ids, mask, positions = self.pad_left(sequences)
        out = self.lm(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=keep_cache,
            logits_to_keep=keep_last,
        )
        return out, mask, positions

    def _single_token_ids(self, grid: tuple[float, ...]) -> list[int]:
        ids = []
        for value in grid:
            written = self.number_format.format(value)
            tokens = self.encode_text(written)
            if len(tokens) != 1:
                raise ConfigError(
                    f"grid value {value} is written {written!r}, which is {len(tokens)} tokens; "
                    "the grid must hold single-token numbers (e.g. the digits 0-9 with decimals=0)"
                )
            ids.append(tokens[0])
        return ids


def _positions(mask: Tensor) -> Tensor:
    """Position ids that start at 0 on each row's first real token, [B, T]."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _eos_id(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise ConfigError("the tokenizer has no end-of-sequence token")
    return int(tokenizer.eos_token_id)


def _special_prefix_ids(tokenizer) -> list[int]:
    """Tokens the tokenizer puts before every text (e.g. Gemma's <bos>; none for SmolLM2)."""
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x", add_special_tokens=True)["input_ids"]
    if len(full) > len(plain) and full[len(full) - len(plain) :] == plain:
        return list(full[: len(full) - len(plain)])
    return []


def fallback_from_targets(y: np.ndarray) -> float:
    """The raw-space value used where a prediction cannot be parsed: the training median."""
    value = float(np.median(np.asarray(y, dtype=np.float64)))
    return value if math.isfinite(value) else 0.0
