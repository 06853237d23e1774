from fractions import Fraction

import pytest

from verl_ccrl import CCRLConfig, analyze_response, reference_values

PROBLEM = "A shop packs 12 muffins per box. It bakes 7 boxes and sells 3 muffins. How many muffins are left?"


def summary(problem, response, reference=None, **kwargs):
    return [(m.text, m.kind, m.verdict) for m in analyze_response(problem, response, reference, **kwargs)]


def test_numbers_from_the_problem_are_extracted():
    assert summary(PROBLEM, "12 and 7 and 3") == [
        ("12", "extracted", None),
        ("7", "extracted", None),
        ("3", "extracted", None),
    ]


def test_written_out_problem_numbers_count_as_extracted():
    assert summary("Three kids share a dozen pears.", "12 / 3 = 4")[:2] == [
        ("12", "extracted", None),
        ("3", "extracted", None),
    ]


def test_word_numbers_switched_off_make_them_computed():
    config = CCRLConfig(word_numbers=False)
    assert summary("Three kids share a dozen pears.", "12 / 3 = 4", config=config)[0][1] == "computed"


def test_correct_statement_result_is_correct():
    assert ("84", "computed", "correct") in summary(PROBLEM, "12 * 7 = 84 muffins.")


def test_wrong_statement_result_is_wrong():
    assert ("83", "computed", "wrong") in summary(PROBLEM, "12 * 7 = 83 muffins.")


def test_error_is_charged_once_where_it_was_made():
    # 83 is wrong; 83 - 3 = 80 is right arithmetic on the wrong number, so 80 is correct.
    result = summary(PROBLEM, "12 * 7 = 83. 83 - 3 = 80.")
    assert result == [
        ("12", "extracted", None), ("7", "extracted", None), ("83", "computed", "wrong"),
        ("83", "computed", "unverifiable"), ("3", "extracted", None), ("80", "computed", "correct"),
    ]  # fmt: skip


def test_restatement_is_unverifiable_by_default():
    result = summary(PROBLEM, "7 * 13 = 81. The answer is 81.")
    assert result[-1] == ("81", "computed", "unverifiable")


def test_restatement_inherits_the_earlier_verdict_when_configured():
    config = CCRLConfig(restatement_policy="inherit")
    assert summary(PROBLEM, "7 * 13 = 81. The answer is 81.", config=config)[-1] == ("81", "computed", "wrong")


def test_gsm8k_echo_after_annotation_is_a_restatement():
    result = summary(PROBLEM, "12 * 7 = <<12*7=84>>84 muffins")
    assert [verdict for text, _, verdict in result if text == "84"] == ["correct", "unverifiable"]


def test_prose_number_matching_the_reference_is_correct():
    reference = "Baked: 12 * 7 = <<12*7=84>>84. Left: 84 - 3 = <<84-3=81>>81.\n#### 81"
    assert summary(PROBLEM, "She baked 84 muffins and has 81 left.", reference) == [
        ("84", "computed", "correct"),
        ("81", "computed", "correct"),
    ]


def test_prose_number_not_in_the_reference_is_unverifiable():
    assert summary(PROBLEM, "She has 80 left.", "81") == [("80", "computed", "unverifiable")]


def test_reference_mismatch_can_be_made_wrong():
    config = CCRLConfig(reference_mismatch_is_wrong=True)
    assert summary(PROBLEM, "She has 80 left.", "81", config=config) == [("80", "computed", "wrong")]


def test_arithmetic_check_outranks_a_reference_match():
    # 81 is the reference answer, but here it is claimed as 12 * 7, which is 84.
    assert summary(PROBLEM, "12 * 7 = 81", "81")[-1] == ("81", "computed", "wrong")


def test_reference_first_when_sources_are_reordered():
    config = CCRLConfig(verification_sources=("reference", "arithmetic"))
    assert summary(PROBLEM, "12 * 7 = 81", "81", config=config)[-1] == ("81", "computed", "correct")


def test_arithmetic_source_can_be_disabled():
    config = CCRLConfig(verification_sources=("reference",))
    assert summary(PROBLEM, "12 * 7 = 83", "81", config=config)[-1] == ("83", "computed", "unverifiable")


def test_without_any_check_a_computed_number_is_unverifiable():
    assert summary(PROBLEM, "She has 80 left.") == [("80", "computed", "unverifiable")]


def test_fraction_of_two_given_numbers_is_extracted():
    assert summary("Split 12 cakes among 4 kids.", "12/4 = 3 each")[0] == ("12/4", "extracted", None)


def test_percentage_of_a_given_percentage_is_extracted():
    assert summary("A 20% tip on 50 dollars", "0.2 * 50 = 10 and 20% of 50 = 10")[0] == ("0.2", "extracted", None)


def test_extra_reference_values_act_like_a_reference():
    result = summary(PROBLEM, "She has 81 left.", reference_values_extra=[Fraction(81)])
    assert result == [("81", "computed", "correct")]


def test_reference_values_reads_annotations_and_final_answer():
    assert reference_values("2 * 3 = <<2*3=6>>6 #### 6") == frozenset({Fraction(2), Fraction(3), Fraction(6)})
    assert reference_values(None) == frozenset()


def test_mentions_carry_spans_into_the_response():
    response = "So 12 * 7 = 84."
    for mention in analyze_response(PROBLEM, response):
        assert response[mention.start : mention.end] == mention.text


@pytest.mark.parametrize("field, value", [("problem", None), ("response", 3), ("reference", 5)])
def test_non_string_input_names_the_field(field, value):
    kwargs = {"problem": PROBLEM, "response": "1", "reference": None, field: value}
    with pytest.raises(TypeError, match=field):
        analyze_response(**kwargs)
