"""Written forms around the numbers of a statement: units, unknowns, numbers that are no quantity, and claims
written in another scale. The conventions people use in worked solutions, read by ``arithmetic.py``.

Pure Python, no verl import. Each reader answers one question about the text next to a number, so that a
statement is read in full (``58 open spots + 2 = 60``) or, when it cannot be read with confidence, gets no
verdict (``4c - 2 = 10``, ``Weeks 1-2``, ``4 pounds - 6 ounces``).

Example::

    >>> from verl_ccrl.number_mentions import find_number_mentions
    >>> text = "58 open spots + 2 = 60"
    >>> skip_number_suffix(text, find_number_mentions(text)[0], position=2)
    (13, None)
    >>> text = "4c - 2 = 10"
    >>> skip_number_suffix(text, find_number_mentions(text)[0], position=1)
    (2, ('var', 'c', 1, 2))
"""

from __future__ import annotations

import re
from fractions import Fraction

from verl_ccrl.number_mentions import NumberMention, value_matches

__all__ = [
    "claim_matches",
    "is_no_quantity",
    "is_quotient_with_remainder",
    "is_unknown",
    "mixes_units",
    "operand_determiner_end",
    "skip_number_suffix",
]

_PERCENT_SUFFIX = re.compile(r"(?:\.\.\.|…)?\s?\\?%|\s(?:percent|per cent)\b")
# A unit is up to three words after a number ("58 open spots", "25 time-outs", "2 dogs' legs", "\text{kg}"),
# joined by "/", "per" or "of" ("24 feet/story", "2 cups per bag", "3 bags of chips"), or hyphenated to it
# ("65-minute concert"); a single letter glued to a number is an unknown ("4c", "2V"), not a unit.
_UNIT_WORD = re.compile(
    r"\\(?:text|mathrm)\{[^}\n]{0,40}\}"
    r"|(?:[A-Za-z]{2,24}|[A-Za-z](?=-[A-Za-z]))(?:[-'’][A-Za-z]{1,24})*(?:['’]s?)?(?![\w'’-])"
)
_UNIT_JOINER = re.compile(r"/|[ \t](?:per|of)[ \t]|-")
_MAX_UNIT_WORDS = 3
_GLUED_UNKNOWN = re.compile(r"[A-Za-z](?![\w'’])")
# Words that start a new clause: never part of a unit, so "x = 9 because - 18/-2 = 9" is two statements.
_NOT_UNITS = frozenset(
    "and or so then to of for is are was were be been being will would which that but with in on at by per "
    "from the a an this these those it he she they we you i his her their its if as than more less because since "
    "therefore thus hence now also plus minus divided over equals equal gives give makes make means get gets "
    "got leaving while when where who after before into out up down what how all".split()
)
# A possessive or article between an operator and its number: "25 classmates + his 1 teacher".
_OPERAND_DETERMINER = re.compile(r"[ \t]*(?:his|her|their|the|my|our|its|your|an?)[ \t]+(?=[$\\\d])")
# A lone letter next to an operator or "=" is an unknown ("V + 2V = 3V"), and makes its side unreadable.
_NEXT_IS_OPERATOR = re.compile(r"[ \t]*(?:[=+−–*×·⋅/÷^]|-(?![A-Za-z])|\\(?:times|cdot|div)(?![A-Za-z]))")
_NEVER_UNKNOWN = frozenset("aAI")  # "1/50 of a pound", "I"
# Numbers that are no quantity: ranges ("Weeks 1-2", "ages 3–5"; digits joined by an en dash always), indices
# ("day 1 * 2" counts days from 1; not "each hour 2 * 60", "age 8 + 8", "year 4200 - 3700": those are amounts),
# clock times ("11 a.m. - 2 hours", "9:30").
_INDEXED_THINGS = r"days?|weeks?|months?|levels?|rounds?|chapters?|pages?|laps?|episodes?|seasons?|games?|steps?"
_ORDERED_THINGS = (
    r"weeks?|days?|months?|years?|hours?|nights?|pages?|chapters?|ages?|grades?|levels?|rounds?|games?|rows?|lines?|"
    r"items?|questions?|problems?|floors?|episodes?|seasons?|laps?|tests?|steps?|numbers?|rooms?|holes?"
)
# Checked on a short window around each number (a scan of the whole text for label words costs 10x more).
_UNREADABLE_BEFORE = re.compile(
    rf"(?i)(?:\b(?:{_INDEXED_THINGS})[ \t]+#?|\b(?:{_ORDERED_THINGS})[ \t]+\d+(?:-|[ \t]*–[ \t]*)|\d–|\d:)$"
)
_UNREADABLE_AFTER = re.compile(r"(?i)–\d|(?::\d\d)?[ \t]*[ap]\.?m\b|:\d\d")
_WINDOW = 24
# "0900" (a clock time) or "007": a number written with a leading zero is a label, not a quantity.
_LEADING_ZERO = re.compile(r"-?0\d")
_REMAINDER = re.compile(r"(?i)[^\n]{0,40}?\b(?:remainders?|remaining|left|leftover|spare|extra)\b|[ \t]*R[ \t]?\d")
_CENTS = re.compile(r"[ \t]?(?:cents?\b|¢)")
# Units of one dimension: a sum that mixes two of them ("4 pounds - 6 ounces = 58 ounces") converts with factors
# the text omits, so it gets no verdict. A product states its factor ("2 days * 24 hours = 48 hours") and is read.
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


def is_no_quantity(text: str, mention: NumberMention) -> bool:
    """A range end, an index (``day 1``), a clock time or a number with a leading zero (``0900``)."""
    return bool(
        _LEADING_ZERO.match(mention.text)
        or _UNREADABLE_AFTER.match(text, mention.end)
        or _UNREADABLE_BEFORE.search(text, max(0, mention.start - _WINDOW), mention.start)
    )


def is_unknown(text: str, word: re.Match, *, after_operator: bool) -> bool:
    """A lone letter beside an operator or ``=`` (``V + 2V``, ``x = 9``) stands for an unknown.

    >>> import re
    >>> is_unknown("V + 2V", re.match(r"\\w+", "V + 2V"), after_operator=False)
    True
    """
    letter = word.group()
    if len(letter) != 1 or not ("a" <= letter.lower() <= "z") or letter in _NEVER_UNKNOWN:
        return False
    return after_operator or bool(_NEXT_IS_OPERATOR.match(text, word.end()))


def skip_number_suffix(text: str, mention: NumberMention, position: int) -> tuple[int, tuple | None]:
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


def is_quotient_with_remainder(text: str, result: NumberMention, value: Fraction) -> bool:
    return (
        value.denominator != 1
        and result.decimals == 0
        and result.value == value.numerator // value.denominator
        and _REMAINDER.match(text, result.end) is not None
    )


def mixes_units(text: str, numbers: list[NumberMention]) -> bool:
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


def claim_matches(
    text: str,
    mention: NumberMention,
    value: Fraction,
    *,
    left_span: tuple[int, int],
    hundred_percent: bool,
    approximate: bool,
) -> bool:
    """The claimed result read as written, or in the scale the text names: ``* 100% = 42.857`` (a percentage
    written without its sign) and ``$2.50 - $2.24 = 26 cents``."""
    truncated = _ELLIPSIS.match(text, mention.end) is not None  # "66.666...": the writer cut the digits
    if value_matches(mention, value, approximate=approximate, truncated=truncated):
        return True
    if hundred_percent and value_matches(mention, value * 100, approximate=approximate, truncated=truncated):
        return True
    if _CENTS.match(text, mention.end) and "$" in text[max(0, left_span[0] - 2) : left_span[1] + 1]:
        return value_matches(mention, value * 100, approximate=approximate)
    and_fraction = _AND_FRACTION.match(text, mention.end)
    if and_fraction and mention.decimals == 0:  # "100 / 6 = 16 and (2/3)"
        return mention.value + Fraction(int(and_fraction[1]), int(and_fraction[2])) == value
    return False


def operand_determiner_end(text: str, position: int) -> int:
    """Where the operand after an operator starts, past a possessive or article (``+ his 1 teacher``).

    >>> operand_determiner_end("25 classmates + his 1 teacher", 15)
    20
    """
    determiner = _OPERAND_DETERMINER.match(text, position)
    return determiner.end() if determiner else position
