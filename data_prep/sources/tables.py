"""TabMWP: a question over a table, with optional choices and a worked solution."""

from __future__ import annotations

from typing import Any

from data_prep.records import Record
from data_prep.sources.fields import (
    answer_field,
    reference_values_of,
    text_field,
)

__all__ = ["tabmwp"]


def tabmwp(row: dict[str, Any], split: str, row_id: str, *, source: str = "tabmwp", where: str = "") -> Record:
    ask = text_field(row, ["question"], where, row_id)
    title = text_field(row, ["table_title"], where, row_id, required=False)
    table = text_field(row, ["table"], where, row_id, required=False)
    choices = row.get("choices")
    parts = [part for part in (title, table) if part]
    question = "\n".join(parts) + ("\n\n" if parts else "") + ask
    if choices is not None and len(choices) > 0:
        question += "\nChoices: " + ", ".join(str(choice) for choice in choices)
    answer = answer_field(str(row.get("answer", "")).replace(",", ""), where, row_id, "answer")
    solution = text_field(row, ["solution"], where, row_id, required=False)
    reference = f"{solution}\n#### {answer}" if solution else f"#### {answer}"
    return Record(
        str(row.get("id", row.get("pid", row_id))),
        source,
        split,
        question,
        answer,
        reference,
        reference_values_of(reference, answer, (), question),
    )
