"""Reading a raw row's fields: text, exact answers, and the reference values of a worked solution.

Every reader raises :class:`~data_prep.records.DataError` naming the place, the row and the field.

Example::

    >>> equation_solution("( 8.0 - 3.0 )", "5")
    ('( 8 - 3 ) = 5\\n#### 5', ('5',))
    >>> reference_values_of("3 * 4 = <<3*4=12>>12 pears, 12 + 2 = 14\\n#### 14", "14", question="3 bags of 4, and 2")
    ('12', '14')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from data_prep.records import DataError, format_value, parse_answer_value
from verl_ccrl import find_arithmetic_checks, find_number_mentions, problem_values
from verl_ccrl.arithmetic import evaluate_expression

__all__ = [
    "answer_field",
    "equation_solution",
    "hash_answer",
    "join_sentences",
    "reference_values_of",
    "text_field",
]

_CALC_ANNOTATION = re.compile(r"<<([^<>]*)=([^<>=]*)>>")
_TRAILING_ZERO = re.compile(r"(?<![\d.])(\d+)\.0+(?!\d)")
_XML_TAG = re.compile(r"<[^<>]+>")


def text_field(row: dict[str, Any], names: Iterable[str], where: str, row_id: str, required: bool = True) -> str:
    names = tuple(names)
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, float) and value != value:  # NaN from pandas
            continue
        if not isinstance(value, str):
            # str(123) would pass as the question '123': a column of the wrong kind is a malformed row.
            raise DataError(
                where,
                row_id,
                name,
                f"must be text, got {type(value).__name__} {_shown(value)}.",
                "pass a file whose column holds text, or the matching --source.",
            )
        if value.strip():
            return value.strip()
    if required:
        present = ", ".join(sorted(map(str, row))) or "none"
        raise DataError(
            where,
            row_id,
            "|".join(names),
            f"missing or empty (columns present: {present}).",
            "pass a file with these columns, or the matching --source.",
        )
    return ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def answer_field(value: Any, where: str, row_id: str, field_name: str) -> str:
    parsed = parse_answer_value(value)
    if parsed is None:
        raise DataError(where, row_id, field_name, f"{value!r} is not a single number.")
    return format_value(parsed)


def join_sentences(*parts: str) -> str:
    pieces = [part.strip() for part in parts if part and part.strip()]
    out = ""
    for piece in pieces:
        if out and not out.endswith((".", "?", "!", ":", "\n")):
            out += "."
        out = f"{out} {piece}" if out else piece
    return out


def reference_values_of(reference: str, answer: str, extra: Iterable[Any] = (), question: str = "") -> tuple[str, ...]:
    """Intermediate results of a worked solution: ``<<a*b=c>>`` results, the exact value of every arithmetic
    statement's left side, known extra values, and the final answer; deduplicated, in order, without values the
    question gives (those are not computed), except the final answer."""
    values: list[Fraction] = []
    for match in _CALC_ANNOTATION.finditer(reference):
        value = parse_answer_value(match.group(2))
        if value is not None:
            values.append(value)
    plain = _CALC_ANNOTATION.sub(" ", reference)
    mentions = find_number_mentions(plain)
    values.extend(check.expected for check in find_arithmetic_checks(plain, mentions))
    for value in extra:
        parsed = parse_answer_value(value)
        if parsed is not None:
            values.append(parsed)
    final = parse_answer_value(answer)
    if final is not None:
        values.append(final)
    given = problem_values(question) if question else frozenset()
    seen: dict[Fraction, None] = {}
    for value in values:
        if value not in given or value == final:
            seen.setdefault(value, None)
    return tuple(format_value(value) for value in seen)


def _equation_values(equation: str) -> list[Fraction]:
    """The value of every bracketed sub-expression of an equation (``((2 + 3) * 4)`` gives 5 and 20)."""
    values, stack = [], []
    for index, char in enumerate(equation):
        if char == "(":
            stack.append(index)
        elif char == ")" and stack:
            start = stack.pop()
            value = evaluate_expression(equation[start + 1 : index])
            if value is not None:
                values.append(value)
    return values


def _clean_equation(equation: str) -> str:
    equation = _TRAILING_ZERO.sub(r"\1", equation.strip())
    equation = re.sub(r"^\s*[xX]\s*=\s*", "", equation)
    return re.sub(r"\s+", " ", equation).strip()


def equation_solution(equation: str, answer: str, question: str = "") -> tuple[str, tuple[str, ...]]:
    clean = _clean_equation(equation)
    if "=" in clean:
        body = clean
    else:
        body = f"{clean} = {answer}" if clean else ""
    reference = f"{body}\n#### {answer}" if body else f"#### {answer}"
    return reference, reference_values_of(reference, answer, _equation_values(clean), question)


def hash_answer(text: str, where: str, row_id: str, field_name: str) -> str:
    if "####" not in text:
        raise DataError(where, row_id, field_name, "has no '#### <final answer>' line.")
    return answer_field(text.rsplit("####", 1)[1].strip().replace(",", ""), where, row_id, field_name)
