"""Scoring eval responses with the CCRL analysis, and the per-benchmark summary.

Each response is scored by :func:`verl_ccrl.score_response` with ``answer_fallback_last_number=True`` (a response
that never states "The answer is" / ``####`` / ``\\boxed{}`` is judged by its last number, as is usual for these
benchmarks). Accuracy is ``answer_correct``. Every *computed* number with a verdict (correct / wrong) and a
confidence c = exp(-mean entropy over its tokens) is a calibration point; the overconfident-error rate at t is the
share of wrong ones with c > t (:func:`verl_ccrl.calibration.measure_calibration`, as in the training metrics).

Example::

    >>> from verl_ccrl.eval.data import EvalExample
    >>> example = EvalExample("gsm8k", 0, [{"role": "user", "content": "q"}], "Ann has 4 bags of 3 pears.", "12",
    ...                       None, (), "f.parquet", 0)
    >>> record = score_sample(example, "4 * 3 = 13 so 13", token_spans=None, entropies=None, n_tokens=9,
    ...                       finish_reason="stop")
    >>> record["answer"], record["correct"], [(n["text"], n["verdict"]) for n in record["numbers"] if n["kind"] != "extracted"]
    ('13', False, [('13', 'wrong'), ('13', 'unverifiable')])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from verl_ccrl.calibration import DEFAULT_N_BINS, DEFAULT_THRESHOLDS, Calibration, measure_calibration
from verl_ccrl.config import CCRLConfig
from verl_ccrl.reward import score_response

__all__ = [
    "EVAL_SCORING_CONFIG",
    "OVERCONFIDENCE_THRESHOLDS",
    "RELIABILITY_BINS",
    "calibration_summary",
    "judged_points",
    "reliability_bins",
    "score_sample",
    "summarize_benchmark",
]

OVERCONFIDENCE_THRESHOLDS = DEFAULT_THRESHOLDS  # the paper's
RELIABILITY_BINS = DEFAULT_N_BINS  # as the ECE of the training metrics
EVAL_SCORING_CONFIG = CCRLConfig(answer_fallback_last_number=True)


def score_sample(
    example,
    response: str,
    *,
    token_spans: Sequence | None,
    entropies: Sequence[float] | None,
    n_tokens: int,
    finish_reason: str,
    config: CCRLConfig = EVAL_SCORING_CONFIG,
) -> dict[str, Any]:
    """The audit record of one response: answer, correctness, and every number with kind, verdict, confidence."""
    score = score_response(
        example.question,
        response,
        example.ground_truth,
        reference=example.reference,
        reference_values_extra=example.reference_values,
        token_spans=token_spans,
        entropies=entropies,
        config=config,
    )
    return {
        "benchmark": example.benchmark,
        "index": example.index,
        "id": example.row_id,
        "source_file": example.source_file,
        "row": example.row,
        "question": example.question,
        "ground_truth": example.ground_truth,
        "response": response,
        "answer": score.answer,
        "correct": bool(score.answer_correct),
        "n_tokens": int(n_tokens),
        "finish_reason": finish_reason,
        "entropy_status": score.entropy_status,
        "numbers": [
            {
                "text": mention.text,
                "start": mention.start,
                "end": mention.end,
                "kind": mention.kind,
                "verdict": mention.verdict,
                "confidence": mention.confidence,
                "reason": mention.reason,
            }
            for mention in score.mentions
        ],
    }


def judged_points(records: Iterable[dict[str, Any]]) -> list[tuple[float, bool]]:
    """(confidence, correct) of every computed number with a verdict and a confidence: the calibration points."""
    points = []
    for record in records:
        for number in record["numbers"]:
            if number["kind"] != "extracted" and number["verdict"] in ("correct", "wrong"):
                if number["confidence"] is not None:
                    points.append((float(number["confidence"]), number["verdict"] == "correct"))
    return points


def calibration_summary(points: Sequence[tuple[float, bool]]) -> dict[str, float]:
    """Overconfident-error rates, mean confidences and ECE of pooled calibration points (NaN where undefined).

    >>> summary = calibration_summary([(0.95, False), (0.6, False), (0.8, True)])
    >>> summary["overconfident_error_rate@0.9"], summary["overconfident_error_rate@0.5"], summary["n_wrong"]
    (0.5, 1.0, 2)
    """
    return _summary(_calibration(points))


def reliability_bins(points: Sequence[tuple[float, bool]], n_bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """Equal-width confidence bins (the ECE's): count, mean confidence and share correct of each non-empty bin.

    >>> reliability_bins([(0.95, True), (0.92, False), (0.15, False)], n_bins=2)
    [{'low': 0.0, 'high': 0.5, 'count': 1, 'mean_confidence': 0.15, 'accuracy': 0.0}, {'low': 0.5, 'high': 1.0, 'count': 2, 'mean_confidence': 0.935, 'accuracy': 0.5}]
    """
    return _bins(_calibration(points, n_bins))


def summarize_benchmark(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (%), n, mean response tokens, number counts and calibration of one benchmark's records."""
    n = len(records)
    numbers = [number for record in records for number in record["numbers"]]
    calibration = _calibration(judged_points(records))
    return {
        "n": n,
        "accuracy": 100.0 * sum(record["correct"] for record in records) / n if n else math.nan,
        "mean_response_tokens": sum(record["n_tokens"] for record in records) / n if n else math.nan,
        "truncated_share": sum(record["finish_reason"] == "length" for record in records) / n if n else math.nan,
        "n_extracted": sum(number["kind"] == "extracted" for number in numbers),
        "n_computed": sum(number["kind"] != "extracted" for number in numbers),
        "n_unverifiable": sum(
            number["kind"] != "extracted" and number["verdict"] == "unverifiable" for number in numbers
        ),
        "calibration": _summary(calibration),
        "reliability": _bins(calibration),
    }


def _calibration(points: Sequence[tuple[float, bool]], n_bins: int = RELIABILITY_BINS) -> Calibration:
    return measure_calibration(points, thresholds=OVERCONFIDENCE_THRESHOLDS, n_bins=n_bins)


def _summary(calibration: Calibration) -> dict[str, float]:
    summary: dict[str, float] = {
        f"overconfident_error_rate@{t:g}": rate for t, rate in calibration.overconfident_error_rate.items()
    }
    summary.update(
        ece=calibration.ece,
        mean_confidence_correct=calibration.mean_confidence_correct,
        mean_confidence_wrong=calibration.mean_confidence_wrong,
        n_judged=calibration.n_judged,
        n_wrong=calibration.n_wrong,
    )
    return summary


def _bins(calibration: Calibration) -> list[dict[str, Any]]:
    return [
        {
            "low": b.low,
            "high": b.high,
            "count": b.count,
            "mean_confidence": round(b.mean_confidence, 12),
            "accuracy": b.accuracy,
        }
        for b in calibration.bins
    ]
