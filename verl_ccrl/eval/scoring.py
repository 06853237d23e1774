"""Scoring eval responses with the CCRL analysis, and the per-benchmark summary.

Each response is scored by :func:`verl_ccrl.score_response` with ``answer_fallback_last_number=True`` (a response
that never states "The answer is" / ``####`` / ``\\boxed{}`` is judged by its last number, as is usual for these
benchmarks). Accuracy is ``answer_correct``. Every *computed* number with a verdict (correct / wrong) and a
confidence c = exp(-mean entropy over its tokens) is a calibration point; the overconfident-error rate at t is the
share of wrong ones with c > t (:func:`verl_ccrl.calibration_metrics`).

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
from types import SimpleNamespace
from typing import Any

from verl_ccrl.config import CCRLConfig
from verl_ccrl.metrics import calibration_metrics
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

OVERCONFIDENCE_THRESHOLDS = (0.5, 0.7, 0.9)  # the paper's
RELIABILITY_BINS = 10  # as the ECE of verl_ccrl.metrics
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


def _as_numbers(record: dict[str, Any]) -> list[SimpleNamespace]:
    return [SimpleNamespace(**number) for number in record["numbers"]]


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
    numbers = [
        SimpleNamespace(kind="computed", verdict="correct" if correct else "wrong", confidence=confidence)
        for confidence, correct in points
    ]
    metrics = calibration_metrics([numbers], thresholds=OVERCONFIDENCE_THRESHOLDS, n_bins=RELIABILITY_BINS)
    summary = {
        f"overconfident_error_rate@{t:g}": metrics[f"overconfident_error_rate@{t:g}"] for t in OVERCONFIDENCE_THRESHOLDS
    }
    summary.update(
        ece=metrics["ece"],
        mean_confidence_correct=metrics["mean_confidence_correct"],
        mean_confidence_wrong=metrics["mean_confidence_wrong"],
        n_judged=len(points),
        n_wrong=sum(not correct for _, correct in points),
    )
    return summary


def reliability_bins(points: Sequence[tuple[float, bool]], n_bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """Equal-width confidence bins (the ECE's): count, mean confidence and share correct of each non-empty bin.

    >>> reliability_bins([(0.95, True), (0.92, False), (0.15, False)], n_bins=2)
    [{'low': 0.0, 'high': 0.5, 'count': 1, 'mean_confidence': 0.15, 'accuracy': 0.0}, {'low': 0.5, 'high': 1.0, 'count': 2, 'mean_confidence': 0.935, 'accuracy': 0.5}]
    """
    members: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for confidence, correct in points:
        members[min(int(confidence * n_bins), n_bins - 1)].append((confidence, correct))
    bins = []
    for position, contents in enumerate(members):
        if contents:
            bins.append(
                {
                    "low": position / n_bins,
                    "high": (position + 1) / n_bins,
                    "count": len(contents),
                    "mean_confidence": round(sum(c for c, _ in contents) / len(contents), 12),
                    "accuracy": sum(ok for _, ok in contents) / len(contents),
                }
            )
    return bins


def summarize_benchmark(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (%), n, mean response tokens, number counts and calibration of one benchmark's records."""
    n = len(records)
    metrics = calibration_metrics(
        [_as_numbers(record) for record in records], thresholds=OVERCONFIDENCE_THRESHOLDS, n_bins=RELIABILITY_BINS
    )
    points = judged_points(records)
    return {
        "n": n,
        "accuracy": 100.0 * sum(record["correct"] for record in records) / n if n else math.nan,
        "mean_response_tokens": sum(record["n_tokens"] for record in records) / n if n else math.nan,
        "truncated_share": sum(record["finish_reason"] == "length" for record in records) / n if n else math.nan,
        "n_extracted": int(metrics["n_extracted"]),
        "n_computed": int(metrics["n_computed"]),
        "n_unverifiable": int(metrics["n_unverifiable"]),
        "calibration": calibration_summary(points),
        "reliability": reliability_bins(points),
    }
