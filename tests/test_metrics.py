import math
from types import SimpleNamespace

import pytest

from verl_ccrl import calibration_metrics


def number(verdict, confidence, kind="computed"):
    return SimpleNamespace(kind=kind, verdict=verdict, confidence=confidence)


def test_overconfident_error_rate_counts_wrong_numbers_above_each_threshold():
    batch = [[number("wrong", 0.95), number("wrong", 0.75), number("wrong", 0.55), number("wrong", 0.2)]]
    metrics = calibration_metrics(batch)
    assert (metrics["overconfident_error_rate@0.5"], metrics["overconfident_error_rate@0.7"],
            metrics["overconfident_error_rate@0.9"]) == (0.75, 0.5, 0.25)  # fmt: skip


def test_rates_are_nan_without_wrong_numbers():
    assert math.isnan(calibration_metrics([[number("correct", 0.9)]])["overconfident_error_rate@0.5"])


def test_mean_confidences_split_by_verdict():
    metrics = calibration_metrics([[number("correct", 0.8), number("correct", 0.6)], [number("wrong", 0.3)]])
    assert metrics["mean_confidence_correct"] == pytest.approx(0.7)
    assert metrics["mean_confidence_wrong"] == pytest.approx(0.3)


def test_ece_matches_a_hand_computation():
    # bin [0.9, 1.0]: confidences 0.95, 0.95, accuracy 0.5 -> |0.5 - 0.95| = 0.45, weight 2/3
    # bin [0.2, 0.3): confidence 0.25, accuracy 0 -> 0.25, weight 1/3
    batch = [[number("correct", 0.95), number("wrong", 0.95), number("wrong", 0.25)]]
    assert calibration_metrics(batch)["ece"] == pytest.approx(2 / 3 * 0.45 + 1 / 3 * 0.25)


def test_perfectly_calibrated_certain_numbers_have_zero_ece():
    assert calibration_metrics([[number("correct", 1.0)] * 5])["ece"] == pytest.approx(0.0)


def test_counts_and_shares():
    batch = [[number(None, None, kind="extracted"), number("unverifiable", 0.5), number("correct", None)], []]
    metrics = calibration_metrics(batch)
    assert (metrics["n_extracted"], metrics["n_computed"], metrics["n_unverifiable"], metrics["n_judged"]) == (
        1,
        2,
        1,
        0,
    )
    assert metrics["unverifiable_share"] == 0.5 and metrics["computed_per_response"] == 1.0
