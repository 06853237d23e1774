"""The reward-info record: encode/decode round trip, what verl can carry, and agreement with the scored response."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verl_ccrl import score_response, token_char_spans
from verl_ccrl.reward import place_token_rewards
from verl_ccrl.reward_info import REWARD_EXTRA_KEYS, SCHEMA_KEY, JudgedNumber, RewardInfo, decode, encode, is_encoded

PROBLEM = "A farm has 14 pens with 6 goats each. 25 goats are sold. How many goats remain?"
RESPONSE = "14 * 6 = 84. 84 - 25 = 58. #### 58"

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
judged_number = st.builds(
    JudgedNumber,
    st.lists(st.integers(0, 4096), min_size=1, max_size=6).map(tuple),
    st.sampled_from(["correct", "wrong"]),
    st.none() | st.floats(min_value=0.0, max_value=1.0),
    finite,
)
reward_info = st.builds(
    RewardInfo,
    st.booleans(),
    finite,
    finite,
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(0, 500),
    st.booleans(),
    st.booleans(),
    st.lists(judged_number, max_size=12).map(tuple),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


def scored(entropy=0.3):
    pieces = [m.group().encode() for m in re.finditer(r" ?\d| ?[^\W\d]+| ?[^\w\s]+|\s+", RESPONSE)]
    spans = token_char_spans(pieces, RESPONSE)
    return score_response(PROBLEM, RESPONSE, "59", token_spans=spans, entropies=[entropy] * len(spans)), len(spans)


@settings(max_examples=300, deadline=None)
@given(info=reward_info)
def test_decode_gives_back_exactly_what_was_encoded(info):
    assert decode(encode(info)) == info


@settings(max_examples=100, deadline=None)
@given(info=reward_info)
def test_encoded_values_are_scalars_or_strings_under_the_fixed_keys(info):
    wire = encode(info)
    assert tuple(wire) == REWARD_EXTRA_KEYS
    assert all(isinstance(value, int | float | str) for value in wire.values())


def test_verl_can_stack_records_of_different_lengths_and_still_decode_them():
    few = encode(RewardInfo(True, 1.0, 0.0))
    many = encode(RewardInfo(False, 0.0, 0.1, numbers=(JudgedNumber((1, 2), "correct", 0.4, 0.1),) * 5))
    stacked = {key: np.array([few[key], many[key]]) for key in REWARD_EXTRA_KEYS}  # as verl's reward loop does
    assert all(array.dtype != object for array in stacked.values())
    assert decode({key: array[1].item() for key, array in stacked.items()}) == decode(many)


def test_a_record_of_another_schema_version_is_refused_with_the_fix():
    wire = {**encode(RewardInfo(True, 1.0, 0.0)), SCHEMA_KEY: "reward_info.v0"}
    with pytest.raises(ValueError, match="reinstall the same version"):
        decode(wire)


def test_a_v1_record_still_decodes_with_no_degradation_flags():
    info = RewardInfo(True, 1.0, 0.25, numbers=(JudgedNumber((3,), "correct", 1.0, 0.25),))
    new_keys = ("ccrl_bounded", "ccrl_malformed_input", "ccrl_scoring_error")
    v1 = {key: value for key, value in encode(info).items() if key not in new_keys} | {SCHEMA_KEY: "reward_info.v1"}
    assert decode(v1) == info and not (info.bounded or info.malformed_input or info.scoring_error)


def test_a_bounded_score_is_a_bounded_record():
    score = score_response(PROBLEM, "2 * 3 = 1e9999999. #### 58", "58")
    info = RewardInfo.from_score(score, missing_entropies=True, missing_problem=False)
    assert score.bounded and decode(encode(info)).bounded and info.outcome == 1.0


def test_the_outcome_only_record_keeps_verdicts_and_tokens_without_terms():
    score, _ = scored()
    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    outcome_only = info.without_confidences()
    assert outcome_only.reward == info.outcome and outcome_only.token_terms() == []
    assert [(n.token_indices, n.verdict) for n in outcome_only.numbers] == [
        (n.token_indices, n.verdict) for n in info.numbers
    ]


def test_records_of_other_reward_managers_are_recognised_as_not_ours():
    assert is_encoded(encode(RewardInfo(True, 1.0, 0.0)))
    assert not is_encoded({"acc": 1.0}) and not is_encoded(None)


def test_record_of_a_score_keeps_its_numbers_and_their_shares():
    score, _ = scored()
    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    members = [m for m in score.mentions if m.in_reward]
    assert info.n_in_reward == score.counts()["in_reward"] == len(members) == 2
    assert info.token_terms() == [(m.token_indices[-1], m.term / len(members)) for m in members]
    assert sum(share for _, share in info.token_terms()) == pytest.approx(info.confidence_term)
    assert info.calibration_points() == [(m.confidence, m.verdict == "correct") for m in members]


def test_token_rewards_of_the_record_are_the_scores_token_rewards():
    score, length = scored()
    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    assert place_token_rewards(length, score.total, info.token_terms()) == pytest.approx(score.token_rewards)


def test_rescoring_with_the_same_entropies_reproduces_the_record():
    score, length = scored(entropy=0.3)
    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    rescored = info.rescored([0.3] * length)
    assert rescored.confidence_term == pytest.approx(info.confidence_term)
    assert [n.confidence for n in rescored.numbers] == pytest.approx([n.confidence for n in info.numbers])


def test_rescoring_with_too_few_entropies_takes_numbers_out_of_the_reward():
    score, _ = scored(entropy=0.3)
    info = RewardInfo.from_score(score, missing_entropies=False, missing_problem=False)
    rescored = info.rescored([0.3] * 3)
    assert rescored.n_in_reward == 0 and rescored.confidence_term == 0.0 and rescored.token_terms() == []
