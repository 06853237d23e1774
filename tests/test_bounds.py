"""Issue 13, rows D1-D9, D17, D18: each input below hung, raised or was judged wrongly before its fix.

Rows that used to hang run in a forked child (``forked.call_in_fork``) so that a regression fails the test
instead of stalling the suite.
"""

import math
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from forked import call_in_fork  # noqa: E402

from verl_ccrl.analysis import analyze_response  # noqa: E402
from verl_ccrl.answer import extract_final_answer, is_answer_correct  # noqa: E402
from verl_ccrl.arithmetic import evaluate_expression, find_arithmetic_checks  # noqa: E402
from verl_ccrl.bounds import ANSWER_CHECK_TIMEOUT_S, VERIFY_KILL_GRACE_S  # noqa: E402
from verl_ccrl.cli import main  # noqa: E402
from verl_ccrl.number_format import format_number  # noqa: E402
from verl_ccrl.number_mentions import find_number_mentions, parse_single_number  # noqa: E402
from verl_ccrl.reward import score_response  # noqa: E402

SECOND = 1.0


@pytest.fixture(scope="module")
def verify_worker(ready_verify_worker):
    """The math-verify worker, started once (about 1.5 s) so that the timed calls measure the calls."""
    yield


def _quick(function, *args, **kwargs):
    """The call's value, asserting it returned (no exception, no hang) using under a second of CPU (CPU, not wall:
    a loaded CI machine must not fail a bound on the call's own cost)."""
    result = call_in_fork(function, *args, timeout_s=20, **kwargs)
    assert result.status == "ok", f"{result.status}: {result.error[-2000:]}"
    assert result.cpu_seconds < SECOND, f"took {result.cpu_seconds:.2f} s of CPU"
    return result.value


def _score(problem, response, truth, **kwargs):
    score = score_response(problem, response, truth, **kwargs)
    return score.total, score.bounded, score.bounded_reason, score.confidence_term, score.answer_correct


# D1: a huge exponent anywhere is an opaque number, never built.
@pytest.mark.parametrize(
    "problem, response, truth, reference",
    [
        ("What is 2 * 3?", "2 * 3 = 1e9999999", "6", None),
        ("What is 2 * 3?", "2 * 3 = 1e99999999. #### 6", "6", None),
        ("What is 2 * 3?", "2 * 3 = 1e\u0669\u0669\u0669\u0669\u0669\u0669\u0669\u0669", "6", None),
        ("A crate holds 1e9999999 apples.", "2 * 3 = 6. #### 6", "6", None),
        ("What is 2 * 3?", "2 * 3 = 6. #### 6", "6", "1e9999999 apples, so 6"),
        ("What is 2 * 3?", "2 * 3 = 6. #### 6", "1e9999999", None),
    ],
)
def test_a_huge_exponent_anywhere_returns_at_once(problem, response, truth, reference):
    total, *_ = _quick(_score, problem, response, truth, reference=reference)
    assert math.isfinite(total)


def test_a_response_with_a_huge_exponent_is_flagged_bounded_with_no_number_terms():
    total, bounded, reason, confidence_term, correct = _quick(
        _score, "What is 2 * 3?", "2 * 3 = 1e9999999. #### 6", "6", token_spans=[(0, 26)], entropies=[0.0]
    )
    assert (bounded, confidence_term, correct, total) == (True, 0.0, True, 1.0)
    assert "exponent" in reason


# D2: math-verify on a power tower or a huge factorial must not run unbounded.
@pytest.mark.parametrize("answer", ["10^{10^{10}}", "9^{9^{9}}", "(9999999999)!+1", "2^{99999999999}"])
def test_a_power_tower_or_huge_factorial_as_the_answer_is_undecided_at_once(answer):
    assert _quick(is_answer_correct, answer, "5") is False


def test_a_boxed_power_tower_is_flagged_bounded():
    total, bounded, reason, _, correct = _quick(_score, "Compute.", "\\boxed{10^{10^{10}}}", "5")
    assert (bounded, correct) == (True, False) and reason


# D3: numerals beyond Python's int-string limit must not raise.
@pytest.mark.parametrize("text", ["1" * 5000, "0." + "3" * 5000, "1" * 5000 + "/7", "\\frac{" + "9" * 5000 + "}{2}"])
def test_a_numeral_with_thousands_of_digits_is_opaque_not_an_error(text):
    assert _quick(find_number_mentions, f"x = {text} apples") == []


def test_a_response_with_a_numeral_over_the_digit_bound_is_flagged_bounded():
    _, bounded, reason, _, _ = _quick(_score, "p", "2 * 3 = " + "6" * 5000, "6")
    assert bounded and "digits" in reason


# D4: the arithmetic parser is iterative: no RecursionError whatever the nesting.
@pytest.mark.parametrize(
    "expression, value",
    [
        ("(" * 5000 + "1" + ")" * 5000, Fraction(1)),
        ("(" + "- " * 5000 + "3)", Fraction(3)),
        ("2^" * 3000 + "1", None),
        ("((2 * 3) + (4 - 1))", Fraction(9)),
        ("-2^2", Fraction(4)),
        ("2^-3", Fraction(1, 8)),
        ("2^3^2", Fraction(512)),
    ],
)
def test_deep_nesting_evaluates_without_recursion(expression, value):
    assert _quick(evaluate_expression, expression) == value


def test_a_deeply_bracketed_statement_is_still_judged():
    text = "(" * 3000 + "2 * 3" + ")" * 3000 + " = 6"
    mentions = find_number_mentions(text)
    checks = _quick(find_arithmetic_checks, text, mentions)
    assert [(mentions[c.result_index].text, c.correct) for c in checks] == [("6", True)]


# D5: showing an exact value beyond float range must not raise.
@pytest.mark.parametrize("response", ["1e100 * 1e100 * 1e100 * 1e100 / 3 = 5", "1e400/3=5", "1e5000+1=2"])
def test_a_value_beyond_float_range_is_shown_not_raised(response):
    analyzed = _quick(analyze_response, "p", response)
    assert all(isinstance(m.reason, str) for m in analyzed)


def test_a_wrong_result_of_a_huge_product_names_its_value():
    analyzed = analyze_response("p", "1e100 * 1e100 * 1e100 * 1e100 / 3 = 5")
    assert analyzed[-1].verdict == "wrong" and "e+399" in analyzed[-1].reason


# D6: a markdown bullet or list dash is not a sign.
@pytest.mark.parametrize(
    "response",
    [
        "- 12 * 3 = 36 eggs",
        "\u2212 12 * 3 = 36 eggs",
        "* 12 * 3 = 36 eggs",
        "Steps:\n  - 12 * 3 = 36 eggs",
        "+ 12 * 3 = 36",
    ],
)
def test_a_bullet_before_a_statement_is_not_a_minus(response):
    (result,) = [m for m in analyze_response("7 hens lay eggs.", response) if m.text == "36"]
    assert result.verdict == "correct"


def test_a_dash_glued_to_the_number_at_line_start_is_still_a_sign():
    (result,) = [m for m in analyze_response("7 hens.", "-12 * 3 = -36") if m.text == "-36"]
    assert result.verdict == "correct"


# D7: the excluded-span scan is linear.
@pytest.mark.parametrize("text", ["1. 5\n" * 6000, "Step 1: 2\n" * 6000])
def test_many_list_markers_are_scanned_in_linear_time(text):
    assert len(_quick(find_number_mentions, text)) == 6000


# D8: the regexes do not backtrack catastrophically.
@pytest.mark.parametrize(
    "function, text",
    [
        (find_number_mentions, "1" + ",000" * 20000 + ",00"),
        (find_number_mentions, "step" + " " * 50000),
        (extract_final_answer, "The answer is 5" + " " * 50000 + "x"),
    ],
)
def test_pathological_regex_inputs_return_at_once(function, text):
    _quick(function, text)


def test_the_stated_answer_still_stops_at_the_sentence_end():
    assert extract_final_answer("The answer is 3.5 apples. Done") == "3.5 apples"
    assert extract_final_answer("Answer:\n42.") == "42"


# D9: a function around the final answer is evaluated or undecided, never the bare number.
@pytest.mark.parametrize(
    "answer, truth, correct",
    [("\\sqrt{6561}", "6561", False), ("\\sqrt{6561}", "81", True), ("4!", "4", False), ("4!", "24", True)],
)
def test_a_function_around_the_answer_is_evaluated_not_dropped(answer, truth, correct, verify_worker):
    assert is_answer_correct(answer, truth) is correct


@pytest.mark.parametrize("text", ["\\sqrt{6561}", "4!", "\\log 100", "\u221a9"])
def test_a_function_of_a_number_is_not_a_single_number(text):
    assert parse_single_number(text) is None


# D17: explain on a value that Python cannot print as digits.
def test_format_value_shows_a_huge_value_approximately():
    assert format_number(Fraction(3 * 10**10005), "both") == "3e+10005"
    assert format_number(Fraction(10**400, 3), "both").endswith("(3.33333e+399)")


def test_explain_on_a_huge_exponent_prints_a_table(capsys):
    assert main(["explain", "--problem", "p", "--response", "2 * 3 = 3e10005", "--ground-truth", "6"]) == 0
    assert "final answer" in capsys.readouterr().out


# D18: token rewards always sum to R.
def test_token_rewards_of_an_empty_token_list_are_none_not_a_wrong_sum():
    score = score_response("p", "2 * 3 = 6. #### 6", "6", token_spans=[], entropies=[])
    assert score.token_rewards is None and score.total == 1.0


def test_a_worker_stuck_in_c_code_is_killed_and_the_spare_answers_the_next_check(verify_worker):
    from verl_ccrl import verify_worker as worker_module

    stuck = worker_module._Worker.__new__(worker_module._Worker)
    stuck.process = subprocess.Popen(  # answers "ready", then never reads a request: a call stuck past any alarm
        [sys.executable, "-c", "import time; print('{\"ready\": true}', flush=True); time.sleep(60)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    stuck.buffer, stuck.ready, stuck.next_id = b"", False, 0
    with worker_module._lock:
        worker_module._worker, worker_module._spare = stuck, worker_module._worker
    started = time.perf_counter()
    assert worker_module.verify("x", "y") == (False, "math-verify gave no verdict within 5 s")
    # The deadline plus the kill grace (5 s), with a second of slack for a loaded machine's scheduling.
    assert time.perf_counter() - started < ANSWER_CHECK_TIMEOUT_S + VERIFY_KILL_GRACE_S + SECOND
    assert stuck.process.wait(timeout=5) is not None
    assert is_answer_correct("\\sqrt{6561}", "81") is True


def test_a_worker_starved_of_cpu_past_the_deadline_still_gives_its_verdict(verify_worker):
    # A loaded machine: the worker gets no CPU for twice the deadline while the check waits. The deadline counts
    # the worker's CPU time, so the verdict is the one an idle machine gives (a wall-clock deadline said
    # "undecided" here, and a rerun of the same seed trained on another reward).
    from verl_ccrl import verify_worker as worker_module

    worker_module.start_verify_worker()
    pid = worker_module._worker.process.pid
    os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(2 * ANSWER_CHECK_TIMEOUT_S + 0.5, os.kill, (pid, signal.SIGCONT))
    resume.start()
    try:
        assert worker_module.verify("\\frac{1}{2}", "0.5") == (True, None)
    finally:
        resume.join()
    assert worker_module._worker is not None and worker_module._worker.process.pid == pid  # not killed


def test_a_chain_of_scale_words_builds_no_number_over_the_word_bound():
    from verl_ccrl.bounds import MAX_WORD_NUMBER
    from verl_ccrl.word_numbers import word_number_values

    values = _quick(word_number_values, "hundred " * 20000)
    assert values and max(values) <= MAX_WORD_NUMBER


@pytest.mark.parametrize(
    "problem, response, reference, reason",
    [
        ("p", "1 + 1 = 2. " * 400, None, "response: more than MAX_MENTIONS=1000 numbers"),
        ("p", "x" * 100_001, None, "response: 100008 characters, over MAX_ANALYSED_CHARS=100000"),
        ("1 " * 1001, "2 * 3 = 6", None, "problem: more than MAX_MENTIONS=1000 numbers"),
        ("p", "2 * 3 = 6", "y" * 100_001, "reference: 100001 characters, over MAX_ANALYSED_CHARS=100000"),
    ],
)
def test_a_text_over_a_size_bound_gets_the_outcome_only_and_says_which(problem, response, reference, reason):
    score = score_response(problem, response + " #### 6", "6", reference=reference)
    assert (score.bounded, score.bounded_reason, score.confidence_term, score.mentions) == (True, reason, 0.0, ())
    assert score.total == 1.0


@pytest.mark.parametrize("value", ["1e99999999", "9" * 5000, "2^99999999"])
def test_an_oversized_reference_value_is_read_as_no_number_at_once(value):
    # The reward manager checks the RL parquet's reference_values with the core's bounded reader; a plain
    # Fraction(str(value)) took minutes on "1e99999999".
    from verl_ccrl.reward_inputs import read_inputs

    inputs = _quick(read_inputs, [1], 100, "5", {"reference_values": ["3", value]})
    assert inputs.reference_values == []
    assert [problem.field for problem in inputs.malformed] == ["extra_info.reference_values"]
