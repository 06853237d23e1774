"""Fuzz suite (issue 13): every entry point, 2,000 fixed-seed examples each, no exception, every call under 1 s,
and the documented invariants. The long run is ``python benchmarks/fuzz_long.py --examples 20000``.

Calls run in-process (fast); a main-thread alarm turns a hang into a failure instead of a stalled suite. A call's
time is its CPU time (this process plus the math-verify worker it waited on), so that a loaded CI machine does
not fail the bound; the wall wait on math-verify is bounded by its deadline by construction (``test_bounds``).
The cyclic garbage collector is paused during each timed call: Hypothesis' own objects make a full collection
take up to 1.6 s here, which is the test process's heap, not the call's cost (the long run, in small forked
processes, keeps the collector on).
"""

import argparse
import contextlib
import gc
import io
import math
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from forked import process_cpu_s  # noqa: E402
from fuzz_strategies import (  # noqa: E402
    ground_truths,
    numerals,
    problems,
    references,
    responses,
    score_inputs,
    small_ints,
)

from verl_ccrl import verify_worker  # noqa: E402
from verl_ccrl.analysis import CORRECT, UNVERIFIABLE, WRONG, analyze_response, read_within_bounds  # noqa: E402
from verl_ccrl.answer import check_answer, extract_final_answer  # noqa: E402
from verl_ccrl.arithmetic import find_arithmetic_checks  # noqa: E402
from verl_ccrl.bounds import MAX_NUMBER_DIGITS, MAX_NUMBER_EXPONENT  # noqa: E402
from verl_ccrl.cli import explain  # noqa: E402
from verl_ccrl.config import CCRLConfig  # noqa: E402
from verl_ccrl.number_mentions import read_numbers  # noqa: E402
from verl_ccrl.reward import score_response  # noqa: E402
from verl_ccrl.reward_inputs import read_inputs  # noqa: E402

CALL_BOUND_S = 1.0
HANG_ALARM_S = 10
FUZZ = settings(
    max_examples=2000,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CONFIG = CCRLConfig()
# The largest exact value a mention may hold: MAX_NUMBER_DIGITS digits times 10^MAX_NUMBER_EXPONENT.
# What the reward manager reads from a sample's extra_info / the rollout's extra_fields.
READ_FIELDS = ["question", "reference", "answer_type", "ccrl_entropies", "other"]
MAX_MENTION_BITS = int((MAX_NUMBER_DIGITS + MAX_NUMBER_EXPONENT + 2) * 3.33)


class _Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Hang(f"a call ran past {HANG_ALARM_S} s")


@pytest.fixture(scope="module", autouse=True)
def _warm_worker(ready_verify_worker):  # its one-time start (about 5 s of CPU) is not a call's cost
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    yield
    signal.signal(signal.SIGALRM, previous)


def _timed(function, *args, **kwargs):
    worker = verify_worker._worker
    worker_pid = worker.process.pid if worker is not None else 0
    worker_started = process_cpu_s(worker_pid) if worker_pid else 0.0
    signal.alarm(HANG_ALARM_S)
    gc.disable()
    started = time.process_time()
    try:
        result = function(*args, **kwargs)
    finally:
        elapsed = time.process_time() - started
        gc.enable()
        signal.alarm(0)
    if worker_pid:
        elapsed += max(0.0, process_cpu_s(worker_pid) - worker_started)
    assert elapsed < CALL_BOUND_S, f"{function.__name__} took {elapsed:.3f} s of CPU"
    return result


@FUZZ
@given(inputs=score_inputs())
def test_score_response_is_finite_bounded_and_sums_to_r(inputs):
    score = _timed(score_response, **inputs)
    assert math.isfinite(score.total)
    assert CONFIG.wrong_reward - CONFIG.beta - 1e-9 <= score.total <= CONFIG.correct_reward + CONFIG.alpha + 1e-9
    assert score.outcome in (CONFIG.correct_reward, CONFIG.wrong_reward)
    if score.token_rewards is not None:
        assert len(score.token_rewards) == len(inputs["token_spans"])
        assert math.isclose(sum(score.token_rewards), score.total, abs_tol=1e-9)
    for mention in score.mentions:
        assert mention.confidence is None or 0.0 <= mention.confidence <= 1.0
        assert math.isfinite(mention.term)
    if score.bounded:
        assert score.bounded_reason and score.confidence_term == 0.0
    assert isinstance(score.answer_correct, bool)


@FUZZ
@given(response=responses(), truth=ground_truths)
def test_the_final_answer_check_returns_a_bool_at_once(response, truth):
    answer = _timed(extract_final_answer, response, fallback_last_number=True)
    check = _timed(check_answer, answer, truth)
    assert isinstance(check.correct, bool)
    assert check.undecided is None or (check.correct is False and check.undecided)


@FUZZ
@given(text=st.one_of(responses(), problems))
def test_the_number_reader_gives_ordered_bounded_mentions(text):
    reading = _timed(read_numbers, text)
    previous_end = 0
    for mention in reading.mentions:
        assert previous_end <= mention.start < mention.end <= len(text)
        assert text[mention.start : mention.end] == mention.text
        assert mention.value.numerator.bit_length() <= MAX_MENTION_BITS
        assert mention.value.denominator.bit_length() <= MAX_MENTION_BITS
        previous_end = mention.end
    for oversized in reading.oversized:
        assert 0 <= oversized.start < oversized.end <= len(text) and oversized.reason


@FUZZ
@given(problem=problems, response=responses(), reference=references)
def test_statement_verdicts_are_known_values(problem, response, reference):
    mentions, bound = _timed(read_within_bounds, problem, response, reference)
    if mentions is None:
        assert bound
        return
    checks = _timed(find_arithmetic_checks, response, mentions)
    assert all(0 <= check.result_index < len(mentions) for check in checks)
    analyzed = _timed(analyze_response, problem, response, reference, mentions=mentions)
    assert len(analyzed) == len(mentions)
    assert all(m.verdict in (None, CORRECT, WRONG, UNVERIFIABLE) for m in analyzed)


@FUZZ
@given(problem=problems, response=responses(), reference=references, truth=st.one_of(st.none(), ground_truths))
def test_explain_prints_and_exits_zero(problem, response, reference, truth):
    # The parsed arguments directly: building the argparse parser costs 40 ms a call, and it is not under test.
    args = argparse.Namespace(
        problem=problem, response=response, reference=reference, ground_truth=None if truth is None else str(truth)
    )
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert _timed(explain, args) == 0
    assert out.getvalue()


_field_values = st.one_of(
    st.none(), ground_truths, problems, references, st.lists(ground_truths, max_size=5), st.booleans(), st.binary()
)
# Each field the reward manager reads, optional, with a value of any kind; reference_values mostly as a list of
# numerals of every form (oversized ones included).
_sample_fields = st.fixed_dictionaries(
    {},
    optional={
        **{name: _field_values for name in READ_FIELDS},
        "reference_values": st.one_of(st.lists(st.one_of(numerals, ground_truths), max_size=5), _field_values),
    },
)


@FUZZ
@given(
    ids=st.lists(st.one_of(st.integers(), st.booleans(), st.floats(), st.none()), max_size=20),
    truth=st.one_of(st.none(), ground_truths, st.lists(small_ints, max_size=3)),
    extra_info=st.one_of(_sample_fields, _field_values),
    extra_fields=st.one_of(st.none(), _sample_fields),
)
def test_the_reward_managers_field_reader_never_raises_and_names_what_it_refused(ids, truth, extra_info, extra_fields):
    inputs = _timed(read_inputs, ids, 100, truth, extra_info, extra_fields)
    assert all(isinstance(i, int) and 0 <= i < 100 for i in inputs.response_ids)
    assert inputs.ground_truth is None or inputs.ground_truth.strip()
    assert all(isinstance(value, Fraction) for value in inputs.reference_values)
    assert all(problem.field and problem.problem for problem in inputs.malformed)
