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

__all__ = ["calibration_metrics", "reward_info_metrics"]


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


def reward_info_metrics(
    infos: Sequence[dict], *, thresholds: Sequence[float] = (0.5, 0.7, 0.9), n_bins: int = 10
) -> dict[str, float]:
    """``ccrl/*`` step metrics from the per-response ``reward_extra_info`` of the ``ccrl`` reward manager.

    Metrics with nothing to average over this step (no wrong number, say) are left out rather than logged as NaN.

    >>> infos = [{"ccrl_outcome": 1.0, "ccrl_confidence_term": 0.2, "ccrl_n_computed": 3, "ccrl_n_unverifiable": 1,
    ...           "ccrl_missing_entropies": 0.0, "ccrl_judged": "[[0.95, 0], [0.8, 1]]"}]
    >>> metrics = reward_info_metrics(infos, thresholds=(0.9,))
    >>> metrics["ccrl/overconfident_error_rate@0.9"], metrics["ccrl/computed_per_response"]
    (1.0, 3.0)
    """
    import json

    infos = [info for info in infos if isinstance(info, dict) and "ccrl_outcome" in info]
    if not infos:
        return {}
    judged = []
    for info in infos:
        judged.extend(
            (float(confidence), bool(correct)) for confidence, correct in json.loads(info.get("ccrl_judged", "[]"))
        )
    wrong = [confidence for confidence, correct in judged if not correct]
    right = [confidence for confidence, correct in judged if correct]
    n_computed = sum(float(info.get("ccrl_n_computed", 0)) for info in infos)
    metrics = {
        "ccrl/outcome_mean": sum(float(info["ccrl_outcome"]) for info in infos) / len(infos),
        "ccrl/confidence_term_mean": sum(float(info.get("ccrl_confidence_term", 0.0)) for info in infos) / len(infos),
        "ccrl/computed_per_response": n_computed / len(infos),
        "ccrl/judged_per_response": len(judged) / len(infos),
        "ccrl/missing_entropies_share": sum(float(info.get("ccrl_missing_entropies", 0.0)) for info in infos)
        / len(infos),
    }
    if n_computed:
        metrics["ccrl/unverifiable_share"] = (
            sum(float(info.get("ccrl_n_unverifiable", 0)) for info in infos) / n_computed
        )
    if wrong:
        for threshold in thresholds:
            metrics[f"ccrl/overconfident_error_rate@{threshold:g}"] = sum(c > threshold for c in wrong) / len(wrong)
        metrics["ccrl/mean_confidence_wrong"] = sum(wrong) / len(wrong)
    if right:
        metrics["ccrl/mean_confidence_correct"] = sum(right) / len(right)
    if judged:
        metrics["ccrl/ece"] = _expected_calibration_error(judged, n_bins)
    return metrics
