import math
import re

import pytest

from verl_ccrl import CCRLConfig, score_response, token_char_spans
from verl_ccrl.reward import place_token_rewards

PROBLEM = "A farm has 14 pens with 6 goats each. 25 goats are sold. How many goats remain?"


def char_tokens(response):
    """One token per digit / word / symbol run, like a single-digit tokenizer."""
    pieces = [m.group().encode() for m in re.finditer(r" ?\d| ?[^\W\d]+| ?[^\w\s]+|\s+", response)]
    return token_char_spans(pieces, response)


def score(response, entropy=0.0, ground_truth="59", config=None, entropies=None, **kwargs):
    spans = char_tokens(response)
    if entropies is None:
        entropies = [entropy] * len(spans)
    return score_response(
        PROBLEM, response, ground_truth, token_spans=spans, entropies=entropies, config=config, **kwargs
    )


def test_correct_answer_earns_the_outcome_reward():
    assert score("14 * 6 = 84. 84 - 25 = 59. #### 59").outcome == 1.0


def test_wrong_answer_earns_the_wrong_reward():
    assert score("14 * 6 = 84. 84 - 25 = 58. #### 58").outcome == 0.0


def test_confident_correct_number_adds_alpha_times_confidence():
    result = score("14 * 6 = 84 goats. #### 59", entropy=0.0)
    assert result.confidence_term == pytest.approx(CCRLConfig().alpha)


def test_wrong_number_with_high_confidence_is_penalised_more():
    confident = score("14 * 6 = 74. #### 49", entropy=0.01)
    hesitant = score("14 * 6 = 74. #### 49", entropy=1.5)
    assert confident.confidence_term < hesitant.confidence_term < 0


def test_correct_number_with_high_confidence_earns_more():
    confident = score("14 * 6 = 84. #### 59", entropy=0.01)
    hesitant = score("14 * 6 = 84. #### 59", entropy=1.5)
    assert confident.confidence_term > hesitant.confidence_term > 0


def test_wrong_is_penalised_harder_than_right_is_rewarded_at_equal_confidence():
    right = score("14 * 6 = 84.", entropy=0.2).confidence_term
    wrong = score("14 * 6 = 74.", entropy=0.2).confidence_term
    assert abs(wrong) == pytest.approx(2 * right)


def test_term_is_the_mean_over_judged_numbers():
    result = score("14 * 6 = 84. 84 - 25 = 58. #### 58", entropy=0.0)
    config = CCRLConfig()
    assert result.confidence_term == pytest.approx((config.alpha - config.beta) / 2)


def test_wrong_number_below_tau_is_not_penalised_but_still_counted():
    config = CCRLConfig(tau=0.9)
    result = score("14 * 6 = 84. 84 - 25 = 58.", entropy=0.5, config=config)  # c = 0.61 < tau
    assert result.confidence_term == pytest.approx(config.alpha * math.exp(-0.5) / 2)


def test_unverifiable_and_extracted_numbers_do_not_enter_the_reward():
    result = score("There are 14 pens and maybe 80 goats.", entropy=0.0)
    assert result.confidence_term == 0.0 and not any(m.in_reward for m in result.mentions)


def test_token_rewards_sum_to_the_total():
    result = score("14 * 6 = 84. 84 - 25 = 58. #### 58", entropy=0.3)
    assert sum(result.token_rewards) == pytest.approx(result.total)


def test_number_term_sits_on_its_last_token_and_outcome_on_the_last_token():
    response = "14 * 6 = 84. So 84 goats."
    result = score(response, entropy=0.0)
    spans = char_tokens(response)
    (judged,) = [m for m in result.mentions if m.in_reward]
    assert spans[judged.token_indices[-1]][1] == judged.end
    assert result.token_rewards[judged.token_indices[-1]] == pytest.approx(judged.term)
    assert result.token_rewards[-1] == pytest.approx(result.outcome)


def test_confidence_comes_from_the_numbers_own_tokens():
    response = "14 * 6 = 84."
    spans = char_tokens(response)
    entropies = [0.0] * len(spans)
    eight = next(i for i, span in enumerate(spans) if response[span[0] : span[1]].strip() == "8")
    entropies[eight] = 2.0
    (judged,) = [m for m in score(response, entropies=entropies).mentions if m.in_reward]
    assert judged.confidence == pytest.approx(math.exp(-1.0))  # mean entropy over "8" and "4"


def test_missing_entropies_degrade_to_outcome_only():
    result = score_response(PROBLEM, "14 * 6 = 84. #### 59", "59")
    assert result.total == result.outcome == 1.0
    assert result.entropy_status == "missing" and result.token_rewards is None


def test_wrong_length_entropies_degrade_to_outcome_only_and_say_why():
    response = "14 * 6 = 84. #### 59"
    result = score(response, entropies=[0.1, 0.2])
    assert result.total == 1.0 and "length mismatch" in result.entropy_status
    assert sum(result.token_rewards) == pytest.approx(1.0)


def test_nan_entropy_at_a_number_removes_only_that_number():
    response = "14 * 6 = 84. 84 - 25 = 58."
    spans = char_tokens(response)
    entropies = [0.0] * len(spans)
    entropies[next(i for i, s in enumerate(spans) if response[s[0] : s[1]].strip() == "4" and s[0] == 10)] = float(
        "nan"
    )
    result = score(response, entropies=entropies)
    assert [m.text for m in result.mentions if m.in_reward] == ["58"]


def test_ground_truth_counts_as_a_reference_value():
    result = score("So 59 goats remain.", entropy=0.0)
    assert [(m.text, m.verdict) for m in result.mentions] == [("59", "correct")]


def test_counts_summarise_the_mentions():
    counts = score("14 * 6 = 84. 84 - 25 = 58. #### 58").counts()
    assert counts == {"extracted": 3, "computed": 4, "correct": 1, "wrong": 1, "unverifiable": 2, "in_reward": 2}


def test_outcome_dominates_with_default_scales():
    config = CCRLConfig()
    best_wrong = config.wrong_reward + config.alpha
    worst_right = config.correct_reward - config.beta
    assert worst_right > best_wrong


def test_rescoring_with_the_same_entropies_reproduces_the_confidence_term():
    from verl_ccrl import rescore_numbers

    response = "14 * 6 = 84. 84 - 25 = 58. #### 58"
    spans = char_tokens(response)
    entropies = [0.05 * (index % 7) for index in range(len(spans))]
    result = score(response, entropies=entropies)
    numbers = [(m.token_indices, m.verdict == "correct") for m in result.mentions if m.has_verdict and m.token_indices]
    term, placed = rescore_numbers(numbers, entropies)
    assert term == pytest.approx(result.confidence_term)
    assert [token for token, *_ in placed] == [m.token_indices[-1] for m in result.mentions if m.in_reward]


def test_rescoring_with_other_entropies_changes_only_the_confidences():
    from verl_ccrl import rescore_numbers

    (term_sure, _), (term_unsure, _) = (rescore_numbers([([0, 1], False)], [h, h]) for h in (0.0, 2.0))
    assert term_sure == pytest.approx(-CCRLConfig().beta) and term_unsure == pytest.approx(
        -CCRLConfig().beta * math.exp(-2)
    )


def test_token_level_scores_keep_the_total_and_put_terms_on_their_tokens():
    scores = place_token_rewards(6, 0.875, [(1, 0.25), (3, -0.375)])
    assert scores == [0.0, 0.25, 0.0, -0.375, 0.0, 1.0]
    assert sum(scores) == pytest.approx(0.875)


def test_token_terms_outside_the_response_stay_in_the_last_token():
    scores = place_token_rewards(3, 1.0, [(7, 0.5)])
    assert scores == [0.0, 0.0, 1.0]
