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
colon, a new line, GSM8K's ``<<`` ``>>``) ends the run.

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

from verl_ccrl.number_mentions import NumberMention, normalize_spaces, value_matches

__all__ = ["ArithmeticCheck", "evaluate_expression", "find_arithmetic_checks"]

_MAX_EXPONENT = 64
_MAX_DIGITS = 400  # a Fraction with more digits than this is no word-problem quantity; stop before it costs time


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
      (?P<delimiter>\\[()\[\]]|<<|>>)
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
    "–": "-",  # en dash between numbers (``120 – 80``): a minus; between digits (``1–2``) a range, see _UNREADABLE
    "×": "*",
    "·": "*",
    "⋅": "*",
    "\\times": "*",
    "\\cdot": "*",
    "÷": "/",
    "\\div": "/",
}
_PERCENT_SUFFIX = re.compile(r"(?:\.\.\.|…)?\s?\\?%|\s(?:percent|per cent)\b")
# A unit is up to three words after a number ("58 open spots", "25 time-outs", "2 dogs' legs", "\text{kg}"),
# joined by "/", "per" or "of" ("24 feet/story", "2 cups per bag", "3 bags of chips"), or hyphenated to it
# ("65-minute concert"); a single letter glued to a number is an unknown ("4c", "2V"), not a unit.
_UNIT_WORD = re.compile(r"\\(?:text|mathrm)\{[^}\n]{0,40}\}|[A-Za-z]{2,24}(?:[-'’][A-Za-z]+)*(?:['’]s?)?(?![\w'’-])")
_UNIT_JOINER = re.compile(r"/|[ \t](?:per|of)[ \t]|-")
_MAX_UNIT_WORDS = 3
_GLUED_UNKNOWN = re.compile(r"[A-Za-z](?![\w'’])")
# Words that start a new clause: never part of a unit, so "x = 9 because - 18/-2 = 9" is two statements.
_NOT_UNITS = frozenset(
    "and or so then to of for is are was were be been being will would which that but with in on at by per "
    "from the a an this these those it he she they we you i his her their its if as than more less because since "
    "therefore thus hence now also plus minus times divided over equals equal gives give makes make means get gets "
    "got leaves leaving while when where who after before into out up down what how all".split()
)
# A possessive or article between an operator and its number: "25 classmates + his 1 teacher".
_OPERAND_DETERMINER = re.compile(r"[ \t]*(?:his|her|their|the|my|our|its|your|an?)[ \t]+(?=[$\\\d])")
# A lone letter next to an operator or "=" is an unknown ("V + 2V = 3V"), and makes its side unreadable.
_NEXT_IS_OPERATOR = re.compile(r"[ \t]*(?:[=+\-−–*×·⋅/÷^]|\\(?:times|cdot|div)(?![A-Za-z]))")
# Numbers that are no quantity: ranges ("Weeks 1-2", "ages 3–5"; digits joined by an en dash always), indices
# ("day 1 * 2" counts days from 1), clock times ("11 a.m. - 2 hours", "9:30").
_ORDERED_THINGS = (
    r"weeks?|days?|months?|years?|hours?|nights?|pages?|chapters?|ages?|grades?|levels?|rounds?|games?|rows?|lines?|"
    r"items?|questions?|problems?|floors?|episodes?|seasons?|laps?|tests?|steps?|numbers?|rooms?|holes?"
)
# Checked on a short window around each number (a scan of the whole text for label words costs 10x more).
_UNREADABLE_BEFORE = re.compile(
    rf"(?i)(?:\b(?:{_ORDERED_THINGS})[ \t]+#?(?:\d+[ \t]*[-–][ \t]*)?|\d–|\d:)$"
)
_UNREADABLE_AFTER = re.compile(r"(?i)–\d|(?::\d\d)?[ \t]*[ap]\.?m\b|:\d\d")
_WINDOW = 24
# "0900" (a clock time) or "007": a number written with a leading zero is a label, not a quantity.
_LEADING_ZERO = re.compile(r"-?0\d")
_REMAINDER = re.compile(r"(?i)[^\n]{0,40}?\b(?:remainders?|remaining|left|leftover|spare|extra)\b|[ \t]*R[ \t]?\d")
_OPERATOR_THEN_STRAY_MARK = re.compile(r"[+\-−–*×÷/=][ \t]*[.,;:][ \t.,;:]*$")
_CENTS = re.compile(r"[ \t]?(?:cents?\b|¢)")
# Units of one dimension: a statement that mixes two of them ("4 pounds - 6 ounces = 58 ounces") converts, and
# the reader does not know the factors, so it gives no verdict.
_DIMENSION_OF_UNIT = {
    unit: dimension
    for dimension, units in {
        "time": "second minute hour day week month year",
        "length": "inch feet foot yard mile centimeter meter kilometer millimeter cm mm km",
        "weight": "ounce pound gram kilogram ton oz lb kg",
        "volume": "cup pint quart gallon milliliter liter teaspoon tablespoon ml",
        "money": "cent dollar",
    }.items()
    for unit in units.split()
}
_FIRST_UNIT = re.compile(r"[ \t]?([A-Za-z]{2,24})\b")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_AND_FRACTION = re.compile(r"[ \t]+and[ \t]+\((\d+)/([1-9]\d*)\)")
_TIMES_WORD = re.compile(r"[ \t]?[xX](?=[ \t]*(?:[\d($]|\\\$))")  # "12 x 2", "450 days x $100"
_OF_WORD = re.compile(r"[ \t]of\b")


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
            runs[-1].append(("bad" if _is_no_quantity(text, mention) else "num", index, mention.start, mention.end))
            position, suffix = _skip_number_suffix(text, mention, position=mention.end)
            if suffix is not None:
                runs[-1].append(suffix)
            continue
        match = _TOKEN.match(text, position)
        kind, end = match.lastgroup, match.end()
        if kind == "skip":
            pass
        elif kind == "op":
            runs[-1].append(("op", _OPERATOR_NAMES.get(match.group(), match.group()), position, end))
            determiner = _OPERAND_DETERMINER.match(text, end)
            if determiner:
                end = determiner.end()
        elif kind == "eq" or kind == "approx":
            runs[-1].append(("eq", kind == "approx", position, end))
        elif kind == "lp" or kind == "rp":
            runs[-1].append((kind, None, position, end))
        elif kind == "times" and position > 0 and (text[position - 1].isdigit() or text[position - 1] in " \t)"):
            runs[-1].append(("op", "*", position, end))
        elif kind == "other" and _is_unknown(text, match, runs[-1]):
            runs[-1].append(("var", match.group(), position, end))
        elif runs[-1]:  # a delimiter, a word or punctuation ends the statement
            runs.append([])
        position = end
    return [run for run in runs if run]


def _is_no_quantity(text: str, mention: NumberMention) -> bool:
    """A range end, an index (``day 1``), a clock time or a number with a leading zero (``0900``)."""
    return bool(
        _LEADING_ZERO.match(mention.text)
        or _UNREADABLE_AFTER.match(text, mention.end)
        or _UNREADABLE_BEFORE.search(text, max(0, mention.start - _WINDOW), mention.start)
    )


def _is_unknown(text: str, match: re.Match, run: list) -> bool:
    """A lone letter beside an operator or ``=`` (``V + 2V``, ``x = 9``) stands for an unknown."""
    word = match.group()
    if len(word) != 1 or not ("a" <= word.lower() <= "z"):
        return False
    return bool(run and run[-1][0] in ("op", "eq")) or bool(_NEXT_IS_OPERATOR.match(text, match.end()))


def _skip_number_suffix(text: str, mention: NumberMention, position: int) -> tuple[int, tuple | None]:
    """Skip what follows a number but belongs to it (``%``, a unit of up to three words); read ``of`` after a
    percentage or fraction as ``*`` (``20% of 50``) and a letter glued to the number as an unknown (``4c``).
    Returns the new position and the extra token (``of`` operator or unknown), if any."""
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
    glued = _GLUED_UNKNOWN.match(text, position)
    if glued:
        return glued.end(), ("var", glued.group(), position, glued.end())
    for words in range(_MAX_UNIT_WORDS):
        joiner = _UNIT_JOINER.match(text, position)
        if joiner:
            # "of" joins two unit words only ("bags of chips"); "2 of 5" is no unit. A hyphen only right after the
            # number ("65-minute"), a slash or "per" anywhere ("$3/pencil", "24 feet/story", "5 per day").
            glue = joiner.group().strip()
            if (glue == "of" and not words) or (glue == "-" and words):
                break
            gap = joiner.end() - position
        elif position < len(text) and text[position] in " \t":
            gap = 1
        elif words:
            break
        else:
            gap = 0
        unit = _UNIT_WORD.match(text, position + gap)
        if unit is None or unit.group().lower() in _NOT_UNITS:
            break
        position = unit.end()
    return position, None


class _Parser:
    """Recursive descent over one segment's tokens; ``parse()`` returns the exact value or None."""

    def __init__(self, tokens: list[tuple[str, object, int, int]], mentions: list[NumberMention]):
        self.tokens, self.mentions, self.index = tokens, mentions, 0

    def parse(self) -> Fraction | None:
        try:
            value = self._sum()
        except (_ParseError, ZeroDivisionError, OverflowError, ValueError):
            return None
        return value if self.index == len(self.tokens) else None

    def _peek(self) -> tuple[str, object, int, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _sum(self) -> Fraction:
        value = self._product()
        while (token := self._peek()) and token[0] == "op" and token[1] in "+-":
            self.index += 1
            right = self._product()
            value = value + right if token[1] == "+" else value - right
        return value

    def _product(self) -> Fraction:
        value = self._power()
        while (token := self._peek()) and token[0] == "op" and token[1] in "*/":
            self.index += 1
            right = self._power()
            value = value * right if token[1] == "*" else value / right
            _check_size(value)
        return value

    def _power(self) -> Fraction:
        base = self._unary()
        token = self._peek()
        if token and token[0] == "op" and token[1] == "^":
            self.index += 1
            exponent = self._power()
            if exponent.denominator != 1 or abs(exponent) > _MAX_EXPONENT:
                raise _ParseError("exponent out of range")
            base = base ** int(exponent)
            _check_size(base)
        return base

    def _unary(self) -> Fraction:
        token = self._peek()
        if token and token[0] == "op" and token[1] in "+-":
            self.index += 1
            value = self._unary()
            return -value if token[1] == "-" else value
        return self._primary()

    def _primary(self) -> Fraction:
        token = self._peek()
        if token is None:
            raise _ParseError("unexpected end")
        if token[0] == "num":
            self.index += 1
            return self.mentions[token[1]].value
        if token[0] == "lp":
            self.index += 1
            value = self._sum()
            closing = self._peek()
            if closing is None or closing[0] != "rp":
                raise _ParseError("unbalanced bracket")
            self.index += 1
            return value
        raise _ParseError(f"unexpected {token[0]}")


class _ParseError(Exception):
    pass


def _check_size(value: Fraction) -> None:
    if value.numerator.bit_length() > _MAX_DIGITS * 3.33 or value.denominator.bit_length() > _MAX_DIGITS * 3.33:
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


def _is_quotient_with_remainder(text: str, result: NumberMention, value: Fraction) -> bool:
    return (
        value.denominator != 1
        and result.decimals == 0
        and result.value == value.numerator // value.denominator
        and _REMAINDER.match(text, result.end) is not None
    )


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
    while len(tokens) >= 2 and tokens[0][0] == "lp" and tokens[-1][0] == "rp":
        tokens = tokens[1:-1]
    return tokens


def _left_side_cut(text: str, run: list) -> bool:
    """Whether a run starts at an operator whose left operand is prose the reader stopped at: ``58 open spots
    and more + 2 = 60`` reads ``+ 2``; its first side is not the statement's and gets no verdict."""
    first = run[0]
    line_before = text[text.rfind("\n", 0, first[2]) + 1 : first[2]].rstrip()
    if first[0] != "op":
        # ".8 + . 84 + .82": a stray mark after an operator cut the statement before this number.
        return _OPERATOR_THEN_STRAY_MARK.search(line_before) is not None
    if first[1] != "-":
        return True
    # A minus at a line start, after a bracket or a colon is a sign (or a bullet); after anything else, a cut.
    return bool(line_before) and line_before[-1] not in "([{:"


def _mixes_units(text: str, numbers: list[NumberMention]) -> bool:
    """Whether two numbers carry different units of one dimension (``4 pounds - 6 ounces``)."""
    seen: dict[str, str] = {}
    for mention in numbers:
        unit = _FIRST_UNIT.match(text, mention.end)
        if unit is None:
            continue
        word = unit[1].lower()
        word = word[:-1] if word.endswith("s") and word[:-1] in _DIMENSION_OF_UNIT else word
        dimension = _DIMENSION_OF_UNIT.get(word)
        if dimension is not None and seen.setdefault(dimension, word) != word:
            return True
    return False


def _claim_matches(text: str, mention: NumberMention, left: list, value: Fraction, mentions, approximate) -> bool:
    """The claimed result read as written, or in the scale the text names: ``* 100% = 42.857`` (a percentage
    written without its sign) and ``$2.50 - $2.24 = 26 cents``."""
    truncated = _ELLIPSIS.match(text, mention.end) is not None  # "66.666...": the writer cut the digits
    if value_matches(mention, value, approximate=approximate, truncated=truncated):
        return True
    if any(token[0] == "num" and mentions[token[1]].is_percent and mentions[token[1]].value == 1 for token in left):
        if value_matches(mention, value * 100, approximate=approximate, truncated=truncated):
            return True
    if _CENTS.match(text, mention.end) and "$" in text[max(0, left[0][2] - 2) : left[-1][3] + 1]:
        return value_matches(mention, value * 100, approximate=approximate)
    and_fraction = _AND_FRACTION.match(text, mention.end)
    if and_fraction and mention.decimals == 0:  # "100 / 6 = 16 and (2/3)"
        return mention.value + Fraction(int(and_fraction[1]), int(and_fraction[2])) == value
    return False


def find_arithmetic_checks(text: str, mentions: list[NumberMention]) -> list[ArithmeticCheck]:
    """Every claimed result of an arithmetic statement in ``text`` (``mentions`` from ``find_number_mentions``)."""
    checks: list[ArithmeticCheck] = []
    text = normalize_spaces(text)
    for run in _tokenize(text, mentions):
        segments, approximate = _segments(run)
        if len(segments) < 2:
            continue
        values = [_Parser(segment, mentions).parse() if segment else None for segment in segments]
        if _left_side_cut(text, run):
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
            if _mixes_units(text, [mentions[token[1]] for token in left if token[0] == "num"] + [result]):
                continue
            correct = _claim_matches(text, result, left, left_value, mentions, is_approximate)
            if not correct and _is_quotient_with_remainder(text, result, left_value):
                continue  # "100 / 3 = 33 each, with 1 left": integer division, written as such
            expression = text[left[0][2] : left[-1][3]]
            checks.append(ArithmeticCheck(result_index, expression, left_value, correct, is_approximate))
    return checks
