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

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.arithmetic import find_arithmetic_checks
from verl_ccrl.config import CCRLConfig
from verl_ccrl.number_format import format_number
from verl_ccrl.number_mentions import NumberMention, find_number_mentions, problem_values, value_matches

__all__ = ["AnalyzedMention", "analyze_response", "reference_values"]

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
        """True for a computed number judged right or wrong (the set C of the reward)."""
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


def _is_extracted(mention: NumberMention, given: frozenset[Fraction]) -> bool:
    if any(value in given for value in mention.candidate_values):
        return True
    return bool(mention.fraction_parts) and all(part in given for part in mention.fraction_parts)


def _matches_any(mention: NumberMention, values: frozenset[Fraction]) -> bool:
    if any(value in values for value in mention.candidate_values):
        return True
    return mention.decimals > 0 and any(value_matches(mention, value) for value in values)


def analyze_response(
    problem: str,
    response: str,
    reference: str | None = None,
    *,
    reference_values_extra: Iterable[Fraction | int | str] = (),
    config: CCRLConfig | None = None,
) -> list[AnalyzedMention]:
    """Every number mention of ``response`` in order, with kind (extracted/computed) and verdict.

    ``reference`` is a reference solution or a bare final answer; ``reference_values_extra`` adds known
    intermediate values (e.g. from the RL parquet's ``extra_info``). See the module docstring for the rules.
    """
    for name, value in (("problem", problem), ("response", response)):
        if not isinstance(value, str):
            raise TypeError(f"analyze_response: {name} must be a str, got {type(value).__name__}.")
    if reference is not None and not isinstance(reference, str):
        raise TypeError(f"analyze_response: reference must be a str or None, got {type(reference).__name__}.")
    config = config or _DEFAULT_CONFIG
    given = _given_values(problem, config.word_numbers)
    mentions = find_number_mentions(response)
    checks = {check.result_index: check for check in find_arithmetic_checks(response, mentions)}
    references = reference_values(reference)
    extra = frozenset(Fraction(value) for value in reference_values_extra)
    if extra:
        references = references | extra

    analyzed: list[AnalyzedMention] = []
    first_computed: dict[Fraction, AnalyzedMention] = {}
    for index, mention in enumerate(mentions):
        if _is_extracted(mention, given):
            analyzed.append(_with(mention, EXTRACTED, None, "given in the problem"))
            continue
        restated = next((first_computed[v] for v in mention.candidate_values if v in first_computed), None)
        verdict, reason = _verdict(mention, checks.get(index), restated, references, config)
        result = _with(mention, COMPUTED, verdict, reason)
        analyzed.append(result)
        for value in mention.candidate_values:
            first_computed.setdefault(value, result)
    return analyzed


def _verdict(mention, check, restated, references, config) -> tuple[str, str]:
    for source in config.verification_sources:
        if source == "arithmetic" and check is not None:
            if check.correct:
                return CORRECT, f"{check.expression} = {format_number(check.expected, 'short')}"
            return WRONG, f"{check.expression} = {format_number(check.expected, 'short')}, not {mention.text}"
        if source == "reference":
            if restated is not None:
                return _restatement(restated, config)
            if references and _matches_any(mention, references):
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


def _with(mention: NumberMention, kind: str, verdict: str | None, reason: str) -> AnalyzedMention:
    return AnalyzedMention(mention.start, mention.end, mention.text, mention.value, kind, verdict, reason)


_DEFAULT_CONFIG = CCRLConfig()
