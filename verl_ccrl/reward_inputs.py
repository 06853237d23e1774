"""The fields of one sample that the ``ccrl`` reward manager reads, checked before anything is scored.

Pure Python, no verl import. verl hands the manager what the RL parquet and the rollout held: a missing value of a
parquet column may arrive as NaN, a list column as a numpy array, an id sampled past the tokenizer's vocabulary as
it is. :func:`read_inputs` returns the usable values and one :class:`Malformed` per field that is present but
unusable (which field, what is wrong, the fix). The manager then gives the outcome reward, warns once per field and
counts the response in ``ccrl_malformed_input`` (step metric ``ccrl/malformed_inputs``). Absent optional fields
(None, or an empty ``question`` / ``reference``) are not malformed: they have their own fallbacks.

What each field may be, and what happens otherwise:

- response ids: ints in ``[0, vocab_size)``; the others are dropped before decoding (outcome reward of the rest);
- ``reward_model.ground_truth``: a non-blank string, an int or a finite float; else the answer cannot be correct;
- ``extra_info`` / the rollout's ``extra_fields``: a dict or None;
- ``question``, ``reference``, ``answer_type``: a string or None;
- ``reference_values``: a list (or array) of numbers or numerals, or None;
- ``ccrl_entropies``: one finite number per response token, or None. Malformed entropies cost only the confidence
  term (the numbers keep their verdicts, so the trainer can still rescore them from the actor's entropies);
  :func:`unusable_entropies` finds, after scoring, NaN, inf or negative entropies at a judged number's tokens.

Example::

    >>> inputs = read_inputs([5, -1, 7], 100, 58, {"question": float("nan"), "ccrl_entropies": 0.5})
    >>> inputs.response_ids, inputs.ground_truth, inputs.question, inputs.entropies
    ([5, 7], '58', None, None)
    >>> [problem.field for problem in inputs.malformed], inputs.judgeable
    (['response ids', 'extra_info.question', 'ccrl_entropies'], False)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from verl_ccrl.analysis import known_value
from verl_ccrl.entropy import ENTROPY_FIELD

__all__ = ["Malformed", "RewardInputs", "last_user_message", "read_inputs", "unusable_entropies"]


@dataclass(frozen=True)
class Malformed:
    """A field that is present but unusable: ``field`` names it, ``problem`` says what is wrong and the fix."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


@dataclass(frozen=True)
class RewardInputs:
    """The usable values of one sample's fields (None where absent or malformed) and what was malformed."""

    response_ids: list[int]  # those within the vocabulary
    ground_truth: str | None  # None: unusable, so no answer can be correct
    question: str | None
    reference: str | None
    reference_values: list[Fraction]
    entropies: list[float] | None
    answer_type: str | None
    malformed: tuple[Malformed, ...] = ()

    @property
    def entropies_malformed(self) -> bool:
        return any(problem.field == ENTROPY_FIELD for problem in self.malformed)

    @property
    def judgeable(self) -> bool:
        """Whether the numbers can be judged: nothing but (at most) the entropies is malformed."""
        return all(problem.field == ENTROPY_FIELD for problem in self.malformed)


def read_inputs(
    response_ids: Iterable,
    vocab_size: int | None,
    ground_truth: object,
    extra_info: object,
    extra_fields: object = None,
) -> RewardInputs:
    """The checked fields of one sample: ``extra_fields`` (the rollout's) override ``extra_info`` (the parquet's),
    as verl merges them; ``vocab_size`` None skips the upper bound of the ids."""
    malformed: list[Malformed] = []
    ids = list(response_ids)
    valid_ids = [i for i in ids if _valid_id(i, vocab_size)]
    if len(valid_ids) != len(ids):
        first = next(i for i in ids if not _valid_id(i, vocab_size))
        malformed.append(
            Malformed(
                "response ids",
                f"{len(ids) - len(valid_ids)} of {len(ids)} ids outside the tokenizer's vocabulary [0, {vocab_size}) "
                f"(first: {first!r}), dropped before decoding. The rollout and the reward must use the same tokenizer.",
            )
        )
    truth = _ground_truth(ground_truth)
    if truth is None:
        malformed.append(
            Malformed(
                "reward_model.ground_truth",
                f"{_described(ground_truth)}: no answer can be correct. Write the answer as a string or a number "
                "(data_prep does).",
            )
        )
    fields: dict = {}
    for name, value in (("extra_info", extra_info), ("extra_fields", extra_fields)):
        if isinstance(value, Mapping):
            fields.update(value)
        elif value is not None:
            fix = "a dict of the RL parquet (data_prep writes one)" if name == "extra_info" else "a dict or None"
            malformed.append(Malformed(name, f"{_described(value)}, not a dict: it must be {fix}."))
    question = _optional_text(fields, "question", "the problem text", malformed)
    reference = _optional_text(fields, "reference", "a reference solution", malformed)
    answer_type = _optional_text(fields, "answer_type", 'the answer\'s type ("text" for a text answer)', malformed)
    reference_values = _reference_values(fields.get("reference_values"), malformed)
    entropies = _entropies(fields.get(ENTROPY_FIELD), len(ids), malformed)
    return RewardInputs(
        valid_ids, truth, question, reference, reference_values, entropies, answer_type, tuple(malformed)
    )


def unusable_entropies(score) -> str | None:
    """Why the entropies a ``CCRLScore`` was given left a judged number without a confidence, or None. A judged
    number at known tokens gets none, with entropies that fit the tokens, only where an entropy at its tokens is NaN,
    infinite or negative (``confidence.number_confidence``)."""
    if score.entropy_status not in ("ok", "missing"):
        return score.entropy_status
    count = sum(
        mention.has_verdict and bool(mention.token_indices) and mention.confidence is None for mention in score.mentions
    )
    return f"NaN, inf or negative at the tokens of {count} judged number(s)" if count else None


def last_user_message(raw_prompt) -> str | None:
    """The text of the last user message of a chat prompt, or None."""
    if raw_prompt is None or isinstance(raw_prompt, str | bytes | Mapping) or not isinstance(raw_prompt, Iterable):
        return None
    for message in reversed(list(raw_prompt)):
        if isinstance(message, Mapping) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return None


def _valid_id(token_id, vocab_size: int | None) -> bool:
    if isinstance(token_id, bool) or not isinstance(token_id, numbers.Integral):
        return False
    return 0 <= token_id and (vocab_size is None or token_id < vocab_size)


def _ground_truth(value) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if not isinstance(value, numbers.Integral) and not math.isfinite(float(value)):
        return None
    return str(value)  # what score_response would compare, as before: "58", "0.8333333333333334"


def _optional_text(fields: Mapping, name: str, meaning: str, malformed: list[Malformed]) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value or None
    malformed.append(
        Malformed(
            f"extra_info.{name}", f"{_described(value)}, not a string: write {meaning} as a string or leave it out."
        )
    )
    return None


def _reference_values(values, malformed: list[Malformed]) -> list[Fraction]:
    if values is None:
        return []
    problem = None
    parsed = []
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        problem = f"{_described(values)}, not a list"
    else:
        for value in values:
            # The core's bounded reader: Fraction(str(value)) would take minutes on "1e99999999".
            number = known_value(value)
            if number is None:
                problem = f"{_described(value)} among them is not a number (or is past the reader's bounds)"
                break
            parsed.append(number)
    if problem is None:
        return parsed
    malformed.append(Malformed("extra_info.reference_values", f"{problem}: write a list of numbers or numerals."))
    return []


def _entropies(values, n_tokens: int, malformed: list[Malformed]) -> list[float] | None:
    if values is None:
        return None
    fix = "the rollout must write one entropy per response token (actor_rollout_ref.rollout.name=vllm_ccrl, or hf_cpu)"
    problem = None
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        problem = f"{_described(values)}, not a list"
    else:
        try:
            entropies = [float(value) for value in values]
        except (TypeError, ValueError):
            problem = "not all numbers"
        else:
            if len(entropies) == n_tokens:
                return entropies
            problem = f"{len(entropies)} entropies for {n_tokens} response tokens"
    malformed.append(Malformed(ENTROPY_FIELD, f"{problem}: {fix}."))
    return None


def _described(value) -> str:
    if value is None:
        return "None"
    text = repr(value)
    return f"a {type(value).__name__} ({text if len(text) <= 40 else text[:37] + '...'})"
