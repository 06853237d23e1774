import threading

import pytest

from verl_ccrl.answer import extract_final_answer, is_answer_correct


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
