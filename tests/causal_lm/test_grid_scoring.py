import numpy as np
import pytest
import torch

from decoreg.causal_lm.grid_scoring import GridTrie, grid_sequences, score_trie
from decoreg.causal_lm.grid_values import grid_range
from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.errors import ConfigError
from tests.conftest import tiny_llama

PROMPT_TEXTS = ["short", "a rather longer input text", "mid size"]


def tiny(tokenizer, grid, decimals, attn="sdpa") -> CausalLMRegressor:
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=decimals, grid=grid)
    lm = tiny_llama(len(tokenizer), seed=3)
    lm.config._attn_implementation = attn
    return CausalLMRegressor(lm, tokenizer, spec).eval()


def brute_force(model, prompts, sequences) -> torch.Tensor:
    """log p(sequence | prompt): each prompt + sequence run alone, unpadded, no cache."""
    scores = torch.zeros(len(prompts), len(sequences))
    for b, prompt in enumerate(prompts):
        for g, seq in enumerate(sequences):
            ids = torch.tensor([prompt + seq])
            logprobs = torch.log_softmax(model.lm(input_ids=ids).logits[0].float(), -1)
            start = len(prompt) - 1
            scores[b, g] = sum(logprobs[start + k, t] for k, t in enumerate(seq))
    return scores


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_trie_scores_equal_brute_force_on_a_decimal_grid(tokenizer, attn):
    """0.0..2.0 by 0.1 (21 values, 3 tokens each, shared prefixes '0.', '1.')."""
    grid = grid_range(0.0, 2.0, 0.1)
    model = tiny(tokenizer, grid, decimals=1, attn=attn)
    prompts = model.prepare_inputs(PROMPT_TEXTS)
    with torch.no_grad():
        fast = model.grid_logprobs(prompts)
        written = [model._encode(model.number_format.format(v)) for v in grid]
        slow = brute_force(model, prompts, written)
    assert fast.shape == (3, 21)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-5)


def test_prefix_grids_are_scored_with_eos(tokenizer):
    """'1' is a prefix of '10': every string gets EOS, and the scores still match."""
    grid = (1.0, 5.0, 10.0, 12.0, 100.0)
    model = tiny(tokenizer, grid, decimals=0)
    prompts = model.prepare_inputs(PROMPT_TEXTS[:2])
    sequences = [[*model._encode(model.number_format.format(v)), model.eos_id] for v in grid]
    with torch.no_grad():
        torch.testing.assert_close(
            model.grid_logprobs(prompts), brute_force(model, prompts, sequences), rtol=0, atol=1e-5
        )


def test_small_chunks_give_the_same_scores(tokenizer):
    """Chunks of 2 inner nodes (ancestors carried along) equal one chunk."""
    grid = (10.5, 11.5, 12.25, 21.0, 22.0, 3.0)
    model = tiny(tokenizer, grid, decimals=2)
    prompts = model.prepare_inputs(PROMPT_TEXTS)
    with torch.no_grad():
        whole = score_trie(model, prompts, model.grid_trie)
        pieces = score_trie(model, prompts, model.grid_trie, max_chunk_nodes=2)
    torch.testing.assert_close(whole, pieces, rtol=0, atol=1e-6)


def test_single_token_grid_is_one_forward_pass(tokenizer):
    model = tiny(tokenizer, (1.0, 2.0, 3.0), decimals=0)
    calls = []
    model.lm.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    prompts = model.prepare_inputs(PROMPT_TEXTS)
    with torch.no_grad():
        scores = model.grid_logprobs(prompts)
    assert len(calls) == 1 and model.grid_trie.inner == ()
    expected = model.answer_logprobs(prompts)[:, model.grid_token_ids]
    torch.testing.assert_close(scores, expected)


def test_trie_scores_are_differentiable(tokenizer):
    model = tiny(tokenizer, grid_range(0.0, 1.0, 0.1), decimals=1).train()
    prompts = model.prepare_inputs(PROMPT_TEXTS)
    model.grid_logprobs(prompts).exp().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_trie_shares_prefixes():
    """'1.5','1.7','2.0' (9 tokens) -> '1' and '1.' shared: 7 nodes besides the root.

    Inner nodes (those with children): '1', '2', '1.', '2.' in breadth-first order.
    """
    trie = GridTrie.build([[1, 9, 5], [1, 9, 7], [2, 9, 0]])
    assert len(trie.tokens) - 1 == 7
    assert [trie.tokens[n] for n in trie.inner] == [1, 2, 9, 9]
    assert trie.paths[0][:2] == trie.paths[1][:2]


def test_grid_sequences_append_eos_only_for_prefix_sets():
    assert grid_sequences([[1], [2, 3]], eos_id=0) == [[1], [2, 3]]
    assert grid_sequences([[1], [1, 3]], eos_id=0) == [[1, 0], [1, 3, 0]]


def test_unwritable_grid_is_refused(tokenizer):
    model = tiny(tokenizer, (0.25, 0.5), decimals=1)
    with pytest.raises(ConfigError, match=r"grid value 0.25 is written '0.2' with decimals=1"):
        _ = model.grid_trie


def test_grid_mean_decoder_on_a_multi_token_grid_matches_the_scores(tokenizer):
    from decoreg.causal_lm.decoding import DECODERS
    from decoreg.config import DecodeConfig

    grid = grid_range(0.0, 1.0, 0.25)
    model = tiny(tokenizer, grid, decimals=2)
    batch = model.make_batch(model.prepare_inputs(PROMPT_TEXTS), None)
    out = DECODERS["grid-mean"](DecodeConfig())(model, batch, generator=torch.Generator())
    with torch.no_grad():
        probs = torch.softmax(model.grid_logprobs(batch.inputs), -1).double().numpy()
    np.testing.assert_allclose(out.values, probs @ np.array(grid), rtol=1e-5)
