"""Which numbers in a response were computed, and was each computed number right?

Pure Python, no verl import. ``analyze_response`` is the public entry point users debug rewards with.

Example::

    >>> problem = "A box holds 12 eggs. Tom buys 7 boxes and breaks 3 eggs. How many whole eggs?"
    >>> response = "7 * 12 = 84 eggs. 84 - 3 = 80. The answer is 80."
    >>> [(m.text, m.kind, m.verdict) for m in analyze_response(problem, response, reference="81")]
    [('7', 'extracted', None), ('12', 'extracted', None), ('84', 'computed', 'correct'), ('84', 'computed', 'unverifiable'), ('3', 'extracted', None), ('80', 'computed', 'wrong'), ('80', 'computed', 'unverifiable')]

Kind: a mention is *extracted* when one of its values (a percentage counts as both 1/4 and 25) is a value the
problem gives (numerals, written-out numbers, fraction parts; see ``problem_values``), or when it is a fraction
whose numerator and denominator are both given (``12/4`` with 12 and 4 in the problem). Otherwise *computed*.

Verdict of a computed mention, the first rule that applies (sources in ``config.verification_sources`` order):
1. ``arithmetic``: the mention is the claimed result of an arithmetic statement in the response: correct if the
   left side evaluates to it exactly (or to its written precision: ``10 / 3 = 3.33``), else wrong. Judged per
   statement, so in ``20 - 3.5 = 16.5`` the 16.5 is correct even if 3.5 was wrong earlier.
2. A *restatement* (the mention repeats the value of an earlier computed mention: "The answer is 80", GSM8K's
   ``<<a*b=c>>c``) is ``unverifiable`` by default: it copies rather than computes, and the error was already
   charged where it was made. ``restatement_policy='inherit'`` gives it the earlier verdict instead.
3. ``reference``: correct if it equals a value of the reference solution (its numbers, e.g. GSM8K's ``<<a*b=c>>``
   results) or its final answer; else ``unverifiable`` (or ``wrong`` with ``reference_mismatch_is_wrong``).
4. Otherwise ``unverifiable``.

Not handled: a computed value that happens to equal a problem value is "extracted" (it cannot be told apart from
copying); a negated given value (``-5`` for "drops by 5") is computed.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.arithmetic import find_arithmetic_checks
from verl_ccrl.bounds import MAX_ANALYSED_CHARS, MAX_MENTIONS
from verl_ccrl.config import CCRLConfig
from verl_ccrl.number_format import format_number
from verl_ccrl.number_mentions import (
    NumberMention,
    find_number_mentions,
    parse_single_number,
    precision_readings,
    problem_values,
    read_numbers,
)

__all__ = ["AnalyzedMention", "analyze_response", "known_value", "read_within_bounds", "reference_values"]

EXTRACTED, COMPUTED = "extracted", "computed"
CORRECT, WRONG, UNVERIFIABLE = "correct", "wrong", "unverifiable"


@dataclass(frozen=True)
class AnalyzedMention:
    """A number mention of the response with its kind, its verdict and why."""

    start: int
    end: int
    text: str
    value: Fraction
    kind: str  # "extracted" | "computed"
    verdict: str | None  # "correct" | "wrong" | "unverifiable" for computed mentions; None for extracted
    reason: str

    @property
    def has_verdict(self) -> bool:
        """True for a computed number with a verdict of right or wrong; with a confidence too it is judged, a member
        of the reward's set C (``reward.is_judged``)."""
        return self.verdict in (CORRECT, WRONG)


@lru_cache(maxsize=8192)
def _given_values(problem: str, word_numbers: bool) -> frozenset[Fraction]:
    # GRPO samples several responses per problem: the problem is parsed once, not once per response.
    return problem_values(problem, word_numbers=word_numbers)


@lru_cache(maxsize=8192)
def reference_values(reference: str | None) -> frozenset[Fraction]:
    """Every value of a reference solution (or of a bare final answer), percentages both ways.

    >>> sorted(reference_values("She has 3 * 4 = <<3*4=12>>12 apples. #### 12"))
    [Fraction(3, 1), Fraction(4, 1), Fraction(12, 1)]
    """
    if not reference:
        return frozenset()
    values: set[Fraction] = set()
    for mention in find_number_mentions(reference):
        values.update(mention.candidate_values)
    return frozenset(values)


def read_within_bounds(
    problem: str, response: str, reference: str | None = None
) -> tuple[list[NumberMention] | None, str]:
    """The response's mentions, ready for ``analyze_response(..., mentions=...)``, or (None, why) when the problem,
    the response or the reference crosses a bound of ``bounds.py`` (too long, too many numbers, an oversized
    numeral in the response). Costs at most one bounded read of each text; problem and reference are cached.

    >>> read_within_bounds("p", "2 * 3 = 1e9999999")
    (None, 'response: exponent 9999999 over the bound of 100 at 8')
    >>> [m.text for m in read_within_bounds("p", "2 * 3 = 6")[0]]
    ['2', '3', '6']
    """
    for name, text in (("problem", problem), ("reference", reference)):
        reason = _text_over_bounds(text) if isinstance(text, str) else None
        if reason is not None:
            return None, f"{name}: {reason}"
    if len(response) > MAX_ANALYSED_CHARS:
        return None, f"response: {len(response)} characters, over MAX_ANALYSED_CHARS={MAX_ANALYSED_CHARS}"
    reading = read_numbers(response, limit=MAX_MENTIONS)
    if not reading.complete:
        return None, f"response: more than MAX_MENTIONS={MAX_MENTIONS} numbers"
    if reading.oversized:
        return None, f"response: {reading.oversized[0].reason} at {reading.oversized[0].start}"
    return reading.mentions, ""


@lru_cache(maxsize=1024)
def _text_over_bounds(text: str) -> str | None:
    # An oversized numeral in a problem or reference only removes that value; too many numbers cost time.
    if len(text) > MAX_ANALYSED_CHARS:
        return f"{len(text)} characters, over MAX_ANALYSED_CHARS={MAX_ANALYSED_CHARS}"
    if not read_numbers(text, limit=MAX_MENTIONS).complete:
        return f"more than MAX_MENTIONS={MAX_MENTIONS} numbers"
    return None


def _is_extracted(mention: NumberMention, given: frozenset[Fraction]) -> bool:
    if any(value in given for value in mention.candidate_values):
        return True
    return bool(mention.fraction_parts) and all(part in given for part in mention.fraction_parts)


def _matches_any(mention: NumberMention, values: frozenset[Fraction], ordered: list[Fraction]) -> bool:
    """``value_matches`` against any of ``values`` (``ordered`` = sorted ``values``): one bisection per reading
    instead of one comparison per value, so a long reference costs log time per mention, not linear."""
    if any(value in values for value in mention.candidate_values):
        return True
    if mention.decimals <= 0:
        return False
    for candidate, half_unit in precision_readings(mention):
        nearest = bisect_left(ordered, candidate - half_unit)
        if nearest < len(ordered) and ordered[nearest] <= candidate + half_unit:
            return True
    return False


def analyze_response(
    problem: str,
    response: str,
    reference: str | None = None,
    *,
    reference_values_extra: Iterable[Fraction | int | str] = (),
    config: CCRLConfig | None = None,
    mentions: list[NumberMention] | None = None,
) -> list[AnalyzedMention]:
    """Every number mention of ``response`` in order, with kind (extracted/computed) and verdict.

    ``reference`` is a reference solution or a bare final answer; ``reference_values_extra`` adds known
    intermediate values (e.g. from the RL parquet's ``extra_info``); ``mentions``, when given, are the response's
    mentions already read (``read_numbers(response).mentions``). See the module docstring for the rules.
    Oversized numerals (``bounds.py``) are not mentions, so they appear nowhere here.
    """
    for name, value in (("problem", problem), ("response", response)):
        if not isinstance(value, str):
            raise TypeError(f"analyze_response: {name} must be a str, got {type(value).__name__}.")
    if reference is not None and not isinstance(reference, str):
        raise TypeError(f"analyze_response: reference must be a str or None, got {type(reference).__name__}.")
    config = config or _DEFAULT_CONFIG
    given = _given_values(problem, config.word_numbers)
    if mentions is None:
        mentions = find_number_mentions(response)
    checks = {check.result_index: check for check in find_arithmetic_checks(response, mentions)}
    references = reference_values(reference)
    extra = frozenset(_known_values(reference_values_extra))
    if extra:
        references = references | extra
    ordered_references = sorted(references)

    analyzed: list[AnalyzedMention] = []
    first_computed: dict[Fraction, AnalyzedMention] = {}
    for index, mention in enumerate(mentions):
        if _is_extracted(mention, given):
            analyzed.append(_with(mention, EXTRACTED, None, "given in the problem"))
            continue
        restated = next((first_computed[v] for v in mention.candidate_values if v in first_computed), None)
        verdict, reason = _verdict(mention, checks.get(index), restated, references, ordered_references, config)
        result = _with(mention, COMPUTED, verdict, reason)
        analyzed.append(result)
        for value in mention.candidate_values:
            first_computed.setdefault(value, result)
    return analyzed


def _verdict(mention, check, restated, references, ordered_references, config) -> tuple[str, str]:
    for source in config.verification_sources:
        if source == "arithmetic" and check is not None:
            if check.correct:
                return CORRECT, f"{check.expression} = {format_number(check.expected, 'short')}"
            return WRONG, f"{check.expression} = {format_number(check.expected, 'short')}, not {mention.text}"
        if source == "reference":
            if restated is not None:
                return _restatement(restated, config)
            if references and _matches_any(mention, references, ordered_references):
                return CORRECT, "matches a reference value"
            if references and config.reference_mismatch_is_wrong:
                return WRONG, "matches no reference value"
    if restated is not None:
        return _restatement(restated, config)
    return UNVERIFIABLE, "no check applies"


def _restatement(restated: AnalyzedMention, config: CCRLConfig) -> tuple[str, str]:
    where = f"restates {restated.text} at {restated.start}"
    if config.restatement_policy == "inherit":
        return restated.verdict or UNVERIFIABLE, where
    return UNVERIFIABLE, where


def _known_values(values: Iterable[Fraction | int | str]) -> list[Fraction]:
    """The numeric values among ``values`` (:func:`known_value`); the others are no reference values.

    >>> _known_values([Fraction(1, 2), 3, 0.25, "4.5", "5:6", "1e9999999", float("nan"), True])
    [Fraction(1, 2), Fraction(3, 1), Fraction(1, 4), Fraction(9, 2)]
    """
    return [value for value in map(known_value, values) if value is not None]


def known_value(value: object) -> Fraction | None:
    """A reference value as a number, or None: a text value (``"5:6"``, ``"Vendor 2"``), a bool, a non-finite float,
    or an unreadable or oversized numeral (``"1e9999999"``, read by the bounded number reader) is no number, never an
    error or a hang. Integers of any type (numpy's from a parquet too) and finite floats are taken exactly.

    >>> known_value("1,000"), known_value(0.25), known_value("1e9999999"), known_value(True)
    (Fraction(1000, 1), Fraction(1, 4), None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Rational):
        return Fraction(value)
    if isinstance(value, numbers.Real):
        return Fraction(float(value)) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        return parse_single_number(value)
    return None


def _with(mention: NumberMention, kind: str, verdict: str | None, reason: str) -> AnalyzedMention:
    return AnalyzedMention(mention.start, mention.end, mention.text, mention.value, kind, verdict, reason)


_DEFAULT_CONFIG = CCRLConfig()
