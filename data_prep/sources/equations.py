"""Sources whose rows carry an equation and a number answer: SVAMP, ASDiv, MAWPS."""

from __future__ import annotations

import re
from typing import Any

from data_prep.records import Record, parse_answer_value
from data_prep.sources.fields import (
    answer_field,
    equation_solution,
    join_sentences,
    text_field,
)

__all__ = ["asdiv", "mawps", "svamp"]

_XML_TAG = re.compile(r"<[^<>]+>")


def svamp(row: dict[str, Any], split: str, row_id: str, *, source: str = "svamp", where: str = "") -> Record:
    body = text_field(row, ["Body", "body"], where, row_id, required=False)
    ask = text_field(row, ["Question", "question"], where, row_id)
    question = join_sentences(body, ask)
    answer = answer_field(row.get("Answer", row.get("answer")), where, row_id, "Answer")
    equation = text_field(row, ["Equation", "equation", "Numbers_Equation"], where, row_id, required=False)
    reference, values = equation_solution(equation, answer, question)
    return Record(str(row.get("ID", row.get("id", row_id))), source, split, question, answer, reference, values)


_UNIT_SUFFIX = re.compile(r"^\s*(?P<value>[^()]+?)\s*(?:\([^()]*\))?\s*$")


def asdiv(row: dict[str, Any], split: str, row_id: str, *, source: str = "asdiv", where: str = "") -> Record:
    body = text_field(row, ["body", "Body"], where, row_id, required=False)
    ask = text_field(row, ["question", "Question"], where, row_id)
    raw_answer = row.get("answer", row.get("Answer"))
    if isinstance(raw_answer, str | type(None)) or raw_answer != raw_answer:  # text ("13 (kites)"), or missing
        raw_answer = text_field(row, ["answer", "Answer"], where, row_id)
        match = _UNIT_SUFFIX.match(raw_answer)
        raw_answer = match.group("value") if match else raw_answer
    answer = answer_field(raw_answer, where, row_id, "answer")
    formula = text_field(row, ["formula", "Formula"], where, row_id, required=False)
    question = join_sentences(body, ask)
    reference, values = equation_solution(formula, answer, question)
    return Record(str(row.get("id", row_id)), source, split, question, answer, reference, values)


def mawps(row: dict[str, Any], split: str, row_id: str, *, source: str = "mawps", where: str = "") -> Record:
    question = text_field(row, ["question", "sQuestion", "original_text"], where, row_id)
    raw = row.get("result")
    if parse_answer_value(raw) is None:
        raw = row.get("result_float", row.get("lSolutions"))
    if isinstance(raw, list | tuple) and len(raw) == 1:
        raw = raw[0]
    answer = answer_field(raw, where, row_id, "result")
    equation = row.get("equation", row.get("expression", row.get("lEquations")))
    if isinstance(equation, list | tuple):
        equation = equation[0] if equation else ""
    equation = _XML_TAG.sub(" ", str(equation or ""))
    reference, values = equation_solution(equation, answer, question)
    return Record(str(row.get("id", row.get("iIndex", row_id))), source, split, question, answer, reference, values)
