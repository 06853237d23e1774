"""Bounds: the limits that keep one reward call's cost bounded, whatever a model or a user writes.

Pure Python, no verl import. A reward function runs inside every PPO step: one input that makes it hang stalls
the step, one exception kills the run. So every quantity whose cost grows with what the text says (not with how
long it is) has a bound here, and crossing one is a *result*, never an exception or a stall:

- a numeral over :data:`MAX_NUMBER_DIGITS` digits or with an exponent over :data:`MAX_NUMBER_EXPONENT` is an
  *opaque* number: its span is known, its value is never built, it gets no verdict;
- an arithmetic value over :data:`MAX_VALUE_DIGITS` digits, or a power over :data:`MAX_POWER_EXPONENT`, ends the
  evaluation of that statement (no verdict for it);
- a problem, response or reference over :data:`MAX_ANALYSED_CHARS` characters or :data:`MAX_MENTIONS` numbers is
  not judged at all (``analysis.read_within_bounds``);
- the final-answer check runs math-verify only on inputs that pass :func:`verl_ccrl.answer.verify_screen` and
  then under a deadline of :data:`ANSWER_CHECK_TIMEOUT_S` seconds of the worker's CPU time, made hard by killing
  its worker process once :data:`VERIFY_KILL_GRACE_S` more seconds of wall time have passed (``verify_worker``), in
  any thread.

A response that crosses a bound gets the outcome reward where it can be decided, no number terms, and
``CCRLScore.bounded`` set with the reason (see ``reward.py``), so a trainer can count it.

Worked example: ``"2 * 3 = 1e9999999"`` used to build a 10-million-digit integer (12 s); now ``1e9999999`` is an
opaque number and the call returns in microseconds::

    >>> from verl_ccrl.number_mentions import read_numbers
    >>> read_numbers("2 * 3 = 1e9999999").oversized
    [OversizedNumber(start=8, end=17, reason='exponent 9999999 over the bound of 100')]
"""

from __future__ import annotations

MAX_NUMBER_DIGITS = 100
"""Digits one numeral may have (separators not counted, its exponent's digits counted). Python refuses to turn
more than 4,300 digits into an int, and no word-problem quantity needs more than a few dozen."""

MAX_NUMBER_EXPONENT = 100
"""Largest ``|e|`` of a numeral written in scientific notation (``1.5e100``). ``1e9999999`` would otherwise be built
exactly: 12 s and 4 MB for one 17-character token."""

MAX_VALUE_DIGITS = 400
"""Digits (numerator or denominator) an intermediate value of an arithmetic statement may reach before the
statement is left unjudged. Products of bounded numerals stay small; this stops ``9^9^9`` style growth."""

MAX_POWER_EXPONENT = 64
"""Largest integer exponent ``a ^ b`` is evaluated with in a statement; larger powers leave it unjudged."""

MAX_ANALYSED_CHARS = 100_000
"""Longest problem, response or reference read for numbers (about 25,000 tokens). Every scan is linear; this
keeps a call under its time bound. A longer text gets the outcome reward only."""

MAX_MENTIONS = 1000
"""Most numbers read from one problem, response or reference (a GSM8K solution has 5-30). Judging costs about
0.1 ms per number, so this keeps a call well under a second; a text with more gets the outcome reward only."""

MAX_WORD_NUMBER = 10**15
"""Largest value the written-out number reader builds ("hundred hundred hundred ..." would grow without end)."""

MAX_VERIFY_CHARS = 200
"""Longest answer or ground truth handed to math-verify (sympy); longer ones are undecided (not correct)."""

MAX_VERIFY_EXPONENT = 1000
"""Largest number written as an exponent (after ``^``) or under a factorial (before ``!``) handed to math-verify:
sympy evaluates ``2^{99999999999}`` and ``(9999999999)!`` exactly and never returns."""

ANSWER_CHECK_TIMEOUT_S = 0.5
"""Deadline of one math-verify call, in seconds of the worker's CPU time. The worker stops the call itself when it
has used this much CPU (a main-thread profiling timer there); if the call is stuck in C code and does not stop, the
caller kills the worker (:data:`VERIFY_KILL_GRACE_S`). Ordinary answers take 5-70 ms in a warm worker. CPU time,
not wall time, so that the verdict depends on the answer and not on the machine's load: with a wall-clock deadline,
two toy-world runs side by side on 2 cores left an ordinary answer undecided in an early step, and a rerun of the
same seed trained on a different reward from there (docs/toy_world.md)."""

VERIFY_KILL_GRACE_S = 4.5
"""Wall time past :data:`ANSWER_CHECK_TIMEOUT_S` after which the caller kills a worker that has not answered: the
hard bound of one check is their sum, 5 s. A call within its CPU deadline still gets its verdict while other
processes slow the worker down up to tenfold; only a call stuck in C code, or a machine loaded beyond that, meets
the kill."""

VERIFY_WORKER_START_TIMEOUT_S = 60.0
"""How long a caller waits for the math-verify worker process to start (importing sympy and warming it up takes
about 5 s of CPU). Past it the call is undecided and the worker keeps starting for the next call."""
