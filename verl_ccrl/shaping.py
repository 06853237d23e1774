"""The term s_i of one judged number: how its confidence c and correctness y become reward. Pure Python.

``linear`` (the default; the paper's description)::

    s = +alpha * c          if the number is right (y = 1)
    s = -beta  * c          if it is wrong (y = 0) and c >= tau, else 0

``brier`` (a proper scoring rule: an affine map of the Brier score -(c - y)^2)::

    s = alpha - (alpha + beta) * (c - y)^2

``log`` (a proper scoring rule: an affine map of the log score ln q, q = c if right, 1 - c if wrong, floored at
``LOG_SCORE_FLOOR`` = 0.01 so that a certain wrong number costs -beta, not -infinity)::

    s = alpha + (alpha + beta) * ln(max(q, 0.01)) / ln(100)

Why offer both. If a number of this kind is right with probability p, the expected linear term is
E[s] = c * (alpha * p - beta * (1 - p)): linear in c, so the policy gains by pushing c to 1 wherever
p > beta / (alpha + beta) (2/3 at the defaults) and to 0 below; calibration is not what it optimises. The Brier
form's expectation alpha - (alpha + beta) * (p * (1 - c)^2 + (1 - p) * c^2) is highest at c = p exactly. Both
give +alpha for a certain right number and -beta for a certain wrong one, so they share the range [-beta, alpha]
and the reward's bounds. The Brier form pays a wrong number with c = 0 +alpha: its expectation, not each case, is
what it ranks, and the outcome reward still charges the wrong answer.

    >>> number_term(True, 0.8, alpha=0.25, beta=0.5), number_term(False, 0.8, alpha=0.25, beta=0.5)
    (0.2, -0.4)
    >>> round(number_term(True, 0.8, alpha=0.25, beta=0.5, shaping="brier"), 6)
    0.22
    >>> round(number_term(False, 0.8, alpha=0.25, beta=0.5, shaping="brier"), 6)
    -0.23
    >>> round(number_term(True, 0.8, alpha=0.25, beta=0.5, shaping="log"), 6)
    0.213659
    >>> round(number_term(False, 0.8, alpha=0.25, beta=0.5, shaping="log"), 6)
    -0.012114

The log form keeps its penalty for the last few percent of confidence (a wrong number at c = 0.95 costs -0.24
against Brier's -0.43; at c = 0.99 both cost about -beta) and is proper for c in [0.01, 0.99]: past the floor every
confidence scores the same.

Not handled here: whether a number is in C at all (a verdict and a finite confidence), and the 1/|C| average;
``reward.py`` owns those.
"""

from __future__ import annotations

import math

__all__ = ["LOG_SCORE_FLOOR", "SHAPINGS", "expected_term", "number_term"]

SHAPINGS = ("linear", "brier", "log")
# The log score's floor on the probability given to what happened: ln(0.01) maps to -beta.
LOG_SCORE_FLOOR = 0.01


def number_term(correct: bool, confidence: float, *, alpha: float, beta: float, tau: float = 0.0,
                shaping: str = "linear") -> float:  # fmt: skip
    """s_i of a judged number with confidence ``confidence`` in [0, 1] (see the module docstring)."""
    if shaping == "linear":
        if correct:
            return alpha * confidence
        return -beta * confidence if confidence >= tau else 0.0
    if shaping == "brier":
        return alpha - (alpha + beta) * (confidence - (1.0 if correct else 0.0)) ** 2
    if shaping == "log":
        happened = confidence if correct else 1.0 - confidence
        return alpha + (alpha + beta) * math.log(max(happened, LOG_SCORE_FLOOR)) / -math.log(LOG_SCORE_FLOOR)
    raise ValueError(f"ccrl.shaping={shaping!r} is not one of {list(SHAPINGS)}; pick one of those.")


def expected_term(p_correct: float, confidence: float, *, alpha: float, beta: float, shaping: str = "linear") -> float:
    """E[s] for a number that is right with probability ``p_correct`` and reported with ``confidence``.

    >>> max((expected_term(0.6, c / 10, alpha=0.25, beta=0.5, shaping="brier"), c / 10) for c in range(11))[1]
    0.6
    >>> max((expected_term(0.6, c / 10, alpha=0.25, beta=0.5), c / 10) for c in range(11))[1]
    0.0
    """
    right = number_term(True, confidence, alpha=alpha, beta=beta, shaping=shaping)
    wrong = number_term(False, confidence, alpha=alpha, beta=beta, shaping=shaping)
    return p_correct * right + (1.0 - p_correct) * wrong
