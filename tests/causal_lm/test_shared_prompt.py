import pytest
import torch

from decoreg.causal_lm.model import CausalLMRegressor, CausalLMSpec
from decoreg.causal_lm.shared_prompt import SharedPromptStepper, chain_mask, teacher_forced_chains
from tests.conftest import tiny_llama


def test_chain_mask_by_hand():
    """One prompt of 3 columns, the first padding; 2 chains, 2 steps. Fed columns are
    (step 0, chain 0), (step 0, chain 1), (step 1, chain 0), (step 1, chain 1)."""
    mask = chain_mask(torch.tensor([[0, 1, 1]]), rows_per_prompt=2, steps=2)
    expected = torch.tensor(
        [
            [0, 1, 1, 1, 0, 0, 0],
            [0, 1, 1, 0, 1, 0, 0],
            [0, 1, 1, 1, 0, 1, 0],
            [0, 1, 1, 0, 1, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert mask.shape == (1, 1, 4, 7)
    assert torch.equal(mask[0, 0], expected)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_prompt_steps_equal_each_row_run_from_scratch(tokenizer, attn):
    """Left-padded prompts of different lengths, 3 continuations each, 3 steps: the logits
    of every step equal those of the prompt + that row's tokens run alone (fp32, 1e-5)."""
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=1)
    lm = tiny_llama(len(tokenizer), seed=11)
    lm.config._attn_implementation = attn
    model = CausalLMRegressor(lm, tokenizer, spec).eval()
    prompts = model.prepare_inputs(["x", "a noticeably longer prompt"])
    rows = 3
    chains = torch.randint(
        2, len(tokenizer), (len(prompts) * rows, 3), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        ids, mask, positions = model.pad_left(prompts)
        out = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        stepper = SharedPromptStepper(lm, out.past_key_values, mask, positions, rows)
        for step in range(chains.shape[1]):
            fast = stepper.step(chains[:, step])  # [B*R, V]
            for row in range(chains.shape[0]):
                alone = prompts[row // rows] + chains[row, : step + 1].tolist()
                slow = lm(input_ids=torch.tensor([alone])).logits[0, -1]
                torch.testing.assert_close(fast[row], slow, rtol=0, atol=1e-5)


def test_teacher_forced_chains_equal_stepping_them_one_at_a_time(tokenizer):
    """All steps of the chains in one pass give the logits the stepper gives step by step."""
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=1)
    lm = tiny_llama(len(tokenizer), seed=12)
    model = CausalLMRegressor(lm, tokenizer, spec).eval()
    prompts = model.prepare_inputs(["short", "a much longer second prompt"])
    rows = 4
    chains = torch.randint(
        2, len(tokenizer), (len(prompts) * rows, 3), generator=torch.Generator().manual_seed(1)
    )

    def encoded():
        ids, mask, positions = model.pad_left(prompts)
        out = lm(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        return out.past_key_values, mask, positions

    with torch.no_grad():
        cache, mask, positions = encoded()
        at_once = teacher_forced_chains(lm, cache, mask, positions, chains)  # [B*R, S, V]
        stepper = SharedPromptStepper(lm, *encoded(), rows)
        for step in range(chains.shape[1]):
            step_by_step = stepper.step(chains[:, step])
            torch.testing.assert_close(at_once[:, step], step_by_step, rtol=0, atol=1e-5)


def test_encode_prompts_matches_each_prompt_run_alone(tokenizer):
    """One left-padded pass: the last logits of every row equal a plain forward pass of its
    unpadded prompt (fp32, 1e-5); the mask marks the padding; the cache holds the T prompt
    columns, and a copy can be fed without growing the original."""
    spec = CausalLMSpec(base_model="tiny", template="Q: {text}\nA: ", decimals=1)
    model = CausalLMRegressor(tiny_llama(len(tokenizer), seed=13), tokenizer, spec).eval()
    prompts = model.prepare_inputs(["x", "a much longer prompt than the first", "mid size"])
    with torch.no_grad():
        encoding = model.encode_prompts(prompts)
        width = max(len(p) for p in prompts)
        assert encoding.last_logits.shape == (3, len(tokenizer))
        assert encoding.mask.sum(1).tolist() == [len(p) for p in prompts]
        assert encoding.mask[:, -1].all() and encoding.cache.get_seq_length() == width
        for row, prompt in enumerate(prompts):
            alone = model.lm(input_ids=torch.tensor([prompt])).logits[0, -1]
            torch.testing.assert_close(encoding.last_logits[row], alone, rtol=0, atol=1e-5)
        copy = encoding.copy(detach=True)
        model.continuation_stepper(copy, 2).step(torch.tensor([5, 6] * 3))
        assert copy.cache.get_seq_length() == width + 2
        assert encoding.cache.get_seq_length() == width
        without = model.encode_prompts(prompts, keep_cache=False)
        assert without.cache is None
        torch.testing.assert_close(without.last_logits, encoding.last_logits, rtol=0, atol=1e-6)
