"""A number's confidence from the policy's per-token entropies at the number's tokens.

Pure Python, no verl or torch import.

Default: ``c = exp(-mean H)`` with H in nats. Why this one: ``exp(-H)`` is the inverse perplexity, the
reciprocal of the effective number of equally likely choices. A model torn between two digits (H = ln 2) has
c = 0.5, three-way c = 0.33, certain c = 1. So the paper's overconfidence thresholds 0.5 / 0.7 / 0.9 keep the
same meaning for every model, whatever its vocabulary. The alternative ``1 - H / ln|V|`` divides by ln|V|
(~11.9 for Qwen's 151k tokens): the same two-way doubt scores 0.94, so nearly every number clears 0.9.

Aggregation over a number's tokens: ``mean`` entropy (so ``exp(-mean H)`` is the geometric mean of the tokens'
``exp(-H)``), ``min`` confidence (max entropy: the number is as doubtful as its most doubtful digit), or
``last`` token.

Example::

    >>> round(number_confidence([0.0, 0.6931471805599453]), 4)  # exp(-ln(2)/2)
    0.7071
    >>> number_confidence([0.1, float("nan")]) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["number_confidence", "entropy_to_confidence"]

# Entropies a hair below zero come from float round-off in log-softmax; anything further below is corrupt input.
_NEGATIVE_ROUNDOFF = -1e-4


def entropy_to_confidence(
    entropy: float, *, estimator: str = "exp_neg_entropy", vocab_size: int | None = None
) -> float:
    """One entropy (nats) -> confidence in [0, 1].

    >>> entropy_to_confidence(0.0), round(entropy_to_confidence(math.log(4)), 4)
    (1.0, 0.25)
    """
    entropy = max(entropy, 0.0)
    if estimator == "exp_neg_entropy":
        return math.exp(-entropy)
    if estimator == "normalized_entropy":
        if not vocab_size or vocab_size < 2:
            raise ValueError(f"normalized_entropy needs vocab_size >= 2, got {vocab_size!r}.")
        return min(1.0, max(0.0, 1.0 - entropy / math.log(vocab_size)))
    raise ValueError(f"unknown confidence estimator {estimator!r}; use 'exp_neg_entropy' or 'normalized_entropy'.")


def number_confidence(
    token_entropies: Sequence[float],
    *,
    estimator: str = "exp_neg_entropy",
    aggregation: str = "mean",
    vocab_size: int | None = None,
) -> float | None:
    """Confidence of one number from the entropies of its tokens; None when there is nothing trustworthy
    to compute it from (no tokens, or any entropy NaN, infinite or clearly negative)."""
    if not token_entropies:
        return None
    values = []
    for entropy in token_entropies:
        try:
            entropy = float(entropy)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(entropy) or entropy < _NEGATIVE_ROUNDOFF:
            return None
        values.append(max(entropy, 0.0))
    if aggregation == "mean":
        aggregated = sum(values) / len(values)
    elif aggregation == "min":
        aggregated = max(values)  # the least confident token has the largest entropy
    elif aggregation == "last":
        aggregated = values[-1]
    else:
        raise ValueError(f"unknown aggregation {aggregation!r}; use 'mean', 'min' or 'last'.")
    return entropy_to_confidence(aggregated, estimator=estimator, vocab_size=vocab_size)
