"""Scoring eval responses with the CCRL analysis, and the per-benchmark summary.

Each response is scored by :func:`verl_ccrl.score_response` with ``answer_fallback_last_number=True`` (a response
that never states "The answer is" / ``####`` / ``\\boxed{}`` is judged by its last number, as is usual for these
benchmarks). Accuracy is ``answer_correct``. Every *computed* number with a verdict (correct / wrong) and a
confidence c = exp(-mean entropy over its tokens) is a calibration point; the overconfident-error rate at t is the
share of wrong ones with c > t (:func:`verl_ccrl.calibration.measure_calibration`, as in the training metrics).
The final answer is a second kind of calibration point: (its confidence, the response is correct), see
:func:`answer_confidence`.

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

from verl_ccrl.answer import parse_ground_truth
from verl_ccrl.calibration import DEFAULT_N_BINS, OVERCONFIDENCE_THRESHOLDS, Calibration, measure_calibration
from verl_ccrl.config import CCRLConfig
from verl_ccrl.reward import calibration_points, count_numbers, score_response

__all__ = [
    "EVAL_SCORING_CONFIG",
    "RELIABILITY_BINS",
    "answer_confidence",
    "answer_points",
    "calibration_summary",
    "judged_points",
    "mean_entropy",
    "reliability_bins",
    "score_sample",
    "summarize_benchmark",
]

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
    """The audit record of one response: answer, correctness, the answer's confidence (:func:`answer_confidence`),
    and every number with kind, verdict, confidence, reason, its response tokens and their mean entropy."""
    score = score_response(
        example.question,
        response,
        example.ground_truth,
        reference=example.reference,
        reference_values_extra=example.reference_values,
        token_spans=token_spans,
        entropies=entropies,
        config=config,
        answer_type=example.answer_type,
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
        "answer_confidence": answer_confidence(score.answer, score.mentions),
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
                "tokens": list(mention.token_indices) if mention.token_indices else None,
                "mean_entropy": mean_entropy(mention.token_indices, entropies),
            }
            for mention in score.mentions
        ],
    }


def mean_entropy(token_indices: Sequence[int] | None, entropies: Sequence[float] | None) -> float | None:
    """Mean entropy (nats) over a number's tokens, as shown beside its confidence; None without tokens or entropies,
    or where one of them is missing or not finite.

    >>> mean_entropy((1, 2), [9.0, 0.5, 0.25]), mean_entropy((3,), [0.1]), mean_entropy(None, [0.1])
    (0.375, None, None)
    """
    if not token_indices or entropies is None or max(token_indices) >= len(entropies):
        return None
    values = [float(entropies[index]) for index in token_indices]
    return sum(values) / len(values) if all(math.isfinite(value) for value in values) else None


def answer_confidence(answer: str | None, mentions: Sequence) -> float | None:
    """The confidence of the final answer: that of the *last* number mention whose value equals the answer's.

    ``mentions`` are the scored mentions of the response (:class:`verl_ccrl.reward.ScoredMention`, in response
    order), ``answer`` the extracted final answer text. The answer's value is ``parse_ground_truth(answer)`` (one
    number, give or take currency and formatting). None when the answer is missing or not one number, when no
    mention has its value, or when the last such mention has no confidence (an extracted number, i.e. one the
    problem gives, or tokens without usable entropies); no earlier mention stands in for it.

    Worked example: in "4 * 3 = 12 and 12 + 5 = 17. The answer is 17." the answer is 17; the mentions with value 17
    are the result of "12 + 5 = 17" and the "17" after "The answer is". The last one states the answer, so its
    confidence (0.5 below: entropy ln 2 on its token) is the answer's, not the 1.0 of the "= 17" that computed it.

    >>> import math, re
    >>> problem, response = "Ann buys 4 pens at $3 and a $5 book.", "4 * 3 = 12 and 12 + 5 = 17. The answer is 17."
    >>> spans = [(m.start(), m.end()) for m in re.finditer(r"\\S+", response)]  # one token per word
    >>> score = score_response(problem, response, "17", token_spans=spans,
    ...                        entropies=[0.0] * (len(spans) - 1) + [math.log(2)])
    >>> [(m.text, m.confidence) for m in score.mentions if m.value == 17]
    [('17', 1.0), ('17', 0.5)]
    >>> answer_confidence(score.answer, score.mentions)
    0.5
    >>> answer_confidence("4", score.mentions) is None  # 4 is given by the problem: extracted, no confidence
    True
    """
    value = parse_ground_truth(answer.strip()) if answer else None
    if value is None:
        return None
    stating = [mention for mention in mentions if mention.value == value]
    return stating[-1].confidence if stating else None


def answer_points(records: Iterable[dict[str, Any]]) -> list[tuple[float, bool]]:
    """(answer confidence, correct) of every response whose final answer has a confidence (``answer_confidence``)."""
    return [
        (float(record["answer_confidence"]), bool(record["correct"]))
        for record in records
        if record.get("answer_confidence") is not None
    ]


def judged_points(records: Iterable[dict[str, Any]]) -> list[tuple[float, bool]]:
    """(confidence, correct) of every judged number (``reward.is_judged``): the calibration points."""
    return calibration_points(_numbers(records))


def _numbers(records: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, float | None]]:
    """(kind, verdict, confidence) of every number of the audit records."""
    return [(n["kind"], n["verdict"], n["confidence"]) for record in records for n in record["numbers"]]


def calibration_summary(
    points: Sequence[tuple[float, bool]], thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS
) -> dict[str, float]:
    """Overconfident-error rates, mean confidences and ECE of pooled calibration points (NaN where undefined).

    >>> summary = calibration_summary([(0.95, False), (0.6, False), (0.8, True)])
    >>> summary["overconfident_error_rate@0.9"], summary["overconfident_error_rate@0.5"], summary["n_wrong"]
    (0.5, 1.0, 2)
    """
    return _summary(_calibration(points, thresholds=thresholds))


def reliability_bins(points: Sequence[tuple[float, bool]], n_bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """Equal-width confidence bins (the ECE's): count, mean confidence and share correct of each non-empty bin.

    >>> reliability_bins([(0.95, True), (0.92, False), (0.15, False)], n_bins=2)
    [{'low': 0.0, 'high': 0.5, 'count': 1, 'mean_confidence': 0.15, 'accuracy': 0.0}, {'low': 0.5, 'high': 1.0, 'count': 2, 'mean_confidence': 0.935, 'accuracy': 0.5}]
    """
    return _bins(_calibration(points, n_bins))


def summarize_benchmark(
    records: Sequence[dict[str, Any]], thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS
) -> dict[str, Any]:
    """Accuracy (%), n, mean response tokens, number counts, calibration of computed numbers and of final answers
    (overconfident-error rates at ``thresholds``)."""
    n = len(records)
    counts = count_numbers(_numbers(records))
    calibration = _calibration(judged_points(records), thresholds=thresholds)
    answers = _calibration(answer_points(records), thresholds=thresholds)
    return {
        "n": n,
        "accuracy": 100.0 * sum(record["correct"] for record in records) / n if n else math.nan,
        "mean_response_tokens": sum(record["n_tokens"] for record in records) / n if n else math.nan,
        "truncated_share": sum(record["finish_reason"] == "length" for record in records) / n if n else math.nan,
        "n_extracted": counts["extracted"],
        "n_computed": counts["computed"],
        "n_unverifiable": counts["unverifiable"],
        "calibration": _summary(calibration),
        "reliability": _bins(calibration),
        "answer_calibration": _summary(answers),
    }


def _calibration(
    points: Sequence[tuple[float, bool]],
    n_bins: int = RELIABILITY_BINS,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
) -> Calibration:
    return measure_calibration(points, thresholds=thresholds, n_bins=n_bins)


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
