import random
from fractions import Fraction

import pytest
import sympy

from verl_ccrl.arithmetic import evaluate_expression, find_arithmetic_checks
from verl_ccrl.number_mentions import find_number_mentions


def checks(text):
    mentions = find_number_mentions(text)
    return [
        (c.expression, c.expected, mentions[c.result_index].text, c.correct)
        for c in find_arithmetic_checks(text, mentions)
    ]


def test_correct_statement_is_confirmed():
    assert checks("12 * 2 = 24") == [("12 * 2", 24, "24", True)]


def test_wrong_statement_is_refuted():
    assert checks("7 * 13 = 81") == [("7 * 13", 91, "81", False)]


@pytest.mark.parametrize(
    "text",
    ["12 × 2 = 24", "12 \\times 2 = 24", "12 \\cdot 2 = 24", "12 x 2 = 24", "12 ** 1 * 24 / 12 = 24", "48 ÷ 2 = 24",
     "48 \\div 2 = 24", "<<12*2=24>>", "\\( 12 \\times 2 = 24 \\)", "$12 * $2 = $24", "12 apples * 2 = 24 apples"],
)  # fmt: skip
def test_operator_spellings_are_understood(text):
    assert [(c[2], c[3]) for c in checks(text)] == [("24", True)]


def test_chained_statement_checks_each_step():
    assert checks("3 + 4 = 7 * 2 = 14") == [("3 + 4", 7, "7", True), ("7 * 2", 14, "14", True)]


def test_chained_statement_with_an_early_slip_is_judged_per_step():
    assert checks("3 + 4 = 8 * 2 = 16") == [("3 + 4", 7, "8", False), ("8 * 2", 16, "16", True)]


def test_equivalent_rewriting_claims_no_result():
    assert checks("6 * 2 = 2 * 6 = 12") == [("2 * 6", 12, "12", True)]


def test_assignment_without_operator_is_not_a_statement():
    assert checks("1 hour = 60 minutes") == []
    assert checks("x = 5") == []


def test_label_before_equals_is_ignored():
    assert checks("Total = 5 + 3 = 8") == [("5 + 3", 8, "8", True)]


def test_rounded_result_is_accepted_at_written_precision():
    assert checks("10 / 3 = 3.33")[0][3] is True
    assert checks("10 / 3 = 3.3")[0][3] is True
    assert checks("10 / 3 = 3.4")[0][3] is False


def test_integer_result_of_a_non_integer_division_is_wrong_unless_approximate():
    assert checks("10 / 3 = 3")[0][3] is False
    assert checks("10 / 3 ≈ 3")[0][3] is True


def test_percent_result_matches_the_times_hundred_reading():
    assert checks("50 / 200 * 100 = 25%")[0][3] is True


def test_percent_and_fraction_of_read_as_multiplication():
    assert checks("20% of 50 = 10") == [("20% of 50", 10, "10", True)]
    assert checks("3/4 of 20 = 15") == [("3/4 of 20", 15, "15", True)]


def test_plain_of_after_an_integer_is_not_multiplication():
    assert checks("2 of 5 = 10") == []


def test_a_fraction_on_the_left_is_a_division():
    assert checks("$\\frac{12}{4} = 3$") == [("\\frac{12}{4}", 3, "3", True)]


def test_negative_numbers_and_powers():
    assert checks("3 * -2 = -6") == [("3 * -2", -6, "-6", True)]
    assert checks("2^10 = 1024") == [("2^10", 1024, "1024", True)]
    assert checks("-(3+4) = -7") == [("-(3+4)", -7, "-7", True)]


def test_gsm8k_annotation_and_its_echo():
    # The annotation is the statement; the echo after ">>" starts a new run and is not a second check.
    assert checks("12 * 2 = <<12*2=24>>24 eggs") == [("12*2", 24, "24", True)]


def test_statements_end_at_words_punctuation_and_newlines():
    text = "5 + 3 = 8 and 8 * 2 = 16, so\n16 - 1 = 15"
    assert [c[2] for c in checks(text)] == ["8", "16", "15"]


def test_division_by_zero_gives_no_verdict():
    assert checks("5 / 0 = 0") == []


def test_huge_powers_are_refused_instead_of_computed():
    assert checks("9^99999 = 1") == []
    assert checks("10^60 * 10^60 * 10^60 * 10^60 * 10^60 * 10^60 * 10^60 = 1") == []


def test_unbalanced_brackets_give_no_verdict():
    assert checks("(3 + 4 = 7") == []


def test_implicit_multiplication_is_not_guessed():
    assert checks("2(3+4) = 14") == []


def test_evaluate_expression_never_runs_code():
    assert evaluate_expression("__import__('os').system('true')") is None
    assert evaluate_expression("(3 + 4) * 2") == 14


def _random_expression(rng, depth=0):
    if depth > 2 or rng.random() < 0.3:
        return str(rng.randint(1, 60))
    operator = rng.choice(["+", "-", "*", "/"])
    left, right = _random_expression(rng, depth + 1), _random_expression(rng, depth + 1)
    return f"({left} {operator} {right})" if rng.random() < 0.5 else f"{left} {operator} {right}"


def test_evaluation_agrees_with_sympy_on_random_expressions():
    rng = random.Random(7)
    for _ in range(300):
        expression = _random_expression(rng)
        expected = sympy.sympify(expression, rational=True)
        if not expected.is_finite:  # a division by zero somewhere inside
            assert evaluate_expression(expression) is None, expression
            continue
        assert evaluate_expression(expression) == Fraction(int(expected.p), int(expected.q)), expression
