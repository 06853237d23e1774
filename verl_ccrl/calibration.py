"""How well the confidences of judged numbers match their correctness. Pure Python, no verl import.

A *calibration point* is ``(confidence, correct)`` of one computed number with a verdict (correct or wrong) and a
confidence. :func:`measure_calibration` is the one place the calibration statistics are computed; training metrics
(``verl_ccrl.metrics``) and evaluation (``verl_ccrl.eval.scoring``) both call it.

- ``overconfident_error_rate[t]``: share of the *wrong* numbers whose confidence is above ``t`` (the paper's metric
  at t = 0.5 / 0.7 / 0.9). NaN without a wrong number.
- ``mean_confidence_correct`` / ``mean_confidence_wrong``: mean confidence of the right / wrong numbers.
- ``bins``: ``n_bins`` equal-width confidence bins (a confidence of exactly 1 falls in the last); the non-empty ones
  with their count, mean confidence and share correct: the reliability diagram.
- ``ece``: sum over bins of (bin size / N) * |share correct in bin - mean confidence in bin|.

Example::

    >>> calibration = measure_calibration([(0.95, True), (0.92, False), (0.15, False)], thresholds=(0.5, 0.9), n_bins=2)
    >>> calibration.overconfident_error_rate, calibration.mean_confidence_wrong, calibration.n_wrong
    ({0.5: 0.5, 0.9: 0.5}, 0.535, 2)
    >>> [(b.low, b.high, b.count, b.accuracy) for b in calibration.bins], round(calibration.ece, 6)
    ([(0.0, 0.5, 1, 0.0), (0.5, 1.0, 2, 0.5)], 0.34)

Not handled: confidences outside [0, 1] are binned into the first or last bin rather than rejected (the confidence
estimators never produce them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Calibration",
    "DEFAULT_N_BINS",
    "OVERCONFIDENCE_THRESHOLDS",
    "ReliabilityBin",
    "bin_index",
    "measure_calibration",
]

# The paper's; the one default of the training metrics (CCRLConfig.overconfidence_thresholds) and the evaluation.
OVERCONFIDENCE_THRESHOLDS = (0.5, 0.7, 0.9)
DEFAULT_N_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """One non-empty confidence bin ``[low, high)`` of the reliability diagram."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float  # share of the bin's numbers that are correct


@dataclass(frozen=True)
class Calibration:
    """Calibration statistics of a set of points; NaN where there is nothing to average over."""

    overconfident_error_rate: dict[float, float]  # threshold -> rate
    mean_confidence_correct: float
    mean_confidence_wrong: float
    ece: float
    bins: tuple[ReliabilityBin, ...]
    n_judged: int
    n_wrong: int

    def as_metrics(self) -> dict[str, float]:
        """Flat metric names, thresholds formatted with ``:g``; NaN kept (callers that log drop it).

        >>> measure_calibration([(0.95, False)], thresholds=(0.9,)).as_metrics()["overconfident_error_rate@0.9"]
        1.0
        """
        metrics = {f"overconfident_error_rate@{t:g}": rate for t, rate in self.overconfident_error_rate.items()}
        metrics["ece"] = self.ece
        metrics["mean_confidence_correct"] = self.mean_confidence_correct
        metrics["mean_confidence_wrong"] = self.mean_confidence_wrong
        return metrics


def measure_calibration(
    points: Iterable[tuple[float, bool]],
    *,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
    n_bins: int = DEFAULT_N_BINS,
) -> Calibration:
    """Overconfident-error rates, mean confidences, reliability bins and ECE of ``(confidence, correct)`` points."""
    if n_bins < 1:
        raise ValueError(f"n_bins={n_bins} must be >= 1: it is the number of equal-width confidence bins of the ECE.")
    points = [(float(confidence), bool(correct)) for confidence, correct in points]
    wrong = [confidence for confidence, correct in points if not correct]
    right = [confidence for confidence, correct in points if correct]
    rates = {t: sum(c > t for c in wrong) / len(wrong) if wrong else math.nan for t in thresholds}
    bins = _reliability_bins(points, n_bins)
    ece = sum(b.count / len(points) * abs(b.accuracy - b.mean_confidence) for b in bins) if points else math.nan
    return Calibration(
        overconfident_error_rate=rates,
        mean_confidence_correct=sum(right) / len(right) if right else math.nan,
        mean_confidence_wrong=sum(wrong) / len(wrong) if wrong else math.nan,
        ece=ece,
        bins=bins,
        n_judged=len(points),
        n_wrong=len(wrong),
    )


def bin_index(confidence: float, n_bins: int = DEFAULT_N_BINS) -> int:
    """Position of ``confidence``'s bin among ``n_bins`` equal-width bins (the reliability diagram's and the ECE's);
    a confidence of exactly 1 falls in the last.

    >>> bin_index(0.0), bin_index(0.95), bin_index(1.0), bin_index(0.5, n_bins=2)
    (0, 9, 9, 1)
    """
    return max(0, min(int(confidence * n_bins), n_bins - 1))


def _reliability_bins(points: list[tuple[float, bool]], n_bins: int) -> tuple[ReliabilityBin, ...]:
    members: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for confidence, correct in points:
        members[bin_index(confidence, n_bins)].append((confidence, correct))
    return tuple(
        ReliabilityBin(
            low=position / n_bins,
            high=(position + 1) / n_bins,
            count=len(contents),
            mean_confidence=sum(c for c, _ in contents) / len(contents),
            accuracy=sum(ok for _, ok in contents) / len(contents),
        )
        for position, contents in enumerate(members)
        if contents
    )
