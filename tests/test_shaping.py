import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verl_ccrl import CCRLConfig, score_response, token_char_spans
from verl_ccrl.shaping import expected_term, number_term

ALPHA, BETA = 0.25, 0.5
GRID = [i / 200 for i in range(201)]


def best_confidence(p_correct, shaping):
    return max(GRID, key=lambda c: expected_term(p_correct, c, alpha=ALPHA, beta=BETA, shaping=shaping))


@pytest.mark.parametrize(
    ("correct", "confidence", "expected"),
    [(True, 1.0, ALPHA), (True, 0.4, 0.4 * ALPHA), (False, 1.0, -BETA), (False, 0.4, -0.4 * BETA), (True, 0.0, 0.0)],
)
def test_linear_term_is_proportional_to_confidence(correct, confidence, expected):
    assert number_term(correct, confidence, alpha=ALPHA, beta=BETA) == pytest.approx(expected)


@pytest.mark.parametrize(("correct", "confidence"), [(True, 1.0), (True, 0.3), (False, 0.0), (False, 0.9), (True, 0.0)])
def test_brier_term_is_an_affine_map_of_the_squared_error(correct, confidence):
    squared_error = (confidence - (1.0 if correct else 0.0)) ** 2
    assert number_term(correct, confidence, alpha=ALPHA, beta=BETA, shaping="brier") == pytest.approx(
        ALPHA - (ALPHA + BETA) * squared_error
    )


@pytest.mark.parametrize("shaping", ["brier", "log"])
@pytest.mark.parametrize("correct", [True, False])
def test_every_shaping_agrees_with_linear_on_a_certain_number(correct, shaping):
    linear = number_term(correct, 1.0, alpha=ALPHA, beta=BETA)
    assert number_term(correct, 1.0, alpha=ALPHA, beta=BETA, shaping=shaping) == pytest.approx(linear)


@pytest.mark.parametrize("shaping", ["brier", "log"])
@pytest.mark.parametrize("p_correct", [0.1, 0.35, 0.6, 0.8, 0.97])
def test_a_proper_shapings_expectation_is_highest_at_the_true_probability(p_correct, shaping):
    assert best_confidence(p_correct, shaping) == pytest.approx(p_correct, abs=1 / 200)


@pytest.mark.parametrize(("p_correct", "extreme"), [(0.1, 0.0), (0.6, 0.0), (0.7, 1.0), (0.97, 1.0)])
def test_linear_expectation_pushes_confidence_to_an_extreme_around_beta_over_alpha_plus_beta(p_correct, extreme):
    # The threshold is beta / (alpha + beta) = 2/3 at these scales.
    assert best_confidence(p_correct, "linear") == extreme


@given(st.sampled_from(["brier", "log"]), st.booleans(), st.floats(0.0, 1.0), st.floats(0.0, 3.0), st.floats(0.0, 3.0))
def test_a_proper_shapings_term_stays_within_minus_beta_and_alpha(shaping, correct, confidence, alpha, beta):
    term = number_term(correct, confidence, alpha=alpha, beta=beta, shaping=shaping)
    assert -beta - 1e-12 <= term <= alpha + 1e-12


def test_score_response_averages_brier_terms_over_the_judged_numbers():
    problem = "A farm has 14 pens with 6 goats each. 25 goats are sold. How many goats remain?"
    response = "14 * 6 = 84. 84 - 25 = 58. #### 58"
    pieces = [m.group().encode() for m in re.finditer(r" ?\d| ?[^\W\d]+| ?[^\w\s]+|\s+", response)]
    spans = token_char_spans(pieces, response)
    entropy = 0.2
    config = CCRLConfig(shaping="brier")
    result = score_response(problem, response, "59", token_spans=spans, entropies=[entropy] * len(spans), config=config)
    confidence = math.exp(-entropy)
    terms = [number_term(True, confidence, alpha=ALPHA, beta=BETA, shaping="brier"),
             number_term(False, confidence, alpha=ALPHA, beta=BETA, shaping="brier")]  # fmt: skip
    assert result.confidence_term == pytest.approx(sum(terms) / 2)
    assert sum(result.token_rewards) == pytest.approx(result.total)


def test_unknown_shaping_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"ccrl.shaping='spherical'.*\['linear', 'brier', 'log'\]"):
        CCRLConfig(shaping="spherical")


@pytest.mark.parametrize(("correct", "confidence"), [(True, 1.0), (True, 0.3), (False, 0.0), (False, 0.9), (True, 0.5)])
def test_log_term_is_an_affine_map_of_the_floored_log_score(correct, confidence):
    happened = confidence if correct else 1 - confidence
    expected = ALPHA + (ALPHA + BETA) * math.log(max(happened, 0.01)) / math.log(100)
    assert number_term(correct, confidence, alpha=ALPHA, beta=BETA, shaping="log") == pytest.approx(expected)


def test_tau_with_brier_shaping_is_refused_naming_the_fix():
    with pytest.raises(ValueError, match=r"ccrl.tau=0.5 applies to shaping='linear' only.*ccrl.tau=0"):
        CCRLConfig(shaping="brier", tau=0.5)
