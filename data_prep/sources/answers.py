"""A benchmark's final answer as its authors published it: a number, a float, or text; never coerced.

The answer type travels with the record (``Record.meta``) into the RL/eval parquet's ``extra_info``, where the
answer check reads it; the ground truth itself is the published answer:

- ``number``: ``18``, ``"1,522.81"``, ``"6/20"``, ``72.0`` are written as their exact value (``18``, ``1522.81``,
  ``3/10``, ``72``; a fraction stays a fraction) and compared exactly.
- ``float``: a value of 12 or more significant digits is the trace of binary floating point (GSM-Hard's ``target``
  ``3244047.0999999996``, MAWPS's ``0.8333333333333334``): written digit for digit, compared with a tolerance.
- ``text``: anything else (TabMWP's choices "1 hour", ASDiv's "The 60th caller.", "Vendor 2", "5:6"): written as
  published (spaces collapsed), compared as normalised text, no number terms.

A number is recognised only when the whole answer is one: an optional sign and ``$``, digits (thousands commas
allowed), an optional decimal part or ``/denominator``. "Vendor 2", "1 hour", "6th" and "3:30 p.m." are text, so
no part of them is ever read as the answer's number.

Example::

    >>> published_answer("1,522.81", "f", "0", "answer")
    PublishedAnswer(text='1522.81', type='number', published='1,522.81')
    >>> published_answer(3244047.0999999996, "f", "0", "target")
    PublishedAnswer(text='3244047.0999999996', type='float', published='3244047.0999999996')
    >>> published_answer("Vendor 2", "f", "0", "answer", text_allowed=True).type
    'text'

Not handled: answers in scientific notation written as text ("1e5" is text), and percentages ("25%" is text):
neither occurs in the benchmarks read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from data_prep.records import DataError, format_value

__all__ = ["ANSWER_TYPES", "FLOAT_DIGITS", "PublishedAnswer", "answer_meta", "published_answer", "significant_digits"]

ANSWER_TYPES = ("number", "float", "text")
# A decimal with this many significant digits came out of floating-point arithmetic, not a person's pen (the same
# threshold as the answer check's float rule in verl_ccrl/answer.py).
FLOAT_DIGITS = 12

_NUMBER = re.compile(
    r"^(?P<sign>[-+]?)\s*\$?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?(?:\s*/\s*(?P<den>\d+))?$"
)


@dataclass(frozen=True)
class PublishedAnswer:
    """``text``: the ground truth to write; ``type``: one of :data:`ANSWER_TYPES`; ``published``: as published."""

    text: str
    type: str
    published: str


def significant_digits(number_text: str) -> int:
    """Digits of a decimal numeral, leading zeros and the exponent left out.

    >>> significant_digits("0.8333333333333334"), significant_digits("3.30"), significant_digits("1,000")
    (16, 3, 4)
    """
    mantissa = number_text.lstrip("+-$ ").lower().split("e")[0]
    return len(re.sub(r"\D", "", mantissa).lstrip("0"))


def published_answer(
    value: Any, where: str, row_id: str, field_name: str, *, text_allowed: bool = False
) -> PublishedAnswer:
    """The answer ``value`` as published; a non-number is text when ``text_allowed``, else a :class:`DataError`.

    >>> published_answer(1234570.0, "f", "0", "target").text, published_answer("The 60th caller.", "f", "0", "a",
    ...                                                                        text_allowed=True).text
    ('1234570', 'The 60th caller.')
    """
    if value is None or isinstance(value, bool) or (isinstance(value, float) and value != value):
        raise DataError(where, row_id, field_name, f"missing or empty ({value!r}).")
    if isinstance(value, int):
        return PublishedAnswer(str(value), "number", str(value))
    if isinstance(value, float):
        if value in (float("inf"), float("-inf")):
            raise DataError(where, row_id, field_name, f"{value!r} is not a single number.")
        published = repr(value)
        kind = "float" if significant_digits(published) >= FLOAT_DIGITS and not value.is_integer() else "number"
        return PublishedAnswer(format_value(value), kind, published)
    if not isinstance(value, str):
        raise DataError(where, row_id, field_name, f"must be text or a number, got {type(value).__name__}.")
    published = " ".join(value.split())
    if not published:
        raise DataError(where, row_id, field_name, "missing or empty.")
    number = _strict_number(published)
    if number is not None:
        kind = "float" if significant_digits(published) >= FLOAT_DIGITS and number.denominator != 1 else "number"
        # a fraction stays a fraction ("3/10", not "0.3"): TabMWP asks for one ("Simplify your answer")
        fraction = "/" in published and number.denominator != 1
        return PublishedAnswer(str(number) if fraction else format_value(number), kind, published)
    if not text_allowed:
        raise DataError(where, row_id, field_name, f"{value!r} is not a single number.")
    return PublishedAnswer(published, "text", published)


def _strict_number(text: str) -> Fraction | None:
    match = _NUMBER.match(text)
    if not match or not (match.group("int") or match.group("frac")):
        return None
    if match.group("den") and match.group("frac"):
        return None  # "1.5/2" is no way anyone publishes a number
    value = Fraction((match.group("int") or "0").replace(",", "") + (match.group("frac") or ""))
    if match.group("den"):
        if int(match.group("den")) == 0:
            return None
        value /= int(match.group("den"))
    return -value if match.group("sign") == "-" else value


def answer_meta(answer: PublishedAnswer, choices: Any = None) -> dict[str, Any]:
    """What a record carries about its answer (written to ``extra_info`` by :func:`data_prep.outputs.rl_row`).

    >>> answer_meta(PublishedAnswer("1 hour", "text", "1 hour"), ["30 minutes", "1 hour"])
    {'answer_type': 'text', 'published_answer': '1 hour', 'choices': ['30 minutes', '1 hour']}
    """
    return {
        "answer_type": answer.type,
        "published_answer": answer.published,
        "choices": [" ".join(str(choice).split()) for choice in (choices if choices is not None else [])],
    }
