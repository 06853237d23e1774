"""Arithmetic statements in a response (``12 * 2 = 24``) and whether each claimed result is right.

A safe parser over ``Fraction`` values: model text is never passed to ``eval``. Pure Python, no verl import.

Example::

    >>> from verl_ccrl.number_mentions import find_number_mentions
    >>> text = "3 + 4 = 7 * 2 = 15 apples, so 20 - 3.5 = 16.5"
    >>> [(c.expression, c.expected, c.correct) for c in find_arithmetic_checks(text, find_number_mentions(text))]
    [('3 + 4', Fraction(7, 1), True), ('7 * 2', Fraction(14, 1), False), ('20 - 3.5', Fraction(33, 2), True)]

What a statement is: a run of numbers, operators (``+ - * / × · ÷ ^ **``, ``\\times \\cdot \\div``, ``x`` between
numbers, ``of`` after a percentage or fraction), brackets and ``=``/``≈`` on one line. A number may carry a
currency sign, ``%`` and one unit word (``5 apples + 3 apples = 8 apples``). Anything else (a word, a comma, a
colon, a new line, GSM8K's ``<<`` ``>>``) ends the run. A ``-``, ``−``, ``*``, ``+`` or ``•`` that opens a line and
is followed by a space is a markdown bullet, not an operator (``- 12 * 3 = 36 eggs`` claims 36, not -36).

Cost: the tokenizer and the parser are single passes (the parser is an operator-precedence loop, not recursion:
no nesting depth can raise ``RecursionError``); values stop at the bounds of ``bounds.py``.

How a chain is read: for each ``=`` the left side must contain an operator and evaluate. If the right side is
a lone number, that number is the claimed result. If it is an expression of the same value it is a rewriting
(``6 * 2 = 2 * 6``) and claims nothing. Otherwise its leading number is the claimed result of the left side
(``3 + 4 = 7 * 2 = 14`` claims 7, then 14), which is how step-by-step chains are written.

Not handled (no verdict rather than a wrong one): implicit multiplication (``2(3+4)``), variables, functions
(``\\sqrt``), statements that span lines, and words as operators other than ``x``/``of``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from verl_ccrl.bounds import MAX_POWER_EXPONENT, MAX_VALUE_DIGITS
from verl_ccrl.number_mentions import NumberMention, value_matches

__all__ = ["ArithmeticCheck", "evaluate_expression", "find_arithmetic_checks"]

_MAX_VALUE_BITS = int(MAX_VALUE_DIGITS * 3.33)


@dataclass(frozen=True)
class ArithmeticCheck:
    """A claimed result: ``mentions[result_index]`` claims to equal ``expected`` (the left side's exact value)."""

    result_index: int
    expression: str
    expected: Fraction
    correct: bool
    approximate: bool = False


# Token kinds: ("num", mention_index) ("op", "+-*/^") ("lp", None) ("rp", None) ("eq", approximate: bool)
# One alternation, tried once per position: the first group that matches says what the text there is.
_TOKEN = re.compile(
    r"""
      (?P<bullet>(?m:^)[ \t]*[-−*+•](?=[ \t]))
    | (?P<delimiter>\\[()\[\]]|<<|>>)
    | (?P<skip>[ \t]+|\\[,;:!\ ]|\\q?quad|~|\\left|\\right|\\boxed|\\displaystyle|\\\$|\$|€|£|&)
    | (?P<approx>≈|\\approx(?![A-Za-z]))
    | (?P<eq>==?)
    | (?P<op>\*\*|[\^+\-−*×·⋅/÷]|\\(?:times|cdot|div)(?![A-Za-z]))
    | (?P<times>[xX](?=[ \t]*[\d(]))
    | (?P<lp>[(\[{])
    | (?P<rp>[)\]}])
    | (?P<other>\w+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPERATOR_NAMES = {
    "**": "^",
    "−": "-",
    "×": "*",
    "·": "*",
    "⋅": "*",
    "\\times": "*",
    "\\cdot": "*",
    "÷": "/",
    "\\div": "/",
}
_PERCENT_SUFFIX = re.compile(r"\s?\\?%|\s(?:percent|per cent)\b")
_UNIT = re.compile(r"[ \t]?(?:\\(?:text|mathrm)\{[^}\n]{0,40}\}|[A-Za-z]{1,24}\b)")
_NOT_UNITS = frozenset(
    "and or so then to of for is are was were be been being will would which that but with in on at by per each "
    "from the a an this these those it he she they we you i his her their its if as than more less".split()
)
_TIMES_WORD = re.compile(r"[ \t]?[xX](?=[ \t]*[\d(])")
_OF_WORD = re.compile(r"[ \t]of\b")


def _tokenize(text: str, mentions: list[NumberMention]) -> list[list[tuple[str, object, int, int]]]:
    """Split ``text`` into runs of arithmetic tokens; each token is (kind, payload, start, end)."""
    mention_at = {mention.start: index for index, mention in enumerate(mentions)}
    runs: list[list[tuple[str, object, int, int]]] = [[]]
    position, length = 0, len(text)
    while position < length:
        index = mention_at.get(position)
        if index is not None:
            mention = mentions[index]
            runs[-1].append(("num", index, mention.start, mention.end))
            position, of_operator = _skip_number_suffix(text, mention, position=mention.end)
            if of_operator is not None:
                runs[-1].append(of_operator)
            continue
        match = _TOKEN.match(text, position)
        kind, end = match.lastgroup, match.end()
        if kind == "skip" or kind == "bullet":
            pass
        elif kind == "op":
            runs[-1].append(("op", _OPERATOR_NAMES.get(match.group(), match.group()), position, end))
        elif kind == "eq" or kind == "approx":
            runs[-1].append(("eq", kind == "approx", position, end))
        elif kind == "lp" or kind == "rp":
            runs[-1].append((kind, None, position, end))
        elif kind == "times" and position > 0 and (text[position - 1].isdigit() or text[position - 1] in " \t)"):
            runs[-1].append(("op", "*", position, end))
        elif runs[-1]:  # a delimiter, a word or punctuation ends the statement
            runs.append([])
        position = end
    return [run for run in runs if run]


def _skip_number_suffix(text: str, mention: NumberMention, position: int) -> tuple[int, tuple | None]:
    """Skip what follows a number but belongs to it (``%``, one unit word); read ``of`` after a percentage or
    fraction as ``*`` (``20% of 50``). Returns the new position and the ``of`` operator token, if any."""
    if mention.is_percent:
        percent = _PERCENT_SUFFIX.match(text, position)
        if percent:
            position = percent.end()
    if _TIMES_WORD.match(text, position):
        return position, None  # "12 x 2": read as an operator by _tokenize
    if mention.is_percent or mention.is_fraction:
        of_word = _OF_WORD.match(text, position)
        if of_word:
            return of_word.end(), ("op", "*", of_word.start() + 1, of_word.end())
    unit = _UNIT.match(text, position)
    if unit and unit.group().strip().lower() not in _NOT_UNITS:
        return unit.end(), None
    return position, None


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 3}  # "^" is right-associative; unary signs bind tightest


class _Parser:
    """Operator precedence over one segment's tokens, with explicit stacks; ``parse()`` returns the exact value
    or None. Grammar: sum of products of right-associative powers of signed primaries (``-2^2`` is 4,
    ``2^-3`` is 1/8, ``2^3^2`` is 512), brackets any depth."""

    def __init__(self, tokens: list[tuple[str, object, int, int]], mentions: list[NumberMention]):
        self.tokens, self.mentions = tokens, mentions

    def parse(self) -> Fraction | None:
        try:
            return self._evaluate()
        except (_ParseError, ZeroDivisionError, OverflowError, ValueError):
            return None

    def _evaluate(self) -> Fraction:
        values: list[Fraction] = []
        operators: list[tuple[str, bool]] = []  # (operator, negate) where "(" carries the sign written before it
        negate, expect_operand = False, True
        for kind, payload, _, _ in self.tokens:
            if expect_operand:
                if kind == "op" and payload in "+-":
                    negate ^= payload == "-"
                elif kind == "num":
                    value = self.mentions[payload].value
                    values.append(-value if negate else value)
                    negate, expect_operand = False, False
                elif kind == "lp":
                    operators.append(("(", negate))
                    negate = False
                else:
                    raise _ParseError(f"unexpected {kind}")
            elif kind == "op":
                while operators and operators[-1][0] != "(" and _binds_first(operators[-1][0], payload):
                    _reduce(values, operators.pop()[0])
                operators.append((payload, False))
                expect_operand = True
            elif kind == "rp":
                while operators and operators[-1][0] != "(":
                    _reduce(values, operators.pop()[0])
                if not operators:
                    raise _ParseError("unbalanced bracket")
                if operators.pop()[1]:
                    values[-1] = -values[-1]
            else:
                raise _ParseError(f"unexpected {kind}")
        if expect_operand:
            raise _ParseError("unexpected end")
        while operators:
            operator = operators.pop()[0]
            if operator == "(":
                raise _ParseError("unbalanced bracket")
            _reduce(values, operator)
        return values[0]


def _binds_first(stacked: str, incoming: str) -> bool:
    """Whether the stacked operator is applied before ``incoming`` is pushed (left-associative except ``^``)."""
    if incoming == "^":
        return _PRECEDENCE[stacked] > _PRECEDENCE[incoming]
    return _PRECEDENCE[stacked] >= _PRECEDENCE[incoming]


def _reduce(values: list[Fraction], operator: str) -> None:
    right, left = values.pop(), values.pop()
    if operator == "+":
        value = left + right
    elif operator == "-":
        value = left - right
    elif operator == "*":
        value = left * right
    elif operator == "/":
        value = left / right
    else:
        if right.denominator != 1 or abs(right) > MAX_POWER_EXPONENT:
            raise _ParseError("exponent out of range")
        value = left ** int(right)
    _check_size(value)
    values.append(value)


class _ParseError(Exception):
    pass


def _check_size(value: Fraction) -> None:
    if value.numerator.bit_length() > _MAX_VALUE_BITS or value.denominator.bit_length() > _MAX_VALUE_BITS:
        raise _ParseError("number too large")


def evaluate_expression(text: str) -> Fraction | None:
    """Exact value of a plain arithmetic expression, or None if it is not one.

    >>> evaluate_expression("(3 + 4) \\\\times 2 - 1/2")
    Fraction(27, 2)
    >>> evaluate_expression("__import__('os')") is None
    True
    """
    from verl_ccrl.number_mentions import find_number_mentions

    mentions = find_number_mentions(text)
    runs = _tokenize(text, mentions)
    if len(runs) != 1 or any(token[0] == "eq" for token in runs[0]):
        return None
    return _Parser(runs[0], mentions).parse()


def _segments(run: list[tuple[str, object, int, int]]) -> tuple[list[list], list[bool]]:
    segments: list[list] = [[]]
    approximate: list[bool] = []
    for token in run:
        if token[0] == "eq":
            segments.append([])
            approximate.append(bool(token[1]))
        else:
            segments[-1].append(token)
    return segments, approximate


def _strip_brackets(tokens: list) -> list:
    first, last = 0, len(tokens) - 1
    while last - first >= 1 and tokens[first][0] == "lp" and tokens[last][0] == "rp":
        first, last = first + 1, last - 1
    return tokens[first : last + 1] if first else tokens


def find_arithmetic_checks(text: str, mentions: list[NumberMention]) -> list[ArithmeticCheck]:
    """Every claimed result of an arithmetic statement in ``text`` (``mentions`` from ``find_number_mentions``)."""
    checks: list[ArithmeticCheck] = []
    for run in _tokenize(text, mentions):
        segments, approximate = _segments(run)
        if len(segments) < 2:
            continue
        values = [_Parser(segment, mentions).parse() if segment else None for segment in segments]
        for position in range(len(segments) - 1):
            left, right = segments[position], _strip_brackets(segments[position + 1])
            left_value = values[position]
            # "1 hour = 60 minutes" and "x = 5" claim no computation; "10/3 = 3.33" does (a fraction divides).
            is_computation = any(
                token[0] == "op" or mentions[token[1]].is_fraction
                for token in left
                if token[0] != "lp" and token[0] != "rp"
            )
            if left_value is None or not is_computation or not right:
                continue
            if right[0][0] != "num":
                continue
            right_is_expression = len(right) > 1
            if right_is_expression and values[position + 1] == left_value:
                continue  # a rewriting of the same value claims no new result
            result_index = right[0][1]
            is_approximate = approximate[position]
            correct = value_matches(mentions[result_index], left_value, approximate=is_approximate)
            expression = text[left[0][2] : left[-1][3]]
            checks.append(ArithmeticCheck(result_index, expression, left_value, correct, is_approximate))
    return checks
