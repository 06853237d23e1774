"""Per-token entropy from log-probabilities: the one function every rollout backend uses.

``entropy_from_logprobs(log_probs)`` takes the log-probabilities of the k most likely next tokens at each position
(shape ``[..., k]``, true log-probabilities over the whole vocabulary, ``-inf`` for padding) and returns an entropy
estimate in nats. With the full distribution (k = |V|, as the CPU backend passes via ``entropy_from_logits``) it is
exact. With a truncated top-k (vLLM's ``logprobs=k``) it is

    H_k = -sum_{i<=k} p_i log p_i  -  r log p_(k)        r = 1 - sum_{i<=k} p_i  (the tail mass)

where p_(k) is the smallest of the top-k probabilities. Every tail token has probability <= p_(k), so its
``-log p`` is >= ``-log p_(k)``: this is a lower bound of the true entropy. The upper bound spreads the tail evenly
over the other |V| - k tokens: ``head - r log(r / (|V| - k))`` (``entropy_upper_bound_from_logprobs``). Given
``vocab_size`` the estimate is the midpoint of the two, so its error is at most half the gap whatever the tail
looks like (a few plausible tokens, or a flat floor over the whole vocabulary); without it, the lower bound.

Why the truncation is acceptable: the reward uses confidence c = exp(-H), and the thresholds that matter (0.5 to
0.9) mean H <= ln 2 = 0.69 nats, where top-20 holds most of the mass. In a stress test with a flat floor over a
151k vocabulary (``tests/test_entropy.py``) the midpoint's confidence error there was at most 0.025; at high
entropy, where the gap grows, c is small and the number barely moves the reward.

Example::

    >>> import math, torch
    >>> round(float(entropy_from_logprobs(torch.log(torch.tensor([0.5, 0.5])))), 4) == round(math.log(2), 4)
    True
    >>> round(float(entropy_from_logprobs(torch.log(torch.tensor([0.5, 0.3])))), 4)  # tail 0.2 at <= 0.3 each
    0.9486
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

# torch is imported inside each function: the core must import without torch (tests/test_layout.py).
if TYPE_CHECKING:
    import torch

__all__ = [
    "ENTROPY_FIELD",
    "entropies_from_position_logprobs",
    "entropy_from_logits",
    "entropy_from_logprobs",
    "entropy_upper_bound_from_logprobs",
]

# The rollout backends put per-token entropies under this key of TokenOutput.extra_fields; verl carries it to the
# reward's extra_info, and the reward manager and trainer read it there.
ENTROPY_FIELD = "ccrl_entropies"


def entropy_from_logprobs(log_probs: torch.Tensor, vocab_size: int | None = None) -> torch.Tensor:
    """Entropy (nats) per position from top-k log-probabilities ``[..., k]``; exact when k covers the vocabulary.

    With ``vocab_size``: the midpoint of the lower and upper bounds, whose error is at most half the gap
    whatever the tail's shape. Without it: the lower bound."""
    lower = _entropy_lower_bound(log_probs)
    if vocab_size is None:
        return lower
    return (lower + entropy_upper_bound_from_logprobs(log_probs, vocab_size)) / 2


def _entropy_lower_bound(log_probs: torch.Tensor) -> torch.Tensor:
    import torch

    log_probs = log_probs.double()
    probs = log_probs.exp()
    finite = torch.isfinite(log_probs)
    head = -(torch.where(finite, probs * log_probs, torch.zeros_like(probs))).sum(-1)
    tail_mass = (1.0 - probs.sum(-1)).clamp(min=0.0)
    smallest = torch.where(finite, log_probs, torch.full_like(log_probs, math.inf)).amin(-1)
    # Over a full vocabulary the "tail" is rounding (~1e-7) and adds ~1e-6 nats: no special case needed.
    tail = torch.where(tail_mass > 0, -tail_mass * smallest, torch.zeros_like(tail_mass))
    return (head + tail).float()


def entropy_upper_bound_from_logprobs(log_probs: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The largest entropy consistent with top-k ``log_probs``: the tail mass spread evenly over the other tokens."""
    import torch

    log_probs = log_probs.double()
    probs = log_probs.exp()
    finite = torch.isfinite(log_probs)
    head = -(torch.where(finite, probs * log_probs, torch.zeros_like(probs))).sum(-1)
    tail_mass = (1.0 - probs.sum(-1)).clamp(min=0.0)
    others = (vocab_size - finite.sum(-1)).clamp(min=1)
    tail = -tail_mass * torch.log(tail_mass.clamp(min=1e-30) / others)
    return (head + torch.where(tail_mass > 0, tail, torch.zeros_like(tail))).float()


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Exact entropy (nats) of ``softmax(logits)`` per position, shape ``[..., V] -> [...]``, returned as float32."""
    import torch

    return entropy_from_logprobs(torch.log_softmax(logits.float(), dim=-1))


def entropies_from_position_logprobs(
    position_logprobs: Sequence[dict], top_k: int, vocab_size: int | None = None
) -> list[float]:
    """Per-token entropies from vLLM's per-position ``{token_id: Logprob}`` dicts.

    Only entries ranked 1..top_k are used: vLLM adds the sampled token when it falls outside the top k, and that
    entry would break the "every other token is at most the k-th probability" bound of ``entropy_from_logprobs``.

    >>> from types import SimpleNamespace as Logprob
    >>> import math
    >>> half = math.log(0.5)
    >>> entropies_from_position_logprobs([{1: Logprob(logprob=half, rank=1), 2: Logprob(logprob=half, rank=2)}], 2)
    [0.6931471824645996]
    """
    import torch

    if not position_logprobs:
        return []
    rows, empty = [], []
    for entries in position_logprobs:
        ranked = sorted(
            (entry for entry in (entries or {}).values() if entry.rank is not None and 1 <= entry.rank <= top_k),
            key=lambda entry: entry.rank,
        )
        values = [float(entry.logprob) for entry in ranked]
        empty.append(not values)
        rows.append(values + [float("-inf")] * (top_k - len(values)))
    entropies = entropy_from_logprobs(torch.tensor(rows, dtype=torch.float64), vocab_size=vocab_size).tolist()
    # No log-probs at a position: NaN, so a number there gets no confidence instead of a made-up certainty.
    return [float("nan") if missing else entropy for entropy, missing in zip(entropies, empty)]
