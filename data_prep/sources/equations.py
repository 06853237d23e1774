"""Sources whose rows carry an equation and an answer: SVAMP, ASDiv, MAWPS.

ASDiv's answers are numbers with a unit note ("9 (apples)": the note is dropped) or text ("The 60th caller.",
"Vendor 2", "5:6", "3:30 p.m."), which is kept as text (see :mod:`~data_prep.sources.answers`). MAWPS is read in
its original form (``iIndex, sQuestion, lEquations, lSolutions``), in MWPToolkit's (``id, original_text, equation,
ans``) and in the hub mirror's (``question, equation|expression, result|result_float``).
"""

from __future__ import annotations

import re
from typing import Any

from data_prep.records import DataError, Record
from data_prep.sources.answers import answer_meta, published_answer
from data_prep.sources.fields import (
    equation_solution,
    join_sentences,
    text_field,
)

__all__ = ["asdiv", "mawps", "svamp"]

_XML_TAG = re.compile(r"<[^<>]+>")
# ASDiv's unit note: a bracket holding a word ("9 (apples)", "5 (years old); 15 (years old)").
_UNIT_NOTE = re.compile(r"\s*\([^()]*[A-Za-z][^()]*\)")


def svamp(row: dict[str, Any], split: str, row_id: str, *, source: str = "svamp", where: str = "") -> Record:
    body = text_field(row, ["Body", "body"], where, row_id, required=False)
    ask = text_field(row, ["Question", "question"], where, row_id)
    question = join_sentences(body, ask)
    answer = published_answer(row.get("Answer", row.get("answer")), where, row_id, "Answer")
    equation = text_field(row, ["Equation", "equation", "Numbers_Equation"], where, row_id, required=False)
    reference, values = equation_solution(equation, answer.text, question)
    ident = str(row.get("ID", row.get("id", row_id)))
    return Record(ident, source, split, question, answer.text, reference, values, answer_meta(answer))


def asdiv(row: dict[str, Any], split: str, row_id: str, *, source: str = "asdiv", where: str = "") -> Record:
    """A problem of ``ASDiv.xml`` (its ``<Problem>`` elements, read by the XML reader) or of the hub mirror."""
    body = text_field(row, ["body", "Body"], where, row_id, required=False)
    ask = text_field(row, ["question", "Question"], where, row_id)
    raw_answer = row.get("answer", row.get("Answer"))
    if isinstance(raw_answer, str):
        published = " ".join(raw_answer.split())
        answer = published_answer(
            _UNIT_NOTE.sub("", published).strip() or published, where, row_id, "answer", text_allowed=True
        )
        answer = type(answer)(answer.text, answer.type, published)
    else:
        answer = published_answer(raw_answer, where, row_id, "answer")
    formula = text_field(row, ["formula", "Formula"], where, row_id, required=False)
    question = join_sentences(body, ask)
    if answer.type == "text":  # "x:Bryan's age; (x/3)+x+(x+5)=40" is no arithmetic to check a number against
        reference, values = f"#### {answer.text}", ()
    else:
        reference, values = equation_solution(formula, answer.text, question)
    return Record(
        str(row.get("id", row_id)), source, split, question, answer.text, reference, values, answer_meta(answer)
    )


def mawps(row: dict[str, Any], split: str, row_id: str, *, source: str = "mawps", where: str = "") -> Record:
    question = text_field(row, ["question", "sQuestion", "original_text"], where, row_id)
    field_name, raw = _first_present(row, ("result", "ans", "lSolutions", "result_float"))
    if isinstance(raw, list | tuple):
        if len(raw) != 1:
            raise DataError(where, row_id, field_name, f"has {len(raw)} solutions {raw!r}; one answer is read.")
        raw = raw[0]
    if field_name == "result" and not _is_number_text(raw) and row.get("result_float") is not None:
        field_name, raw = "result_float", row["result_float"]  # the hub mirror's result may be an expression
    answer = published_answer(raw, where, row_id, field_name)
    equation = row.get("equation", row.get("expression", row.get("lEquations")))
    if isinstance(equation, list | tuple):
        equation = equation[0] if equation else ""
    equation = _XML_TAG.sub(" ", str(equation or ""))
    reference, values = equation_solution(equation, answer.text, question)
    ident = str(row.get("id", row.get("iIndex", row_id)))
    return Record(ident, source, split, question, answer.text, reference, values, answer_meta(answer))


def _first_present(row: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and value != value):
            return name, value
    return "|".join(names), None


def _is_number_text(value: Any) -> bool:
    try:
        published_answer(value, "", "", "")
    except DataError:
        return False
    return True
