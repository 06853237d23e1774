"""Step and batch metrics of scored responses: number counts plus the calibration of computed numbers (the
statistics themselves are ``verl_ccrl.calibration.measure_calibration``). Pure Python, no verl import.

- ``calibration_metrics``: over scored mentions (``score.mentions`` of ``score_response``), the calibration metrics
  (``overconfident_error_rate@t``, ``mean_confidence_correct`` / ``_wrong``, ``ece``; NaN where undefined) and counts
  of extracted / computed / unverifiable mentions and of numbers in C.
- ``reward_info_metrics``: the trainer's ``ccrl/*`` step metrics from the ``ccrl`` reward manager's records,
  including the counts of responses whose reward degraded: ``ccrl/bounded_responses``, ``ccrl/malformed_inputs``,
  ``ccrl/scoring_errors``.

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

from verl_ccrl.calibration import DEFAULT_N_BINS, OVERCONFIDENCE_THRESHOLDS, measure_calibration
from verl_ccrl.reward import calibration_points, count_numbers
from verl_ccrl.reward_info import RewardInfo, decode, is_encoded

__all__ = ["calibration_metrics", "reward_info_metrics"]


def calibration_metrics(
    responses: Iterable[Sequence],
    *,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
    n_bins: int = DEFAULT_N_BINS,
) -> dict[str, float]:
    """Metrics over ``responses``, each a sequence of numbers with ``kind``, ``verdict`` and ``confidence``
    (``ScoredMention`` from ``score_response``; pass ``score.mentions``)."""
    numbers = []
    n_responses = 0
    for response in responses:
        n_responses += 1
        numbers.extend((number.kind, number.verdict, number.confidence) for number in response)
    counts = count_numbers(numbers)
    judged = calibration_points(numbers)

    calibration = measure_calibration(judged, thresholds=thresholds, n_bins=n_bins)
    metrics = calibration.as_metrics()
    metrics["n_extracted"] = float(counts["extracted"])
    metrics["n_computed"] = float(counts["computed"])
    metrics["n_unverifiable"] = float(counts["unverifiable"])
    metrics["n_judged"] = float(calibration.n_judged)
    metrics["unverifiable_share"] = counts["unverifiable"] / counts["computed"] if counts["computed"] else math.nan
    metrics["computed_per_response"] = counts["computed"] / n_responses if n_responses else math.nan
    return metrics


def reward_info_metrics(
    infos: Sequence[dict | RewardInfo],
    *,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
    n_bins: int = DEFAULT_N_BINS,
) -> dict[str, float]:
    """``ccrl/*`` step metrics from the per-response ``reward_extra_info`` of the ``ccrl`` reward manager (encoded
    dicts, decoded with ``verl_ccrl.reward_info.decode``, or ``RewardInfo`` records). Entries that are not CCRL
    records (another reward manager's, padding) are skipped.

    Metrics with nothing to average over this step (no wrong number, say) are left out rather than logged as NaN.

    >>> from verl_ccrl.reward_info import JudgedNumber, encode
    >>> info = RewardInfo(answer_correct=True, outcome=1.0, confidence_term=0.2, n_computed=3, n_unverifiable=1,
    ...     numbers=(JudgedNumber((4,), "wrong", 0.95, -0.95), JudgedNumber((9,), "correct", 0.8, 0.8)))
    >>> metrics = reward_info_metrics([encode(info)], thresholds=(0.9,))
    >>> metrics["ccrl/overconfident_error_rate@0.9"], metrics["ccrl/computed_per_response"]
    (1.0, 3.0)
    """
    records = [decode(info) if is_encoded(info) else info for info in infos]
    records = [record for record in records if isinstance(record, RewardInfo)]
    if not records:
        return {}
    judged = [point for record in records for point in record.calibration_points()]
    n_computed = sum(record.n_computed for record in records)
    metrics = {
        "ccrl/outcome_mean": sum(record.outcome for record in records) / len(records),
        "ccrl/confidence_term_mean": sum(record.confidence_term for record in records) / len(records),
        "ccrl/computed_per_response": n_computed / len(records),
        "ccrl/judged_per_response": len(judged) / len(records),
        "ccrl/missing_entropies_share": sum(record.missing_entropies for record in records) / len(records),
        # Counts, not shares: each is a response whose reward degraded (to the outcome) and that someone should see.
        "ccrl/bounded_responses": float(sum(record.bounded for record in records)),
        "ccrl/malformed_inputs": float(sum(record.malformed_input for record in records)),
        "ccrl/scoring_errors": float(sum(record.scoring_error for record in records)),
    }
    if n_computed:
        metrics["ccrl/unverifiable_share"] = sum(record.n_unverifiable for record in records) / n_computed
    calibration = measure_calibration(judged, thresholds=thresholds, n_bins=n_bins).as_metrics()
    metrics.update({f"ccrl/{name}": value for name, value in calibration.items() if not math.isnan(value)})
    return metrics
