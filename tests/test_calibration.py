"""``measure_calibration`` against a direct reference computation, and its two users agreeing with it."""

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verl_ccrl.calibration import measure_calibration
from verl_ccrl.eval.scoring import calibration_summary, summarize_benchmark
from verl_ccrl.metrics import calibration_metrics, reward_info_metrics
from verl_ccrl.reward_info import JudgedNumber, RewardInfo, encode

THRESHOLDS = (0.5, 0.7, 0.9)
points_strategy = st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0), st.booleans()), max_size=40)


def reference(points, thresholds=THRESHOLDS, n_bins=10):
    """The textbook definitions, written out independently: ECE as sum_b |n_correct(b) - sum conf(b)| / N."""
    wrong = [c for c, ok in points if not ok]
    right = [c for c, ok in points if ok]
    mean = lambda values: sum(values) / len(values) if values else math.nan  # noqa: E731
    ece = math.nan
    if points:
        ece = 0.0
        for b in range(n_bins):
            members = [
                (c, ok) for c, ok in points if b / n_bins <= c < (b + 1) / n_bins or (b == n_bins - 1 and c == 1)
            ]
            ece += abs(sum(ok for _, ok in members) - sum(c for c, _ in members)) / len(points)
    return {
        "rates": {t: (len([c for c in wrong if c > t]) / len(wrong) if wrong else math.nan) for t in thresholds},
        "mean_right": mean(right),
        "mean_wrong": mean(wrong),
        "ece": ece,
    }


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(points=points_strategy)
def test_measure_calibration_matches_the_reference_definitions(points):
    measured, expected = measure_calibration(points, thresholds=THRESHOLDS), reference(points)
    assert all(same(measured.overconfident_error_rate[t], expected["rates"][t]) for t in THRESHOLDS)
    assert same(measured.mean_confidence_correct, expected["mean_right"])
    assert same(measured.mean_confidence_wrong, expected["mean_wrong"])
    assert same(measured.ece, expected["ece"])


@settings(max_examples=100, deadline=None)
@given(points=points_strategy)
def test_reliability_bins_partition_the_points(points):
    bins = measure_calibration(points).bins
    assert sum(b.count for b in bins) == len(points)
    assert all(b.low <= b.mean_confidence <= b.high for b in bins)


def test_a_confidence_of_one_falls_in_the_last_bin():
    [only] = measure_calibration([(1.0, True)], n_bins=4).bins
    assert (only.low, only.high) == (0.75, 1.0)


def test_zero_bins_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="n_bins=0"):
        measure_calibration([(0.5, True)], n_bins=0)


POINTS = [(0.95, False), (0.92, True), (0.6, False), (0.3, True), (0.75, False)]


def test_training_and_evaluation_report_the_same_calibration():
    numbers = [SimpleNamespace(kind="computed", verdict="correct" if ok else "wrong", confidence=c) for c, ok in POINTS]
    records = [
        {"correct": True, "n_tokens": 5, "finish_reason": "stop",
         "numbers": [{"kind": "computed", "verdict": "correct" if ok else "wrong", "confidence": c} for c, ok in POINTS]}
    ]  # fmt: skip
    info = RewardInfo(
        True,
        1.0,
        0.0,
        numbers=tuple(JudgedNumber((i,), "correct" if ok else "wrong", c, 0.0) for i, (c, ok) in enumerate(POINTS)),
    )
    batch, step = calibration_metrics([numbers]), reward_info_metrics([encode(info)])
    evaluation = summarize_benchmark(records)["calibration"]
    expected = reference(POINTS)
    for t in THRESHOLDS:
        key = f"overconfident_error_rate@{t:g}"
        assert batch[key] == step[f"ccrl/{key}"] == evaluation[key] == expected["rates"][t]
    assert batch["ece"] == step["ccrl/ece"] == evaluation["ece"] == pytest.approx(expected["ece"])
    assert calibration_summary(POINTS) == evaluation
