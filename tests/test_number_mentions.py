from fractions import Fraction

import pytest

from verl_ccrl.number_mentions import find_number_mentions, parse_single_number, problem_values, value_matches


def texts_and_values(text):
    return [(m.text, m.value) for m in find_number_mentions(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He has 42 apples.", [("42", Fraction(42))]),
        ("It weighs 3.5 kg.", [("3.5", Fraction(7, 2))]),
        ("It costs 1,000 dollars.", [("1,000", Fraction(1000))]),
        ("A total of 1,234,567.25 points", [("1,234,567.25", Fraction(123456725, 100))]),
        ("The temperature was -5 degrees.", [("-5", Fraction(-5))]),
        ("She ate 3/4 of the pie.", [("3/4", Fraction(3, 4))]),
        ("Add 2 1/2 cups.", [("2 1/2", Fraction(5, 2))]),
        ("A 25% discount", [("25", Fraction(1, 4))]),
        ("A 25\\% discount", [("25", Fraction(1, 4))]),
        ("A 25 percent discount", [("25", Fraction(1, 4))]),
        ("It costs $18.50.", [("18.50", Fraction(37, 2))]),
        ("It costs \\$18.50.", [("18.50", Fraction(37, 2))]),
        ("$\\frac{3}{4}$ of them", [("\\frac{3}{4}", Fraction(3, 4))]),
        ("$\\dfrac{12}{5}$", [("\\dfrac{12}{5}", Fraction(12, 5))]),
        ("$2\\frac{1}{2}$ hours", [("2\\frac{1}{2}", Fraction(5, 2))]),
        ("About 1.5e3 people", [("1.5e3", Fraction(1500))]),
        ("He lifts 12kg twice", [("12", Fraction(12))]),
        ("That is 5x faster", [("5", Fraction(5))]),
        ("Only .5 of it", [(".5", Fraction(1, 2))]),
    ],
)
def test_number_forms_are_recognised_with_exact_values(text, expected):
    assert texts_and_values(text) == expected


def test_span_slices_back_to_the_number_text():
    text = "Pay \\$1,250.50 now, -3 later, and 2 1/2 more."
    for mention in find_number_mentions(text):
        assert text[mention.start : mention.end] == mention.text


def test_minus_between_numbers_is_subtraction_not_a_sign():
    assert texts_and_values("10 - 5 = 5") == [("10", 10), ("5", 5), ("5", 5)]
    assert texts_and_values("10-5") == [("10", 10), ("5", 5)]


def test_minus_after_an_operator_or_equals_is_a_sign():
    assert texts_and_values("3 * -2 = -6") == [("3", 3), ("-2", -2), ("-6", -6)]


def test_minus_after_a_variable_is_subtraction():
    assert texts_and_values("x-5 and y - 2") == [("5", 5), ("2", 2)]


def test_list_markers_are_not_numbers():
    assert texts_and_values("1. Add 3 and 4.\n2) Then double it.\n  3. Done") == [("3", 3), ("4", 4)]


def test_step_labels_are_not_numbers():
    assert texts_and_values("Step 2: 6 * 7 = 42. Part 3. Case 1) ok") == [("6", 6), ("7", 7), ("42", 42)]


def test_dates_are_not_numbers():
    assert texts_and_values("On 3/4/2024 and 2024-03-04 she had 7") == [("7", 7)]


def test_digits_inside_identifiers_are_not_numbers():
    assert texts_and_values("x2 + apples_2 + H2O + 9") == [("9", 9)]


def test_sentence_final_period_is_not_a_decimal_point():
    assert texts_and_values("The answer is 72.") == [("72", 72)]
    assert texts_and_values("She ate 3/4.") == [("3/4", Fraction(3, 4))]


def test_comma_separated_list_is_several_numbers():
    assert texts_and_values("1,2,3") == [("1", 1), ("2", 2), ("3", 3)]


def test_improper_mixed_form_splits_into_integer_and_fraction():
    assert texts_and_values("3 12/4") == [("3", 3), ("12/4", 3)]


def test_division_by_zero_fraction_is_two_integers():
    assert texts_and_values("5/0") == [("5", 5), ("0", 0)]


def test_decimals_record_written_precision():
    assert [m.decimals for m in find_number_mentions("3 3.3 3.33 1.5e3 18.50")] == [0, 1, 2, 0, 2]


def test_rounded_decimal_matches_exact_value_within_its_precision():
    (mention,) = find_number_mentions("6.67")
    assert value_matches(mention, Fraction(20, 3))
    (truncated,) = find_number_mentions("6.66")
    assert not value_matches(truncated, Fraction(20, 3))


def test_integer_must_match_exactly_unless_approximate():
    (mention,) = find_number_mentions("3")
    assert not value_matches(mention, Fraction(10, 3))
    assert value_matches(mention, Fraction(10, 3), approximate=True)


def test_percentage_matches_both_readings():
    (mention,) = find_number_mentions("25%")
    assert value_matches(mention, Fraction(1, 4)) and value_matches(mention, Fraction(25))


def test_parse_single_number_rejects_expressions_and_several_numbers():
    assert parse_single_number("$1,000.00") == 1000
    assert parse_single_number("3 + 4") is None
    assert parse_single_number("7 = 7") is None
    assert parse_single_number("no number") is None


def test_problem_values_include_written_out_numbers():
    values = problem_values("Three friends share a dozen cookies and twice as many cakes; one hundred and five in all.")
    assert {Fraction(3), Fraction(12), Fraction(2), Fraction(105)} <= values


def test_problem_values_read_fraction_words():
    values = problem_values("She spent two thirds of her money and a quarter of the rest.")
    assert {Fraction(2, 3), Fraction(1, 4), Fraction(4), Fraction(3)} <= values


def test_problem_values_read_hyphenated_and_scaled_cardinals():
    values = problem_values("Twenty-five students and three thousand two hundred books")
    assert {Fraction(25), Fraction(3200)} <= values


def test_and_between_small_numbers_does_not_join_them():
    values = problem_values("three and four")
    assert Fraction(7) not in values and {Fraction(3), Fraction(4)} <= values


def test_word_numbers_can_be_switched_off():
    assert problem_values("three apples", word_numbers=False) == frozenset()


def test_problem_values_include_both_percentage_readings():
    assert {Fraction(1, 5), Fraction(20)} <= problem_values("a 20% tip")


def test_non_string_input_is_rejected_with_a_clear_error():
    with pytest.raises(TypeError, match="expects str"):
        find_number_mentions(42)
