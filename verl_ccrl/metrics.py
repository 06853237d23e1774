"""Calibration metrics of computed numbers over a batch of scored responses. Pure Python, no verl import.

- ``overconfident_error_rate@t``: share of *wrong* computed numbers (with a confidence) whose confidence is
  above ``t`` (the paper's metric at t = 0.5 / 0.7 / 0.9). NaN when the batch has no wrong number.
- ``mean_confidence_correct`` / ``mean_confidence_wrong``: mean confidence of right / wrong computed numbers.
- ``ece``: expected calibration error over computed numbers with a verdict and a confidence, ``n_bins`` equal-width
  bins: sum over bins of (bin size / N) * |share correct in bin - mean confidence in bin|.
- counts of extracted / computed / unverifiable mentions, and of numbers in C.

Example::

    >>> from types import SimpleNamespace as Number
    >>> numbers = [Number(kind="computed", verdict="wrong", confidence=0.95), Number(kind="computed", verdict="correct", confidence=0.6)]
    >>> metrics = calibration_metrics([numbers], thresholds=(0.5, 0.9))
    >>> metrics["overconfident_error_rate@0.9"], metrics["mean_confidence_correct"]
    (1.0, 0.6)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["calibration_metrics"]


def calibration_metrics(
    responses: Iterable[Sequence], *, thresholds: Sequence[float] = (0.5, 0.7, 0.9), n_bins: int = 10
) -> dict[str, float]:
    """Metrics over ``responses``, each a sequence of numbers with ``kind``, ``verdict`` and ``confidence``
    (``ScoredMention`` from ``score_response``; pass ``score.mentions``)."""
    if n_bins < 1:
        raise ValueError(f"n_bins={n_bins} must be >= 1.")
    counts = {"extracted": 0, "computed": 0, "unverifiable": 0}
    judged: list[tuple[float, bool]] = []
    n_responses = 0
    for numbers in responses:
        n_responses += 1
        for number in numbers:
            if number.kind == "extracted":
                counts["extracted"] += 1
                continue
            counts["computed"] += 1
            if number.verdict == "unverifiable":
                counts["unverifiable"] += 1
            elif number.verdict in ("correct", "wrong") and number.confidence is not None:
                judged.append((float(number.confidence), number.verdict == "correct"))

    wrong = [confidence for confidence, correct in judged if not correct]
    right = [confidence for confidence, correct in judged if correct]
    metrics: dict[str, float] = {}
    for threshold in thresholds:
        metrics[f"overconfident_error_rate@{threshold:g}"] = (
            sum(confidence > threshold for confidence in wrong) / len(wrong) if wrong else math.nan
        )
    metrics["mean_confidence_correct"] = sum(right) / len(right) if right else math.nan
    metrics["mean_confidence_wrong"] = sum(wrong) / len(wrong) if wrong else math.nan
    metrics["ece"] = _expected_calibration_error(judged, n_bins)
    metrics["n_extracted"] = float(counts["extracted"])
    metrics["n_computed"] = float(counts["computed"])
    metrics["n_unverifiable"] = float(counts["unverifiable"])
    metrics["n_judged"] = float(len(judged))
    metrics["unverifiable_share"] = counts["unverifiable"] / counts["computed"] if counts["computed"] else math.nan
    metrics["computed_per_response"] = counts["computed"] / n_responses if n_responses else math.nan
    return metrics


def _expected_calibration_error(judged: list[tuple[float, bool]], n_bins: int) -> float:
    if not judged:
        return math.nan
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for confidence, correct in judged:
        bins[min(int(confidence * n_bins), n_bins - 1)].append((confidence, correct))
    error = 0.0
    for members in bins:
        if members:
            accuracy = sum(correct for _, correct in members) / len(members)
            mean_confidence = sum(confidence for confidence, _ in members) / len(members)
            error += len(members) / len(judged) * abs(accuracy - mean_confidence)
    return error
