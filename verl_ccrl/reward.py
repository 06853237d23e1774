"""The Confidence-Calibrated RL reward.

    R = R_outcome + (1/|C|) * sum_{i in C} s_i          (the second term is 0 when C is empty)
    s_i = +alpha * c_i   if computed number i is correct
    s_i = -beta  * c_i   if it is wrong and c_i >= tau   (0 if wrong and c_i < tau)

(the default ``linear`` shaping; ``ccrl.shaping=brier`` uses a proper scoring rule instead, see ``shaping.py``).

C is the set of computed numbers with a verdict (correct or wrong) *and* a confidence (their tokens aligned
and their entropies finite); c_i = confidence of number i (``confidence.py``); R_outcome = correct_reward or
wrong_reward by the final answer (``answer.py``). Pure Python, no verl import.

The token-level form puts s_i/|C| on each number's last token and R_outcome on the last response token, so it
sums to R: PPO with GAE gets per-token credit where the number was written; GRPO, which sums token rewards, sees R.
With no tokens (``token_spans=[]``) there is nowhere to put R, so ``token_rewards`` is None.

Bounded cost: a response that crosses a bound of ``bounds.py`` (``analysis.read_within_bounds``: an oversized
numeral, too long a text or too many numbers; or a final answer the check could not decide) gets ``bounded=True``
and ``bounded_reason``; its numbers get no terms (R = R_outcome), and an undecided answer is not correct.

Example::

    >>> problem = "Pens cost $3 each. Ann buys 4 pens and a $5 book. What does she pay?"
    >>> response = "4 * 3 = 12. 12 + 5 = 18. #### 18"
    >>> spans = [(0, 1), (1, 3), (3, 5), (5, 7), (7, 10), (10, 11), (11, 14), (14, 16), (16, 18), (18, 20),
    ...          (20, 23), (23, 24), (24, 29), (29, 32)]
    >>> score = score_response(problem, response, "17", token_spans=spans, entropies=[0.0] * len(spans))
    >>> score.outcome, [(m.text, m.verdict, m.term) for m in score.mentions if m.has_verdict]
    (0.0, [('12', 'correct', 0.25), ('18', 'wrong', -0.5)])
    >>> score.total, sum(score.token_rewards)
    (-0.125, -0.125)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from verl_ccrl.alignment import TokenSpan, mention_token_indices, span_ends
from verl_ccrl.analysis import (
    COMPUTED,
    CORRECT,
    EXTRACTED,
    UNVERIFIABLE,
    WRONG,
    AnalyzedMention,
    analyze_response,
    read_within_bounds,
)
from verl_ccrl.answer import TEXT_ANSWER, check_answer, extract_final_answer, is_text_answer, parse_ground_truth
from verl_ccrl.confidence import number_confidence
from verl_ccrl.config import CCRLConfig
from verl_ccrl.shaping import number_term

__all__ = [
    "CCRLScore",
    "Outcome",
    "ScoredMention",
    "calibration_points",
    "count_numbers",
    "is_judged",
    "outcome_reward",
    "place_token_rewards",
    "rescore_number",
    "rescore_numbers",
    "score_response",
]


def is_judged(kind: str | None, verdict: str | None, confidence: float | None) -> bool:
    """Whether a number is *judged*: computed, with a verdict of correct or wrong, and a confidence. The judged
    numbers of a response are the set C of the reward (``in_reward``) and the calibration points of the training
    metrics and the evaluation; this is the one place the rule is written.

    >>> is_judged("computed", "wrong", 0.9), is_judged("computed", "wrong", None), is_judged("computed", "unverifiable", 0.9)
    (True, False, False)
    """
    return kind != EXTRACTED and verdict in (CORRECT, WRONG) and confidence is not None


def calibration_points(numbers: Iterable[tuple[str | None, str | None, float | None]]) -> list[tuple[float, bool]]:
    """``(confidence, correct)`` of each judged number (:func:`is_judged`) among ``(kind, verdict, confidence)``.

    >>> calibration_points([("computed", "wrong", 0.9), ("extracted", None, None), ("computed", "correct", None)])
    [(0.9, False)]
    """
    return [
        (float(confidence), verdict == CORRECT)
        for kind, verdict, confidence in numbers
        if is_judged(kind, verdict, confidence)
    ]


def count_numbers(numbers: Iterable[tuple[str | None, str | None, float | None]]) -> dict[str, int]:
    """Counts of ``(kind, verdict, confidence)`` triples by kind and verdict; ``in_reward``: the judged ones.

    >>> count_numbers([("computed", "wrong", 0.9), ("extracted", None, None), ("computed", "unverifiable", 0.5)])
    {'extracted': 1, 'computed': 2, 'correct': 0, 'wrong': 1, 'unverifiable': 1, 'in_reward': 1}
    """
    counts = dict.fromkeys((EXTRACTED, COMPUTED, CORRECT, WRONG, UNVERIFIABLE, "in_reward"), 0)
    for kind, verdict, confidence in numbers:
        counts[EXTRACTED if kind == EXTRACTED else COMPUTED] += 1
        if verdict in (CORRECT, WRONG, UNVERIFIABLE):
            counts[verdict] += 1
        counts["in_reward"] += is_judged(kind, verdict, confidence)
    return counts


@dataclass(frozen=True)
class Outcome:
    """The outcome part of the reward: the final answer, whether it is correct, and R_outcome."""

    answer: str | None
    correct: bool
    undecided: str | None  # why the answer check reached no verdict within the bounds (then not correct), or None
    reward: float  # correct_reward or wrong_reward


def outcome_reward(
    response: str, ground_truth: str | int | float, *, config: CCRLConfig | None = None, answer_type: str | None = None
) -> Outcome:
    """R_outcome of a response: its final answer (``answer.extract_final_answer``), checked against the ground truth
    (``answer.check_answer``), gives ``config.correct_reward`` or ``config.wrong_reward``.

    >>> outcome_reward("12 + 5 = 17. #### 17", "17")
    Outcome(answer='17', correct=True, undecided=None, reward=1.0)
    """
    config = config or _DEFAULT_CONFIG
    answer = extract_final_answer(response, fallback_last_number=config.answer_fallback_last_number)
    check = check_answer(answer, ground_truth, answer_type=answer_type)
    return Outcome(
        answer, check.correct, check.undecided, config.correct_reward if check.correct else config.wrong_reward
    )


@dataclass(frozen=True)
class ScoredMention:
    """An analysed number with where it sits in the token stream, its confidence and its reward term s_i."""

    start: int
    end: int
    text: str
    value: Fraction
    kind: str
    verdict: str | None
    reason: str
    token_indices: tuple[int, ...] | None
    confidence: float | None
    term: float  # s_i before division by |C|; 0 outside C

    @property
    def has_verdict(self) -> bool:
        return self.verdict in (CORRECT, WRONG)

    @property
    def in_reward(self) -> bool:
        """Member of C: judged (:func:`is_judged`)."""
        return is_judged(self.kind, self.verdict, self.confidence)


@dataclass(frozen=True)
class CCRLScore:
    total: float
    outcome: float
    confidence_term: float
    answer: str | None
    answer_correct: bool
    mentions: tuple[ScoredMention, ...]
    token_rewards: list[float] | None = field(repr=False)
    entropy_status: str  # "ok", "missing", or why the entropies were not usable
    bounded: bool = False  # a bound of bounds.py was crossed: no number terms, the answer may be undecided
    bounded_reason: str = ""  # which bound and where, e.g. "response: exponent 9999999 over the bound of 100 at 8"

    def counts(self) -> dict[str, int]:
        """Per-response counts for logging."""
        return count_numbers((m.kind, m.verdict, m.confidence) for m in self.mentions)


def score_response(
    problem: str,
    response: str,
    ground_truth: str | int | float,
    *,
    reference: str | None = None,
    reference_values_extra: Iterable[Fraction | int | str] = (),
    token_spans: Sequence[TokenSpan] | None = None,
    entropies: Sequence[float] | None = None,
    config: CCRLConfig | None = None,
    answer_type: str | None = None,
) -> CCRLScore:
    """CCRL reward of one response.

    ``token_spans[i]`` is the character span of response token ``i`` in ``response`` (``TokenAligner``) and
    ``entropies[i]`` the policy's entropy (nats) when sampling it. Without them, or when they do not fit
    (wrong length, NaN/inf at a number), the affected numbers get no confidence and leave C: the reward
    degrades towards outcome-only, never to an error. The ground truth is also a reference value.
    ``answer_type="text"`` (data_prep's ``extra_info``) marks a published text answer: compared as text, and the
    item gets the outcome reward and no number terms.
    """
    config = config or _DEFAULT_CONFIG
    result = outcome_reward(response, ground_truth, config=config, answer_type=answer_type)
    answer, answer_correct, outcome = result.answer, result.correct, result.reward
    mentions, text_bound = read_within_bounds(problem, response, reference)
    answer_bound = f"final answer undecided: {result.undecided}" if result.undecided else ""
    bounds_crossed = [reason for reason in (text_bound, answer_bound) if reason]

    extra = [*reference_values_extra]
    text_truth = answer_type == TEXT_ANSWER or is_text_answer(str(ground_truth).strip())
    truth_value = None if text_truth else parse_ground_truth(str(ground_truth).strip())
    if truth_value is not None:
        extra.append(truth_value)
    analyzed = []
    if not bounds_crossed:
        analyzed = analyze_response(
            problem, response, reference, reference_values_extra=extra, config=config, mentions=mentions
        )
    if text_truth:  # a text answer ("Vendor 2"): the outcome reward only, as answer.py documents
        analyzed = [_without_verdict(mention) for mention in analyzed]

    entropy_values, entropy_status = _usable_entropies(token_spans, entropies)
    ends = span_ends(token_spans) if token_spans is not None else None
    scored: list[ScoredMention] = []
    for mention in analyzed:
        indices = confidence = None
        # Token positions whenever the tokens are known, so the terms can be recomputed later from other entropies
        # (the actor's, see rescore_numbers); a confidence only where this call has usable entropies.
        if ends is not None and mention.kind != EXTRACTED:
            indices = mention_token_indices(token_spans, mention.start, mention.end, ends)
            if indices is not None and entropy_values is not None:
                confidence = _confidence([entropy_values[i] for i in indices], config)
        scored.append(_scored(mention, indices, confidence, config))

    members = [m for m in scored if m.in_reward]
    confidence_term = sum(m.term for m in members) / len(members) if members else 0.0
    total = outcome + confidence_term

    token_rewards = None
    if token_spans:  # no tokens (an empty span list): no token-level form, as with no spans at all
        shares = [(member.token_indices[-1], member.term / len(members)) for member in members]
        token_rewards = place_token_rewards(len(token_spans), total, shares)
    return CCRLScore(
        total, outcome, confidence_term, answer, answer_correct, tuple(scored), token_rewards, entropy_status,
        bool(bounds_crossed), "; ".join(bounds_crossed),
    )  # fmt: skip


def rescore_numbers(
    numbers: Sequence[tuple[Sequence[int], bool]], entropies: Sequence[float], config: CCRLConfig | None = None
) -> tuple[float, list[tuple[int, float, float, bool]]]:
    """The confidence term from another source of per-token entropies, for numbers already judged.

    ``numbers`` holds, per judged computed number, its token indices and whether it is correct (what the reward
    manager records); ``entropies`` is one entropy per response token (e.g. the actor's, exact). Returns the term
    (1/|C|) sum s_i and, per number in C, (last token, s_i/|C|, confidence, correct). Numbers whose tokens fall
    outside ``entropies`` or whose entropies are not finite leave C, as in ``score_response``.

    >>> term, placed = rescore_numbers([([3, 4], True), ([9], False), ([12], True)], [0.0] * 10)
    >>> term, placed
    (-0.125, [(4, 0.125, 1.0, True), (9, -0.25, 1.0, False)])
    """
    members = []
    for indices, correct in numbers:
        confidence, term = rescore_number(indices, correct, entropies, config)
        if confidence is not None:
            members.append((indices[-1], term, confidence, correct))
    if not members:
        return 0.0, []
    placed = [(token, term / len(members), confidence, correct) for token, term, confidence, correct in members]
    return sum(share for _, share, _, _ in placed), placed


def rescore_number(
    token_indices: Sequence[int], correct: bool, entropies: Sequence[float], config: CCRLConfig | None = None
) -> tuple[float | None, float]:
    """(confidence, s_i) of one judged number from per-token ``entropies``; (None, 0.0) when it cannot be in C
    (no tokens, tokens outside ``entropies``, entropies that give no confidence).

    >>> rescore_number([3, 4], True, [0.0] * 10), rescore_number([12], False, [0.0] * 10)
    ((1.0, 0.25), (None, 0.0))
    """
    config = config or _DEFAULT_CONFIG
    if not token_indices or max(token_indices) >= len(entropies):
        return None, 0.0
    confidence = _confidence([entropies[i] for i in token_indices], config)
    if confidence is None:
        return None, 0.0
    return confidence, _term(CORRECT if correct else WRONG, confidence, config)


def place_token_rewards(length: int, total: float, token_terms: Iterable[tuple[int, float]]) -> list[float]:
    """The token-level form of a reward: each ``(token, share)`` on its token, the rest of ``total`` (the outcome)
    on the last token, so the rewards sum to ``total``. Shares at tokens outside the response stay in the rest.

    >>> place_token_rewards(4, 1.25, [(1, 0.25)]), place_token_rewards(3, 1.0, [(7, 0.5)]), place_token_rewards(0, 1.0, [])
    ([0.0, 0.25, 0.0, 1.0], [0.0, 0.0, 1.0], [])
    """
    rewards = [0.0] * length
    if length == 0:
        return rewards
    placed = 0.0
    for index, share in token_terms:
        if 0 <= int(index) < length:
            rewards[int(index)] += share
            placed += share
    rewards[-1] += total - placed
    return rewards


def _confidence(token_entropies: list[float], config: CCRLConfig) -> float | None:
    return number_confidence(
        token_entropies, estimator=config.confidence_estimator, aggregation=config.aggregation,
        vocab_size=config.vocab_size,
    )  # fmt: skip


def _term(verdict: str | None, confidence: float, config: CCRLConfig) -> float:
    """s_i of a judged number under ``config.shaping`` (``shaping.py``); 0 for a number without a verdict."""
    if verdict not in (CORRECT, WRONG):
        return 0.0
    return number_term(
        verdict == CORRECT, confidence, alpha=config.alpha, beta=config.beta, tau=config.tau, shaping=config.shaping
    )


def _usable_entropies(token_spans, entropies) -> tuple[list[float] | None, str]:
    if entropies is None:
        return None, "missing"
    if token_spans is None:
        return None, "no token spans"
    try:
        values = [float(value) for value in entropies]
    except (TypeError, ValueError):
        return None, "entropies are not numbers"
    if len(values) != len(token_spans):
        return None, f"length mismatch: {len(values)} entropies for {len(token_spans)} tokens"
    return values, "ok"


def _without_verdict(mention: AnalyzedMention) -> AnalyzedMention:
    if mention.verdict not in (CORRECT, WRONG):
        return mention
    return dataclasses.replace(mention, verdict=UNVERIFIABLE, reason="text ground truth: no number terms")


def _scored(mention: AnalyzedMention, indices, confidence: float | None, config: CCRLConfig) -> ScoredMention:
    term = 0.0
    if confidence is not None and math.isfinite(confidence):
        term = _term(mention.verdict, confidence, config)
    return ScoredMention(
        mention.start, mention.end, mention.text, mention.value, mention.kind, mention.verdict, mention.reason,
        tuple(indices) if indices is not None else None, confidence, term,
    )  # fmt: skip


_DEFAULT_CONFIG = CCRLConfig()
