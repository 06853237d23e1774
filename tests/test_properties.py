"""Property tests: any text and any entropies give a finite reward, never an exception."""

import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verl_ccrl import CCRLConfig, analyze_response, find_number_mentions, score_response, token_char_spans

# Text biased towards what responses contain: digits, operators, separators, LaTeX and unicode.
_PIECES = list("0123456789 .,-+*/=%$<>()[]{}\\\n:#xof½日−≈") + ["\\frac", "\\times", "Step ", " percent", "1,000", "<<"]
math_text = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join) | st.text(max_size=80)

entropy_value = st.one_of(
    st.floats(min_value=0, max_value=12),
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(-float("inf")),
    st.floats(min_value=-5, max_value=0),
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tokens(response):
    pieces = [m.group().encode() for m in re.finditer(r"\d|\w+|\s+|[^\w\s]", response)]
    return token_char_spans(pieces, response)


@SETTINGS
@given(text=math_text)
def test_mentions_lie_inside_the_text_in_order(text):
    previous_end = 0
    for mention in find_number_mentions(text):
        assert previous_end <= mention.start < mention.end <= len(text)
        assert text[mention.start : mention.end] == mention.text
        previous_end = mention.end


@SETTINGS
@given(problem=math_text, response=math_text, reference=st.none() | math_text)
def test_analysis_never_raises_and_judges_only_computed_numbers(problem, response, reference):
    for mention in analyze_response(problem, response, reference):
        assert (mention.kind == "extracted") == (mention.verdict is None)


@SETTINGS
@given(response=math_text, truth=math_text, data=st.data())
def test_reward_is_finite_for_any_entropies(response, truth, data):
    spans = _tokens(response)
    length = data.draw(st.sampled_from([len(spans), max(len(spans) - 1, 0), len(spans) + 3]))
    entropies = data.draw(st.lists(entropy_value, min_size=length, max_size=length))
    result = score_response(
        "Tom has 3 apples and 4 pears.", response, truth or "0", token_spans=spans, entropies=entropies
    )
    assert math.isfinite(result.total)
    assert all(0.0 <= m.confidence <= 1.0 for m in result.mentions if m.confidence is not None)
    config = CCRLConfig()
    assert config.wrong_reward - config.beta <= result.total <= config.correct_reward + config.alpha
    if spans:
        assert math.isclose(sum(result.token_rewards), result.total, abs_tol=1e-9)
    else:  # no token can carry R, so there is no token-level form (issue 13, D18)
        assert result.token_rewards is None


@SETTINGS
@given(entropy_low=st.floats(min_value=0, max_value=5), delta=st.floats(min_value=1e-3, max_value=5))
def test_reward_rises_with_confidence_for_a_correct_number_and_falls_for_a_wrong_one(entropy_low, delta):
    problem = "A farm has 14 pens with 6 goats each."
    spans_right = _tokens("14 * 6 = 84.")
    spans_wrong = _tokens("14 * 6 = 85.")

    def total(response, spans, entropy):
        return score_response(
            problem, response, "84", token_spans=spans, entropies=[entropy] * len(spans)
        ).confidence_term

    assert total("14 * 6 = 84.", spans_right, entropy_low) > total("14 * 6 = 84.", spans_right, entropy_low + delta)
    assert total("14 * 6 = 85.", spans_wrong, entropy_low) < total("14 * 6 = 85.", spans_wrong, entropy_low + delta)
