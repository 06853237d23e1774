"""The one record every source is normalised into, and the errors a malformed row raises.

Example::

    >>> from fractions import Fraction
    >>> record = Record(id="7", source="gsm8k", split="train", question="Ann has 3 bags of 4 pears. How many pears?",
    ...                 answer="12", reference="3 * 4 = <<3*4=12>>12\\n#### 12", reference_values=("12",))
    >>> record.key
    'gsm8k/train/7'
    >>> format_value(Fraction(37, 2)), format_value(Fraction(1, 3)), format_value(Fraction(-4))
    ('18.5', '1/3', '-4')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from verl_ccrl.number_format import format_number
from verl_ccrl.number_mentions import parse_single_number

__all__ = ["DataError", "Record", "format_value", "parse_answer_value"]


class DataError(ValueError):
    """A malformed input row: the message names the file (or hub id), the row and the field."""

    def __init__(self, where: str, row: int | str, field_name: str, reason: str, fix: str = ""):
        self.where, self.row, self.field_name, self.reason, self.fix = where, row, field_name, reason, fix
        label = str(row) if str(row).startswith(("line ", "row ")) else f"row {row}"
        message = f"{where}: {label}, field {field_name!r}: {reason}"
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)


@dataclass(frozen=True)
class Record:
    """One math word problem, normalised across every source.

    ``answer`` is the exact final answer as a string (``"18.5"``, ``"3/4"``, ``"-2"``); ``reference`` is a worked
    solution (GSM8K-style, ending in ``#### <answer>``); ``reference_values`` are the solution's intermediate results
    as strings (GSM8K's ``<<a*b=c>>`` results, an equation's result), which the CCRL reward uses to judge computed
    numbers.
    """

    id: str
    source: str
    split: str
    question: str
    answer: str
    reference: str
    reference_values: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """``source/split/id``: unique within a run."""
        return f"{self.source}/{self.split}/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reference_values"] = list(self.reference_values)
        return data


def format_value(value: Fraction | int | float | str) -> str:
    """An exact value as the shortest exact string: an integer, a terminating decimal, else ``p/q``."""
    if isinstance(value, str):
        return value.strip()
    value = Fraction(value) if not isinstance(value, float) else Fraction(str(value))
    return format_number(value)


def parse_answer_value(text: Any) -> Fraction | None:
    """The exact value of a final-answer field (``"1,000"``, ``"$18.50"``, ``72.0``, ``"3/4"``), else None."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, Fraction):
        return text
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            return None
        return Fraction(repr(text))
    if not isinstance(text, str):
        return None
    return parse_single_number(text)
