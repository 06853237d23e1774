"""One rule, one place: which numbers are judged (``reward.is_judged``) and how the outcome reward is decided
(``reward.outcome_reward``). The reward, the reward info, the training metrics and the evaluation must agree."""

import re

import pytest

from verl_ccrl import CCRLConfig, is_judged, outcome_reward, score_response, token_char_spans
from verl_ccrl.eval.data import EvalExample
from verl_ccrl.eval.scoring import judged_points, score_sample, summarize_benchmark
from verl_ccrl.metrics import calibration_metrics, reward_info_metrics
from verl_ccrl.reward import calibration_points, count_numbers
from verl_ccrl.reward_info import RewardInfo, encode

PROBLEM = "A farm has 14 pens with 6 goats each. 25 goats are sold. How many goats remain?"
# 84 correct, 59 wrong, the final 59 a restatement (unverifiable), 14 / 6 / 25 extracted; the entropies leave the
# first number's tokens without a confidence, so one of the two numbers with a verdict is not judged.
RESPONSE = "14 * 6 = 84. 84 - 25 = 59. #### 59"


def spans_and_entropies(nan_at: str):
    pieces = [m.group().encode() for m in re.finditer(r" ?\d| ?[^\W\d]+| ?[^\w\s]+|\s+", RESPONSE)]
    spans = token_char_spans(pieces, RESPONSE)
    start = RESPONSE.index(nan_at)
    entropies = [float("nan") if begin >= start and end <= start + len(nan_at) else 0.2 for begin, end in spans]
    return spans, entropies


@pytest.mark.parametrize(
    ("kind", "verdict", "confidence", "judged"),
    [
        ("computed", "correct", 0.7, True),
        ("computed", "wrong", 0.0, True),
        ("computed", "wrong", None, False),
        ("computed", "unverifiable", 0.9, False),
        ("computed", None, 0.9, False),
        ("extracted", None, 0.9, False),
        ("extracted", "correct", 0.9, False),
    ],
)
def test_a_number_is_judged_when_computed_with_a_verdict_and_a_confidence(kind, verdict, confidence, judged):
    assert is_judged(kind, verdict, confidence) is judged
    assert calibration_points([(kind, verdict, confidence)]) == ([(confidence, verdict == "correct")] if judged else [])
    assert count_numbers([(kind, verdict, confidence)])["in_reward"] == judged


def test_the_reward_the_reward_info_the_metrics_and_the_evaluation_judge_the_same_numbers():
    spans, entropies = spans_and_entropies(nan_at="84")
    score = score_response(PROBLEM, RESPONSE, "59", token_spans=spans, entropies=entropies)
    in_reward = [(m.confidence, m.verdict == "correct") for m in score.mentions if m.in_reward]
    assert len(in_reward) == 1 and sum(m.has_verdict for m in score.mentions) == 2  # the rule bites here

    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    assert info.calibration_points() == in_reward and info.n_in_reward == 1

    assert calibration_metrics([score.mentions])["n_judged"] == 1
    assert reward_info_metrics([encode(info)])["ccrl/judged_per_response"] == 1

    example = EvalExample("gsm8k", 0, [{"role": "user", "content": PROBLEM}], PROBLEM, "59", None, (), "f", 0)
    record = score_sample(
        example, RESPONSE, token_spans=spans, entropies=entropies, n_tokens=len(spans), finish_reason="stop",
        config=CCRLConfig(),
    )  # fmt: skip
    assert judged_points([record]) == in_reward
    summary = summarize_benchmark([record])
    assert summary["calibration"]["n_judged"] == 1
    counts = score.counts()
    assert (summary["n_extracted"], summary["n_computed"], summary["n_unverifiable"]) == (
        counts["extracted"],
        counts["computed"],
        counts["unverifiable"],
    )


@pytest.mark.parametrize(
    ("response", "ground_truth", "answer_type", "correct"),
    [
        ("4 * 3 = 12. #### 12", "12", None, True),
        ("4 * 3 = 12. #### 13", "12", None, False),
        ("The answer is Vendor 2", "Vendor 2", "text", True),
        ("no answer here", "12", None, False),
    ],
)
def test_the_outcome_of_the_reward_is_the_outcome_reward(response, ground_truth, answer_type, correct):
    config = CCRLConfig(correct_reward=2.0, wrong_reward=-1.0)
    outcome = outcome_reward(response, ground_truth, config=config, answer_type=answer_type)
    score = score_response("", response, ground_truth, config=config, answer_type=answer_type)
    assert outcome.correct is correct and outcome.reward == (2.0 if correct else -1.0)
    assert (score.answer, score.answer_correct, score.outcome) == (outcome.answer, outcome.correct, outcome.reward)
