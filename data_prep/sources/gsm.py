"""Sources whose rows carry a GSM8K-style solution or a bare answer: GSM8K, GSM-Hard, Apple's GSM-Symbolic, and
reasoning-gym's offline generator."""

from __future__ import annotations

import re
from typing import Any

from data_prep.records import Record
from data_prep.sources.fields import (
    answer_field,
    hash_answer,
    reference_values_of,
    text_field,
)

__all__ = ["gsm8k", "gsm_hard", "gsm_symbolic_apple", "reasoning_gym_gsm"]


def gsm8k(row: dict[str, Any], split: str, row_id: str, *, source: str = "gsm8k", where: str = "") -> Record:
    question = text_field(row, ["question"], where, row_id)
    solution = text_field(row, ["answer", "solution"], where, row_id)
    answer = hash_answer(solution, where, row_id, "answer")
    ident = str(row.get("id", row_id))
    if row.get("instance") is not None:
        ident = f"{ident}-{row['instance']}"
    return Record(ident, source, split, question, answer, solution, reference_values_of(solution, answer, (), question))


def gsm_symbolic_apple(row: dict[str, Any], split: str, row_id: str, *, where: str = "") -> Record:
    """Apple's GSM-Symbolic: GSM8K's columns, one row per (id, instance)."""
    return gsm8k(row, split, row_id, source="gsm_symbolic_apple", where=where)


def gsm_hard(row: dict[str, Any], split: str, row_id: str, *, source: str = "gsm_hard", where: str = "") -> Record:
    question = text_field(row, ["input", "question"], where, row_id)
    answer = answer_field(row.get("target", row.get("answer")), where, row_id, "target")
    reference = f"#### {answer}"
    return Record(str(row.get("id", row_id)), source, split, question, answer, reference, (answer,))


_RG_SUFFIX = re.compile(r"\s*Give the result as your final answer\.\s*Do not include units\.\s*$")


def reasoning_gym_gsm(
    row: dict[str, Any], split: str, row_id: str, *, source: str = "reasoning_gym_gsm", where: str = ""
) -> Record:
    """A row of reasoning-gym's ``gsm_symbolic`` generator (not Apple's GSM-Symbolic: that is ``gsm_symbolic_apple``)."""
    question = _RG_SUFFIX.sub("", text_field(row, ["question"], where, row_id))
    metadata = row.get("metadata") or {}
    answer = answer_field(row.get("answer"), where, row_id, "answer")
    cot = str(metadata.get("answer_cot") or "").strip()
    reference = cot if "####" in cot else (f"{cot}\n#### {answer}" if cot else f"#### {answer}")
    variables = [
        v for v in (metadata.get("variables") or {}).values() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return Record(
        str(row.get("id", row_id)),
        source,
        split,
        question,
        answer,
        reference,
        reference_values_of(reference, answer, variables, question),
    )
