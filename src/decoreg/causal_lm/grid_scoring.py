"""log p(str(g) | x) for every grid value g, scored through a prefix trie of their tokens.

The prompt is encoded once (its KV cache kept). Every trie node that has children is then fed
as one extra token per node, all nodes of a chunk side by side after the prompt, with a tree
attention mask: a node sees the prompt and its own ancestors only, and sits at position
`last prompt position + depth`. So each shared prefix ("3." in "3.1", "3.2", ...) is computed
once, and one chunk pass scores the whole grid. Everything stays differentiable, so the same
scores serve the RAFT loss and the grid decoders. A grid of single tokens has no inner nodes
and costs exactly one forward pass with `logits_to_keep=1`.

When one grid string is a prefix of another ("1" and "10"), every string is scored with the
end-of-sequence token after it, so that the grid's probabilities stay a distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from decoreg.causal_lm.shared_prompt import PromptEncoding

DEFAULT_CHUNK_NODES = 256


@dataclass(frozen=True)
class GridTrie:
    """A prefix trie over token sequences, flattened for batched scoring.

    Node 0 is the root (the position after the prompt); nodes 1.. are tokens.

    Attributes:
        tokens: Token id of each node (the root holds -1).
        parents: Parent node of each node (the root holds -1).
        depths: Depth of each node (root 0).
        inner: Non-root nodes that have children, in breadth-first order; these are fed to
            the model, and their logits score their children.
        paths: For each sequence, the nodes along it (excluding the root).
    """

    tokens: tuple[int, ...]
    parents: tuple[int, ...]
    depths: tuple[int, ...]
    inner: tuple[int, ...]
    paths: tuple[tuple[int, ...], ...]

    @classmethod
    def build(cls, sequences: Sequence[Sequence[int]]) -> GridTrie:
        """Trie of `sequences` (each non-empty, none a prefix of another)."""
        tokens, parents, depths = [-1], [-1], [0]
        children: list[dict[int, int]] = [{}]
        paths = []
        for sequence in sequences:
            if not sequence:
                raise ValueError("cannot score an empty token sequence")
            node, path = 0, []
            for token in sequence:
                child = children[node].get(token)
                if child is None:
                    child = len(tokens)
                    tokens.append(int(token))
                    parents.append(node)
                    depths.append(depths[node] + 1)
                    children.append({})
                    children[node][token] = child
                node = child
                path.append(node)
            paths.append(tuple(path))
        ends = {path[-1] for path in paths}
        has_children = {n for n, kids in enumerate(children) if kids}
        if ends & has_children or len(ends) != len(paths):
            raise ValueError("a token sequence is a prefix of another; end each with EOS")
        inner = sorted(has_children - {0}, key=lambda n: (depths[n], n))
        return cls(tuple(tokens), tuple(parents), tuple(depths), tuple(inner), tuple(paths))

    def ancestors(self, node: int) -> list[int]:
        """Non-root nodes from the top down to `node` (inclusive)."""
        chain = []
        while node > 0:
            chain.append(node)
            node = self.parents[node]
        return chain[::-1]

    def chunks(self, max_nodes: int) -> list[list[int]]:
        """Inner nodes split into chunks; each chunk also holds every ancestor it needs.

        Subtrees under the root's children are packed whole; one larger than `max_nodes` is
        split further, carrying its ancestors along.
        """
        groups: dict[int, list[int]] = {}
        for node in self.inner:
            groups.setdefault(self.ancestors(node)[0], []).append(node)
        chunks: list[list[int]] = []
        current: list[int] = []
        for group in groups.values():
            if current and len(current) + len(group) > max_nodes:
                chunks.append(current)
                current = []
            if len(group) <= max_nodes:
                current.extend(group)
                continue
            for start in range(0, len(group), max_nodes):
                needed = {a for n in group[start : start + max_nodes] for a in self.ancestors(n)}
                chunks.append(sorted(needed, key=lambda n: (self.depths[n], n)))
        if current:
            chunks.append(current)
        return chunks


def grid_sequences(token_lists: Sequence[list[int]], eos_id: int) -> list[list[int]]:
    """The token sequences to score: as written, or each with EOS when some is a prefix."""
    as_tuples = [tuple(t) for t in token_lists]
    prefixes = {t[:k] for t in as_tuples for k in range(1, len(t))}
    if any(t in prefixes for t in as_tuples):
        return [[*t, eos_id] for t in token_lists]
    return [list(t) for t in token_lists]


def score_trie(
    model,
    prompts: Sequence[list[int]],
    trie: GridTrie,
    *,
    max_chunk_nodes: int = DEFAULT_CHUNK_NODES,
) -> Tensor:  # [B, G]
    """log p(sequence | prompt) for every trie sequence, in fp32, differentiably.

    Args:
        model: A `CausalLMRegressor` (uses `encode_prompts` and `feed_after_prompts`).
        prompts: Token ids of each prompt (left-padded by `encode_prompts`).
        trie: The grid's trie.
        max_chunk_nodes: Inner nodes fed in one pass after the cached prompt.
    """
    encoding = model.encode_prompts(prompts, keep_cache=bool(trie.inner))
    root = torch.log_softmax(encoding.last_logits.float(), dim=-1)  # [B, V]
    # context_logprobs[c]: [B, V] next-token log-probs after node c (root or an inner node).
    context_logprobs: dict[int, Tensor] = {0: root}
    chunks = trie.chunks(max_chunk_nodes) if trie.inner else []
    for index, chunk in enumerate(chunks):
        logits = _chunk_logits(model, trie, chunk, encoding)  # [B, C, V]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        for column, node in enumerate(chunk):
            context_logprobs.setdefault(node, logprobs[:, column])
        if index < len(chunks) - 1:
            encoding.cache.crop(-len(chunk))  # back to the prompt alone for the next chunk
    return _path_sums(trie, context_logprobs, len(prompts))


def _chunk_logits(model, trie: GridTrie, chunk: list[int], encoding: PromptEncoding) -> Tensor:
    """Feed `chunk`'s nodes after the cached prompt under a tree mask; logits [B, C, V]."""
    rows, width = encoding.mask.shape
    size = len(chunk)
    column = {node: i for i, node in enumerate(chunk)}
    device = encoding.mask.device
    # [C, C]: a node sees its ancestors and itself
    tree = torch.zeros((size, size), dtype=torch.bool, device=device)
    for i, node in enumerate(chunk):
        for ancestor in trie.ancestors(node):
            tree[i, column[ancestor]] = True
    prompt_part = encoding.mask.bool()[:, None, None, :].expand(rows, 1, size, width)
    tree_part = tree[None, None].expand(rows, 1, size, size)
    allowed = torch.cat([prompt_part, tree_part], dim=-1)  # [B, 1, C, T + C]
    depth = torch.tensor([trie.depths[n] for n in chunk], dtype=torch.long, device=device)
    node_positions = encoding.positions[:, -1:] + depth[None, :]  # [B, C]
    node_tokens = torch.tensor([trie.tokens[n] for n in chunk], dtype=torch.long, device=device)
    tokens = node_tokens[None, :].expand(rows, size)
    return model.feed_after_prompts(encoding, tokens, allowed, node_positions)


def _path_sums(trie: GridTrie, context_logprobs: dict[int, Tensor], rows: int) -> Tensor:
    """Sum the log-probs along each path: [B, G]."""
    contexts = sorted(context_logprobs)
    slot = {node: i for i, node in enumerate(contexts)}
    table = torch.stack([context_logprobs[c] for c in contexts], dim=1)  # [B, K, V]
    width = max(len(p) for p in trie.paths)
    contexts_of, tokens_of, valid_of = [], [], []  # [G, L] each, padded with 0 / False
    for path in trie.paths:
        pad = [0] * (width - len(path))
        contexts_of.append([slot[trie.parents[node]] for node in path] + pad)
        tokens_of.append([trie.tokens[node] for node in path] + pad)
        valid_of.append([True] * len(path) + [False] * len(pad))
    context_index = torch.tensor(contexts_of, dtype=torch.long, device=table.device)
    token_index = torch.tensor(tokens_of, dtype=torch.long, device=table.device)
    valid = torch.tensor(valid_of, dtype=torch.bool, device=table.device)
    picked = table[:, context_index, token_index]  # [B, G, L]
    return picked.masked_fill(~valid, 0.0).sum(-1)
