import threading

import pytest

from verl_ccrl.answer import check_answer, extract_final_answer, is_answer_correct


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Work...\n#### 72", "72"),
        ("Work... so \\boxed{72}.", "72"),
        ("Work... \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        ("So the answer is 72.", "72"),
        ("The final answer is $1,000.", "$1,000"),
        ("Answer: 18.50", "18.50"),
        ("#### 5\n#### 7", "7"),
    ],
)
def test_explicit_answer_formats_are_found(response, expected):
    assert extract_final_answer(response) == expected


def test_no_explicit_answer_gives_none_unless_fallback():
    assert extract_final_answer("3 + 4 = 7") is None
    assert extract_final_answer("3 + 4 = 7", fallback_last_number=True) == "7"


@pytest.mark.parametrize(
    "answer, truth",
    [("72", "72"), ("72.0", "72"), ("$72", "72"), ("1,000", "1000"), ("18.50", "18.5"), ("25%", "25"),
     ("25", "25%"), ("\\frac{3}{4}", "0.75"), ("3/4", "0.75")],
)  # fmt: skip
def test_equal_answers_are_correct(answer, truth):
    assert is_answer_correct(answer, truth)


@pytest.mark.parametrize("answer, truth", [("71", "72"), (None, "72"), ("\\frac{3}{5}", "0.75"), ("", "1")])
def test_different_answers_are_wrong(answer, truth):
    assert not is_answer_correct(answer, truth)


def test_numeric_ground_truth_is_accepted():
    assert is_answer_correct("72", 72)


def test_math_verify_path_works_off_the_main_thread():
    # verl's reward loop runs scorers in executor threads, where signal-based timeouts raise.
    results = []
    thread = threading.Thread(target=lambda: results.append(is_answer_correct("\\frac{1}{2}", "0.5")))
    thread.start()
    thread.join()
    assert results == [True]


def test_overlong_non_numeric_answers_are_refused_without_math_verify():
    assert not is_answer_correct("x + " * 200 + "1", "x")


# Ground truths as the benchmarks publish them (issue 11): floats from Python arithmetic, text answers.
@pytest.mark.parametrize(
    "answer, truth",
    [("5/6", "0.8333333333333334"), ("\\frac{5}{6}", "0.8333333333333334"), ("0.83", "0.8333333333333334"),
     ("0.833333", "0.8333333333333334"), ("3244047.1", "3244047.0999999996"), ("3244047.10", "3244047.0999999996"),
     ("12.13", "12.124999999999998"), ("5/6", 0.8333333333333334), ("-2.67", "-2.6666666666666665")],
)  # fmt: skip
def test_a_float_ground_truth_accepts_its_intended_value_and_its_roundings(answer, truth):
    assert is_answer_correct(answer, truth)


@pytest.mark.parametrize(
    "answer, truth",
    [("3244047", "3244047.0999999996"), ("0.8", "0.8333333333333334"), ("0.84", "0.8333333333333334"),
     ("0.82", "0.8333333333333334"), ("4/5", "0.8333333333333334"), ("12.12", "12.124999999999998"),
     ("0.83", "0.8333")],
)  # fmt: skip
def test_a_float_ground_truth_refuses_other_roundings_and_a_short_truth_stays_exact(answer, truth):
    assert not is_answer_correct(answer, truth)


@pytest.mark.parametrize(
    "answer, truth",
    [("the 60th caller", "The 60th caller."), ("\\text{Vendor 2}", "Vendor 2"), ("1 hour", "1 hour"),
     ("Each term in pattern B is 10 times the corresponding term in pattern A",
      "Each term in pattern B is 10 times the corresponding term in pattern A.")],
)  # fmt: skip
def test_a_text_ground_truth_is_matched_as_normalised_text(answer, truth):
    assert is_answer_correct(answer, truth)


@pytest.mark.parametrize(
    "answer, truth",
    [("60", "The 60th caller."), ("2", "Vendor 2"), ("1", "1 hour"), ("60 minutes", "1 hour"),
     ("10", "Each term in pattern B is 10 times the corresponding term in pattern A."), ("Vendor 3", "Vendor 2")],
)  # fmt: skip
def test_a_text_ground_truth_is_never_read_as_a_number(answer, truth):
    assert not is_answer_correct(answer, truth)


@pytest.mark.parametrize(
    ("answer", "truth", "correct"),
    [("5:6", "5:6", True), ("5 : 6", "5:6", True), ("5/6", "5:6", False), ("5; 15; 20", "5; 15; 20", True),
     ("5; 15", "5; 15; 20", False)],
)  # fmt: skip
def test_a_published_text_answer_without_a_word_is_compared_as_text(answer, truth, correct):
    # ASDiv publishes ratios and lists ("5:6", "5; 15; 20"); data_prep marks them answer_type="text".
    assert check_answer(answer, truth, answer_type="text").correct is correct
