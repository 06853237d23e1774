"""Statements as people write them in correct solutions (issue 11): each is read in full, or gets no verdict.

Sentences are our own, of the shapes found in GSM8K's human solutions; a few short quotes name their row.
"""

from fractions import Fraction

import pytest
import sympy

from verl_ccrl.analysis import WRONG, analyze_response
from verl_ccrl.arithmetic import find_arithmetic_checks
from verl_ccrl.number_mentions import find_number_mentions


def checks(text):
    mentions = find_number_mentions(text)
    return [
        (c.expression, c.expected, mentions[c.result_index].text, c.correct)
        for c in find_arithmetic_checks(text, mentions)
    ]


def exact(expression: str) -> Fraction:
    value = sympy.nsimplify(sympy.sympify(expression, rational=True))
    return Fraction(int(value.p), int(value.q))


@pytest.mark.parametrize(
    "text",
    [
        "Collecting like terms, 4c - 2 = 10",  # GSM8K test 1225
        "so 3/2x = 120",
        "The shoe is then 9*x + 10 = 100 centimetres.",
        "Twice the votes in favour, so V + 2V = 3V = 33.",
        "Taking 2s from both sides leaves 2s + 16 = 32",
        "Then divide both sides: 3x/3 = 24/3.",
        "Altogether B + 2B + 2B + 4 = 5B + 4 = 19 balls.",
        "The percentages sum to 100 so 2x+2x = 100",
        "We know X = 9 because - 18/-2 = 9",
    ],
)
def test_a_statement_with_an_unknown_gets_no_verdict(text):
    assert checks(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The flight lasts 0900-0130 = 0730 hours",
        "Weeks 1-2 = 14 days of practice",
        "Of pages 10–12 - 2 = 8 were read",
        "He should leave at 11 a.m. - 2 hours = 9 a.m.",
        "The bus left at 9:30 - 2 = 7:30",
        "He read 10 pages on day 1 * 2 = 20 pages a day after that",
        "The puppy weighs 4 pounds - 6 ounces = 58 ounces",
        "Each child gets 100 / 3 = 33 each, with 1 left over",
        "She packs 50 / 8 = 6 boxes and 2 remaining",
        "The prize is 9 * 2 = 18 500 dollars",
    ],
)
def test_numbers_that_are_no_quantity_give_no_verdict(text):
    assert checks(text) == []


# (text, the left side as plain arithmetic for sympy, the claimed result as plain arithmetic for sympy)
READ_IN_FULL = [
    ("There are 58 open spots + 2 = 60 spots", "58 + 2", "60"),
    ("cupcakes for his 25 classmates + his 1 teacher + 1 himself = 27 people", "25 + 1 + 1", "27"),
    ("the rest is 50 total students - 10 baking - 5 basketball - 10 music = 25", "50 - 10 - 5 - 10", "25"),
    ("4 pillow cases + 8 towels + 2 sheets + 1 comforter = 15 pieces", "4 + 8 + 2 + 1", "15"),
    ("The ref gave 25 time-outs - 1 = 24 time-outs", "25 - 1", "24"),
    ("There are 12 dogs' bowls + 3 = 15 bowls", "12 + 3", "15"),
    ("The total is $864\u00a0+ $2,592\u00a0+ $432\u00a0+ $7,344 = $11,232.", "864 + 2592 + 432 + 7344", "11232"),
    ("Emma has 120 – 80 - 15 = 25 more points", "120 - 80 - 15", "25"),
    ("Each gets 17 / 3 = 5 and 2/3 cakes", "17 / 3", "5 + 2/3"),
    ("The share is 2 / 3 * 100% = 66.666...%", "2 / 3", "2 / 3"),
    ("The change is $2.50 - $2.24 = 26 cents", "2.50 - 2.24", "26 / 100"),
    ("He spends $1 / 2 = 50 cents", "1 / 2", "50 / 100"),
    ("As a percentage: 3 / 7 * 100% = 42.857", "3 / 7", "42.857 / 100"),
    ("The farm earns 9 * 2 000 = 18 000 dollars", "9 * 2000", "18000"),
    ("$1{,}250 \\times 30 = 37{,}500$", "1250 * 30", "37500"),
    ("He can buy 100 / 6 = 16 and (2/3) comics", "100 / 6", "16 + 2/3"),
    ("The ball drops 24 feet/story * 3 stories = 72 feet", "24 * 3", "72"),
    ("Pencils cost $3/pencil x 8 pencils = $24.", "3 * 8", "24"),
    ("She needs 12 cups / 2 cups per bag = 6 bags", "12 / 2", "6"),
    ("The show lasted 65-minute concert – 15-minute encore = 50 minutes", "65 - 15", "50"),
    ("He bought 3 bags of chips * $2 = $6", "3 * 2", "6"),
    ("It costs 450 days x $100/day/builder * 6 builders = $270000", "450 * 100 * 6", "270000"),
    ("The bottle lasts 7/12 / 1/12/day = 7 days", "(7/12) / (1/12)", "7"),
]


@pytest.mark.parametrize("text, left, claimed", READ_IN_FULL)
def test_a_human_form_is_read_in_full_and_confirmed(text, left, claimed):
    (check,) = checks(text)
    assert check[1] == exact(left)
    assert check[3] is True, check
    # The claim is right, to the precision written (66.666... and 42.857 are cut, not exact).
    assert abs(float(exact(claimed)) - float(exact(left))) < 1e-3 * max(1, abs(float(exact(left))))


@pytest.mark.parametrize(
    "text",
    [
        "There are 58 open spots + 2 = 61 spots",
        "cupcakes for his 25 classmates + his 1 teacher + 1 himself = 28 people",
        "Emma has 120 – 80 - 15 = 35 more points",
        "Each gets 17 / 3 = 5 and 1/3 cakes",
        "The share is 2 / 3 * 100% = 66.5...%",
        "The change is $2.50 - $2.24 = 36 cents",
        "As a percentage: 3 / 7 * 100% = 41.857",
        "The farm earns 9 * 2 000 = 19 000 dollars",
        "$1{,}250 \\times 30 = 36{,}500$",
    ],
)
def test_the_same_forms_with_a_false_result_are_still_wrong(text):
    assert [check[3] for check in checks(text)] == [False]


@pytest.mark.parametrize(
    "text",
    [
        "She kept some and gave the rest + 5 = 12 away",
        "Then he ate the rest - 3 = 7 left",
        "The tank holds 1 full tank -1/3 tank = 2/3 empty",  # GSM8K train 3620
        "The parts total 2.46 because .8 + . 84 + .82 = 2.46",  # GSM8K train 3233, a stray mark
    ],
)
def test_a_statement_whose_left_side_was_cut_by_prose_gets_no_verdict(text):
    assert checks(text) == []


def test_a_prose_word_does_not_glue_two_statements_into_a_false_alarm():
    analyzed = analyze_response("Solve for X.", "We know X = 9 because - 18/-2 = 9")
    assert [m.verdict for m in analyzed if m.verdict == WRONG] == []


@pytest.mark.parametrize(
    "text, values",
    [
        ("1{,}250 apples", [Fraction(1250)]),
        ("18 000 people", [Fraction(18000)]),
        ("12\u00a0000 people", [Fraction(12000)]),
        ("2 500 ml bottles", [Fraction(2), Fraction(500)]),
        ("5 and 2/3 cups", [Fraction(17, 3)]),
        ("66.666...% of them", [Fraction(66666, 100000)]),
    ],
)
def test_human_number_forms_are_read_with_their_value(text, values):
    assert [m.value for m in find_number_mentions(text)] == values


def test_a_negative_number_after_a_word_still_starts_a_statement():
    assert checks("The temperature was -5 + 3 = -2 at noon") == [("-5 + 3", -2, "-2", True)]
