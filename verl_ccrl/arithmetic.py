"""Arithmetic statements in a response (``12 * 2 = 24``) and whether each claimed result is right.

A safe parser over ``Fraction`` values: model text is never passed to ``eval``. Pure Python, no verl import.

Example::

    >>> from verl_ccrl.number_mentions import find_number_mentions
    >>> text = "3 + 4 = 7 * 2 = 15 apples, so 20 - 3.5 = 16.5"
    >>> [(c.expression, c.expected, c.correct) for c in find_arithmetic_checks(text, find_number_mentions(text))]
    [('3 + 4', Fraction(7, 1), True), ('7 * 2', Fraction(14, 1), False), ('20 - 3.5', Fraction(33, 2), True)]

What a statement is: a run of numbers, operators (``+ - – * / × · ÷ ^ **``, ``\\times \\cdot \\div``, ``x``
between numbers, ``of`` after a percentage or fraction), brackets and ``=``/``≈`` on one line. A number may carry
a currency sign, ``%`` and a unit of up to three words (``58 open spots``, ``25 time-outs``, ``24 feet/story``,
``2 cups per bag``, ``3 bags of chips``, ``65-minute concert``); an operand may follow a possessive (``+ his 1
teacher``). Anything else (a clause word such as "because", a comma, a colon, a new line, GSM8K's ``<<`` ``>>``)
ends the run. No-break and thin spaces are spaces; an en dash between numbers is a minus.
A ``-``, ``−``, ``*``, ``+`` or ``•`` that opens a line and is followed by a space is a markdown bullet, not an
operator (``- 12 * 3 = 36 eggs`` claims 36, not -36).

Cost: the tokenizer and the parser are single passes (the parser is an operator-precedence loop, not recursion:
no nesting depth can raise ``RecursionError``); values stop at the bounds of ``bounds.py``; what a reader of
``written_forms.py`` looks at around a number is a bounded window.

How a chain is read: for each ``=`` the left side must contain an operator and evaluate. If the right side is
a lone number, that number is the claimed result. If it is an expression of the same value it is a rewriting
(``6 * 2 = 2 * 6``) and claims nothing. Otherwise its leading number is the claimed result of the left side
(``3 + 4 = 7 * 2 = 14`` claims 7, then 14), which is how step-by-step chains are written. A claim is also read
in the scale its text names: ``... * 100% = 42.857`` (a percentage without its sign), ``$2.50 - $2.24 = 26
cents``, ``17 / 3 = 5 and 2/3``, ``100 / 6 = 16 and (2/3)``, ``2 / 3 * 100% = 66.666...%`` (digits cut, marked
by the ellipsis).

No verdict, when a statement cannot be read with confidence (a missed verdict costs a little signal, a false
alarm teaches the wrong thing):
- an unknown on a side: a lone letter beside an operator or ``=`` (``V + 2V = 3V``), a letter glued to a number
  (``4c - 2 = 10``, ``3/2x = 120``);
- a left side cut by prose: the run starts at an operator (``the rest - 3 = 7``) or after an operator and a
  stray mark (``.8 + . 84``);
- numbers that are no quantity: ranges (``Weeks 1-2``, ``3–5``), indices (``day 1 * 2``), clock times
  (``0900-0130``, ``11 a.m. - 2 hours``, ``9:30``), numbers with a leading zero;
- two units of one dimension (``4 pounds - 6 ounces = 58 ounces``): a conversion with factors the text omits;
- integer division with a remainder named (``100 / 3 = 33 each, with 1 left``);
- two numbers in a row as the result (``= 18 500``: thousands or two numbers; ``18 000`` with a group starting
  at 0 is read as one number).

Not handled, by the same rule: implicit multiplication (``2(3+4)``), functions (``\\sqrt``), statements that span
lines, and words as operators other than ``x``/``of``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from verl_ccrl.bounds import MAX_POWER_EXPONENT, MAX_VALUE_DIGITS
from verl_ccrl.number_mentions import NumberMention, normalize_spaces
from verl_ccrl.written_forms import (
    claim_matches,
    is_no_quantity,
    is_quotient_with_remainder,
    is_unknown,
    mixes_units,
    operand_determiner_end,
    skip_number_suffix,
)

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
    | (?P<op>\*\*|[\^+\-−–*×·⋅/÷]|\\(?:times|cdot|div)(?![A-Za-z]))
    | (?P<times>[xX](?=[ \t]*(?:[\d($]|\\\$)))
    | (?P<lp>[(\[{])
    | (?P<rp>[)\]}])
    | (?P<other>\w+|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPERATOR_NAMES = {
    "**": "^",
    "−": "-",
    "–": "-",  # en dash between numbers (``120 – 80``): a minus; between digits (``1–2``) a range
    "×": "*",
    "·": "*",
    "⋅": "*",
    "\\times": "*",
    "\\cdot": "*",
    "÷": "/",
    "\\div": "/",
}
_CUT_WINDOW = 40
_NUMBER_AND_UNIT = re.compile(r"\d[ \t]*(?:[A-Za-z'’-]+[ \t]*){1,3}$")
_OPERATOR_THEN_STRAY_MARK = re.compile(r"[+\-−–*×÷/=][ \t]*[.,;:][ \t.,;:]*$")


def _tokenize(text: str, mentions: list[NumberMention]) -> list[list[tuple[str, object, int, int]]]:
    """Split ``text`` into runs of arithmetic tokens; each token is (kind, payload, start, end).

    Kinds beyond numbers and operators: ``var`` (an unknown) and ``bad`` (a number that is no quantity: a range
    end, a clock time); both make the side they are on unreadable, so it gets no verdict."""
    text = normalize_spaces(text)
    mention_at = {mention.start: index for index, mention in enumerate(mentions)}
    runs: list[list[tuple[str, object, int, int]]] = [[]]
    position, length = 0, len(text)
    while position < length:
        index = mention_at.get(position)
        if index is not None:
            mention = mentions[index]
            if runs[-1] and runs[-1][-1][0] in ("num", "bad") and _has_words(text, runs[-1][-1][3], position):
                runs.append([])  # "The 3 blouses cost $6 x 3": words read as a unit led to another statement
            runs[-1].append(("bad" if is_no_quantity(text, mention) else "num", index, mention.start, mention.end))
            position, suffix = skip_number_suffix(text, mention, position=mention.end)
            if suffix is not None:
                runs[-1].append(suffix)
            continue
        match = _TOKEN.match(text, position)
        kind, end = match.lastgroup, match.end()
        if kind == "skip" or kind == "bullet":
            pass
        elif kind == "op":
            runs[-1].append(("op", _OPERATOR_NAMES.get(match.group(), match.group()), position, end))
            end = operand_determiner_end(text, end)
        elif kind == "eq" or kind == "approx":
            runs[-1].append(("eq", kind == "approx", position, end))
        elif kind == "lp" or kind == "rp":
            runs[-1].append((kind, None, position, end))
        elif kind == "times" and position > 0 and (text[position - 1].isdigit() or text[position - 1] in " \t)"):
            runs[-1].append(("op", "*", position, end))
        elif kind == "other" and is_unknown(text, match, after_operator=_ends_in_operator(runs[-1])):
            runs[-1].append(("var", match.group(), position, end))
        elif runs[-1]:  # a delimiter, a word or punctuation ends the statement
            runs.append([])
        position = end
    return [run for run in runs if run]


def _has_words(text: str, start: int, end: int) -> bool:
    return any(character.isalpha() for character in text[start:end])


def _ends_in_operator(run: list) -> bool:
    return bool(run) and run[-1][0] in ("op", "eq")


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


def _left_side_cut(text: str, run: list, mentions: list[NumberMention]) -> bool:
    """Whether a run starts at an operator whose left operand is prose the reader stopped at: ``58 open spots
    and more + 2 = 60`` reads ``+ 2``; its first side is not the statement's and gets no verdict."""
    first = run[0]
    # What comes before on the line, within a window: a scan to the line start per run would be quadratic.
    low = max(0, first[2] - _CUT_WINDOW)
    newline = text.rfind("\n", low, first[2])
    line_before = text[newline + 1 if newline >= 0 else low : first[2]].rstrip()
    at_line_start = not line_before and (newline >= 0 or low == 0)
    # A minus at a line start, after a bracket or a colon is a sign (or a bullet); after a word, a cut subtraction
    # ("the rest - 3 = 7"). A minus glued to the number is a sign, unless a number and its unit come just before
    # ("1 full tank -1/3 tank = 2/3"; but "it was -5 + 3 = -2").
    after_word = not at_line_start and not (line_before and line_before[-1] in "([{:")
    if first[0] == "num" and mentions[first[1]].text[:1] in "-−":
        return _NUMBER_AND_UNIT.search(line_before) is not None
    if first[0] != "op":
        # ".8 + . 84 + .82": a stray mark after an operator cut the statement before this number.
        return _OPERATOR_THEN_STRAY_MARK.search(line_before) is not None
    return first[1] != "-" or after_word


def find_arithmetic_checks(text: str, mentions: list[NumberMention]) -> list[ArithmeticCheck]:
    """Every claimed result of an arithmetic statement in ``text`` (``mentions`` from ``find_number_mentions``)."""
    checks: list[ArithmeticCheck] = []
    text = normalize_spaces(text)
    for run in _tokenize(text, mentions):
        segments, approximate = _segments(run)
        if len(segments) < 2:
            continue
        values = [_Parser(segment, mentions).parse() if segment else None for segment in segments]
        if _left_side_cut(text, run, mentions):
            values[0] = None
        for position in range(len(segments) - 1):
            left, right = segments[position], _strip_brackets(segments[position + 1])
            left_value = values[position]
            # "1 hour = 60 minutes" and "x = 5" claim no computation; "10/3 = 3.33" does (a fraction divides).
            is_computation = any(
                token[0] == "op" or (token[0] == "num" and mentions[token[1]].is_fraction) for token in left
            )
            if left_value is None or not is_computation or not right:
                continue
            if right[0][0] != "num" or any(token[0] in ("var", "bad") for token in right):
                continue
            right_is_expression = len(right) > 1
            if right_is_expression and right[1][0] not in ("op", "lp"):
                continue  # "= 12 500": two numbers in a row are no expression and no single result
            if right_is_expression and values[position + 1] == left_value:
                continue  # a rewriting of the same value claims no new result
            result_index = right[0][1]
            result = mentions[result_index]
            is_approximate = approximate[position]
            numbers = [mentions[token[1]] for token in left if token[0] == "num"]
            additive = all(token[1] in "+-" for token in left if token[0] == "op")
            if additive and mixes_units(text, [*numbers, result]):
                continue
            correct = claim_matches(
                text, result, left_value, left_span=(left[0][2], left[-1][3]), approximate=is_approximate,
                hundred_percent=any(number.is_percent and number.value == 1 for number in numbers),
            )  # fmt: skip
            if not correct and is_quotient_with_remainder(text, result, left_value):
                continue  # "100 / 3 = 33 each, with 1 left": integer division, written as such
            expression = text[left[0][2] : left[-1][3]]
            checks.append(ArithmeticCheck(result_index, expression, left_value, correct, is_approximate))
    return checks
