"""TabMWP: a question over a table, with optional choices and a worked solution.

Read from PromptPG's ``problems_{train,dev,test}.json`` (an object keyed by problem id; ``problems_test1k.json``
and ``problems_dev1k.json`` are its 1,000-problem subsets). A multiple-choice question keeps its choices: they are
listed in the prompt and written to ``extra_info["choices"]``; its answer is text ("1 hour", "Each term in pattern
B is 10 times the corresponding term in pattern A.") unless the whole answer is one number, and no number is
read out of it.
A row that says which split it is from (``"split": "test"``) must be from the split asked for.
"""

from __future__ import annotations

from typing import Any

from data_prep.records import DataError, Record
from data_prep.sources.answers import answer_meta, published_answer
from data_prep.sources.fields import (
    reference_values_of,
    text_field,
)

__all__ = ["tabmwp"]


def tabmwp(row: dict[str, Any], split: str, row_id: str, *, source: str = "tabmwp", where: str = "") -> Record:
    row_split = row.get("split")
    if isinstance(row_split, str) and row_split.strip() and row_split.strip() != split:
        raise DataError(
            where,
            row_id,
            "split",
            f"the row is from split {row_split!r}, but split {split!r} was asked for.",
            f"pass problems_{split}.json for split {split!r}, or ask for split {row_split!r}.",
        )
    ask = text_field(row, ["question"], where, row_id)
    title = text_field(row, ["table_title"], where, row_id, required=False)
    table = text_field(row, ["table"], where, row_id, required=False)
    choices = row.get("choices")
    if choices is not None and not isinstance(choices, list | tuple) and not hasattr(choices, "tolist"):
        raise DataError(where, row_id, "choices", f"must be a list, got {type(choices).__name__}.")
    choices = list(choices) if choices is not None else []
    parts = [part for part in (title, table) if part]
    question = "\n".join(parts) + ("\n\n" if parts else "") + ask
    if choices:
        question += "\nChoices: " + ", ".join(str(choice) for choice in choices)
    answer = published_answer(row.get("answer"), where, row_id, "answer", text_allowed=True)
    solution = text_field(row, ["solution"], where, row_id, required=False)
    reference = f"{solution}\n#### {answer.text}" if solution else f"#### {answer.text}"
    values = reference_values_of(reference, answer.text, (), question) if answer.type != "text" else ()
    return Record(
        str(row.get("id", row.get("pid", row_id))),
        source,
        split,
        question,
        answer.text,
        reference,
        values,
        answer_meta(answer, choices),
    )
