"""The expert of expert-guided ReMax (GenRe2): the error-minimizing next token of a prefix.

For a rollout's own prefix, the expert's token is the one after which the closest reachable
number is nearest the truth. For fixed-length, most-significant-first digit strings this is
GenRe2's rule (`expert_digits_fixed_length`): the truth's digit while the sampled prefix still
equals the truth's prefix, else the smallest digit if the prefix is already larger than the
truth's, the largest digit if it is smaller. The causal-LM family applies the same criterion to
the variable-length decimal text it writes (`decoreg.causal_lm.expert`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def expert_digits_fixed_length(
    sampled: Tensor,  # [N, L] digit values of the sampled numbers, most significant first
    truth: Tensor,  # [N, L] digit values of the true numbers
    smallest: int,
    largest: int,
) -> Tensor:  # [N, L]
    """The expert's digit at every position of every sampled number (GenRe2's rule).

    Position t is conditioned on the sampled prefix `sampled[:, :t]`: while it equals
    `truth[:, :t]` the expert writes `truth[:, t]`; once the sample has a larger digit at the
    first difference the expert writes `smallest`, once it has a smaller one `largest`.
    """
    differs = sampled != truth  # [N, L]
    # diverged_before[:, t]: the prefix sampled[:, :t] already differs from the truth's
    diverged_before = torch.cumsum(differs.long(), dim=1) - differs.long() > 0
    first = torch.argmax(differs.long(), dim=1, keepdim=True)  # [N, 1] (0 when equal)
    larger = (sampled.gather(1, first) > truth.gather(1, first)).expand_as(sampled)
    off_track = torch.where(
        larger, torch.full_like(truth, smallest), torch.full_like(truth, largest)
    )
    return torch.where(diverged_before, off_track, truth)
