"""The reward-info record: what the ``ccrl`` reward manager tells the trainer and the step metrics about a response.

Pure Python, no verl import. One schema (:class:`RewardInfo`, one :class:`JudgedNumber` per judged computed
number), one :func:`encode` (the manager) and one :func:`decode` (trainer, metrics, tools reading recorded rewards).

Wire format: verl stacks each key of ``reward_extra_info`` across samples with ``np.array([info[key] ...])``
(``experimental/reward_loop/reward_loop.py:369``, ``agent_loop.py:1111``), so every value must be a scalar or a
string (a list per sample would make a ragged array), and every sample must carry the same keys. Validation
averages the numeric keys and skips strings (``metric_utils.process_validation_metrics``). Hence a flat dict: the
per-response numbers as scalars under their historical names, the judged numbers as one JSON string, and a string
schema key (a number would be averaged into the validation metrics).

Example::

    >>> info = RewardInfo(answer_correct=True, outcome=1.0, confidence_term=0.125, n_extracted=2, n_computed=3,
    ...     n_unverifiable=1, numbers=(JudgedNumber((3, 4), "correct", 0.5, 0.25), JudgedNumber((9,), "wrong", None, 0.0)))
    >>> wire = encode(info)
    >>> wire["ccrl_schema"], wire["acc"], wire["ccrl_n_in_reward"], wire["ccrl_numbers"]
    ('reward_info.v2', 1.0, 1, '[{"tokens": [3, 4], "verdict": "correct", "confidence": 0.5, "term": 0.25}, {"tokens": [9], "verdict": "wrong", "confidence": null, "term": 0.0}]')
    >>> decode(wire) == info, info.token_terms(), info.calibration_points()
    (True, [(4, 0.25)], [(0.5, True)])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from verl_ccrl.analysis import COMPUTED, CORRECT
from verl_ccrl.reward import calibration_points, is_judged, rescore_number

if TYPE_CHECKING:
    from verl_ccrl.config import CCRLConfig
    from verl_ccrl.reward import CCRLScore

__all__ = [
    "REWARD_EXTRA_KEYS",
    "SCHEMA_KEY",
    "SCHEMA_VERSION",
    "JudgedNumber",
    "RewardInfo",
    "decode",
    "encode",
    "is_encoded",
]

SCHEMA_KEY = "ccrl_schema"
SCHEMA_VERSION = "reward_info.v2"
# v1 had no degradation flags (bounded, malformed input, scoring error): its records decode with them False.
_READABLE_VERSIONS = ("reward_info.v1", SCHEMA_VERSION)
# Every encoded record has exactly these keys, in this order.
REWARD_EXTRA_KEYS = (
    SCHEMA_KEY,
    "acc",
    "ccrl_outcome",
    "ccrl_confidence_term",
    "ccrl_n_extracted",
    "ccrl_n_computed",
    "ccrl_n_unverifiable",
    "ccrl_n_in_reward",
    "ccrl_missing_entropies",
    "ccrl_missing_problem",
    "ccrl_bounded",
    "ccrl_malformed_input",
    "ccrl_scoring_error",
    "ccrl_numbers",
)


@dataclass(frozen=True)
class JudgedNumber:
    """A computed number with a verdict, located in the response's tokens; in C (judged) once it has a confidence."""

    token_indices: tuple[int, ...]  # its response tokens, in order; the last one carries its token-level reward
    verdict: str  # "correct" | "wrong"
    confidence: float | None  # None: its entropies were missing or unusable, so it is not in C
    term: float  # s_i before division by |C|; 0 outside C

    @property
    def correct(self) -> bool:
        return self.verdict == CORRECT

    @property
    def in_reward(self) -> bool:
        """Member of C: judged (``reward.is_judged``)."""
        return is_judged(COMPUTED, self.verdict, self.confidence)


@dataclass(frozen=True)
class RewardInfo:
    """The reward of one response, broken down: outcome, confidence term, number counts and the judged numbers."""

    answer_correct: bool
    outcome: float  # R_outcome
    confidence_term: float  # (1/|C|) sum s_i
    n_extracted: int = 0
    n_computed: int = 0
    n_unverifiable: int = 0
    missing_entropies: bool = False  # no usable entropies (absent, or malformed): the reward has no confidence term
    missing_problem: bool = False  # no problem text: nothing could be judged
    numbers: tuple[JudgedNumber, ...] = ()
    bounded: bool = False  # a bound of bounds.py was crossed (CCRLScore.bounded): no number terms
    malformed_input: bool = False  # a field of the sample was present but unusable: the reward is the outcome
    scoring_error: bool = False  # scoring raised: the reward is the outcome where it could be decided, else 0

    @classmethod
    def from_score(
        cls, score: CCRLScore, *, missing_entropies: bool, missing_problem: bool, malformed_input: bool = False
    ) -> RewardInfo:
        """The record of a ``score_response`` result; numbers without token positions are left out (the trainer
        could neither place nor rescore them)."""
        counts = score.counts()
        return cls(
            answer_correct=bool(score.answer_correct),
            outcome=score.outcome,
            confidence_term=score.confidence_term,
            n_extracted=counts["extracted"],
            n_computed=counts["computed"],
            n_unverifiable=counts["unverifiable"],
            missing_entropies=missing_entropies,
            missing_problem=missing_problem,
            numbers=tuple(
                JudgedNumber(tuple(m.token_indices), m.verdict, m.confidence, m.term)
                for m in score.mentions
                if m.has_verdict and m.token_indices
            ),
            bounded=bool(score.bounded),
            malformed_input=malformed_input,
        )

    @property
    def reward(self) -> float:
        """R = R_outcome + the confidence term."""
        return self.outcome + self.confidence_term

    def without_confidences(self) -> RewardInfo:
        """The outcome-only record: the same verdicts at the same tokens (the trainer can still rescore them from
        the actor's entropies), no confidences, no terms.

        >>> RewardInfo(True, 1.0, 0.25, numbers=(JudgedNumber((3,), "correct", 1.0, 0.25),)).without_confidences().reward
        1.0
        """
        numbers = tuple(replace(number, confidence=None, term=0.0) for number in self.numbers)
        return replace(self, confidence_term=0.0, numbers=numbers)

    @property
    def n_in_reward(self) -> int:
        """|C|."""
        return sum(number.in_reward for number in self.numbers)

    def token_terms(self) -> list[tuple[int, float]]:
        """(last token, s_i / |C|) of each number in C: where its share of the reward goes in the token-level form."""
        members = [number for number in self.numbers if number.in_reward]
        return [(number.token_indices[-1], number.term / len(members)) for number in members]

    def calibration_points(self) -> list[tuple[float, bool]]:
        """(confidence, correct) of each number in C (``verl_ccrl.calibration``)."""
        return calibration_points((COMPUTED, number.verdict, number.confidence) for number in self.numbers)

    def rescored(self, entropies: Sequence[float], config: CCRLConfig | None = None) -> RewardInfo:
        """The same verdicts with confidences and terms from other per-token entropies (e.g. the actor's, exact).

        >>> info = RewardInfo(False, 0.0, 0.0, numbers=(JudgedNumber((3, 4), "correct", None, 0.0), JudgedNumber((12,), "wrong", None, 0.0)))
        >>> rescored = info.rescored([0.0] * 10)
        >>> rescored.confidence_term, [(n.confidence, n.term) for n in rescored.numbers]
        (0.25, [(1.0, 0.25), (None, 0.0)])
        """
        numbers = []
        for number in self.numbers:
            confidence, term = rescore_number(number.token_indices, number.correct, entropies, config)
            numbers.append(replace(number, confidence=confidence, term=term))
        members = [number for number in numbers if number.in_reward]
        confidence_term = sum(number.term for number in members) / len(members) if members else 0.0
        return replace(self, numbers=tuple(numbers), confidence_term=confidence_term)


def encode(info: RewardInfo) -> dict[str, float | int | str]:
    """The flat dict of scalars and strings that verl's reward loop carries as ``reward_extra_info``."""
    numbers = [
        {"tokens": list(n.token_indices), "verdict": n.verdict, "confidence": n.confidence, "term": n.term}
        for n in info.numbers
    ]
    return {
        SCHEMA_KEY: SCHEMA_VERSION,
        "acc": float(info.answer_correct),  # verl's name: validation reports it as the core metric
        "ccrl_outcome": float(info.outcome),
        "ccrl_confidence_term": float(info.confidence_term),
        "ccrl_n_extracted": int(info.n_extracted),
        "ccrl_n_computed": int(info.n_computed),
        "ccrl_n_unverifiable": int(info.n_unverifiable),
        "ccrl_n_in_reward": info.n_in_reward,
        "ccrl_missing_entropies": float(info.missing_entropies),
        "ccrl_missing_problem": float(info.missing_problem),
        "ccrl_bounded": float(info.bounded),
        "ccrl_malformed_input": float(info.malformed_input),
        "ccrl_scoring_error": float(info.scoring_error),
        "ccrl_numbers": json.dumps(numbers),  # floats as repr: decode gives back the same values
    }


def is_encoded(info: object) -> bool:
    """Whether ``info`` is an encoded record (another reward manager's, or a padding sample's, is not)."""
    return isinstance(info, Mapping) and SCHEMA_KEY in info


def decode(info: Mapping) -> RewardInfo:
    """The record :func:`encode` wrote (or a v1 one, whose degradation flags are False). Raises ``ValueError`` for a
    record of another schema version."""
    if info.get(SCHEMA_KEY) not in _READABLE_VERSIONS:
        raise ValueError(
            f"reward_extra_info[{SCHEMA_KEY!r}]={info.get(SCHEMA_KEY)!r}: expected {SCHEMA_VERSION!r}. The reward "
            "manager and the trainer run different verl-ccrl versions; reinstall the same version on every node."
        )
    return RewardInfo(
        answer_correct=bool(info["acc"]),
        outcome=float(info["ccrl_outcome"]),
        confidence_term=float(info["ccrl_confidence_term"]),
        n_extracted=int(info["ccrl_n_extracted"]),
        n_computed=int(info["ccrl_n_computed"]),
        n_unverifiable=int(info["ccrl_n_unverifiable"]),
        missing_entropies=bool(info["ccrl_missing_entropies"]),
        missing_problem=bool(info["ccrl_missing_problem"]),
        numbers=tuple(
            JudgedNumber(
                tuple(int(index) for index in number["tokens"]),
                number["verdict"],
                None if number["confidence"] is None else float(number["confidence"]),
                float(number["term"]),
            )
            for number in json.loads(info["ccrl_numbers"])
        ),
        bounded=bool(info.get("ccrl_bounded", False)),
        malformed_input=bool(info.get("ccrl_malformed_input", False)),
        scoring_error=bool(info.get("ccrl_scoring_error", False)),
    )
