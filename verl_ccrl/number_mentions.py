"""Number mentions: every numeric literal in a text, with its character span and exact value.

Pure Python, no verl import. Values are ``fractions.Fraction`` so that ``0.1 + 0.2 == 0.3`` holds and a
number's correctness never depends on float rounding.

Example::

    >>> [(m.text, m.value) for m in find_number_mentions("She pays $1,250.50 for 3/4 of 12kg, a 25% cut.")]
    [('1,250.50', Fraction(2501, 2)), ('3/4', Fraction(3, 4)), ('12', Fraction(12, 1)), ('25', Fraction(1, 4))]

Recognised: integers, decimals (``3.5``, ``.5``), thousands separators (``1,000``, LaTeX's ``1{,}000``, and a
space when a group starts with 0: ``18 000``; ``2 500`` stays two numbers), negatives (``-5`` where the minus is a
sign, not a subtraction), fractions (``3/4``, ``\\frac{3}{4}``, ``\\dfrac``, ``\\tfrac``), mixed numbers (``2 1/2``,
``5 and 2/3``, ``2\\frac{1}{2}``), percentages (``25%``, ``25\\%``, ``25 percent``, ``66.666...%``: value 1/4,
``is_percent``), money (``$18.50``, ``\\$18.50``: the span is the digits only), scientific notation (``1.5e3``)
and numbers glued to units (``12kg``, ``5x``). No-break and thin spaces count as spaces.

Deliberately *not* numbers:
- list markers at the start of a line (``1. Find`` / ``2) Add``),
- solution-structure labels (``Step 2:``, ``Part 3.``, ``Case 1)``),
- dates (``3/4/2024``, ``2024-03-04``),
- digits inside identifiers (``x2``, ``apples_2``, ``H2O``),
- numerals over the bounds of ``bounds.py`` (more than 100 digits, an exponent over 100): these are
  *oversized*, listed by :func:`read_numbers` with their span and reason, and never given a value.
Response-side written-out numbers ("three") are not mentions: only numerals carry a computed value whose
tokens can be scored. Problem-side words *do* count as given values (see :func:`problem_values`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from verl_ccrl.bounds import MAX_NUMBER_DIGITS, MAX_NUMBER_EXPONENT
from verl_ccrl.word_numbers import word_number_values

__all__ = [
    "NumberMention",
    "NumberReading",
    "OversizedNumber",
    "find_number_mentions",
    "normalize_spaces",
    "read_numbers",
    "parse_single_number",
    "problem_values",
    "word_number_values",
    "value_matches",
]

# Python 3.10 has no atomic groups: ``(?=(?P<g>X))(?P=g)`` matches X once and never backtracks into it, which keeps
# "1,000,000,...,00" linear. A grouped number never starts right after a digit or comma (no rescan inside a run).
# Thousands: "1,250", LaTeX's "1{,}250", and "18 000" (a space, only when some group starts with 0: "2 500" may
# be two numbers, "18 000" cannot be; the lazy look for that group runs once per run of groups).
_UNSIGNED = (
    r"(?:(?<![\d,}])\d{1,3}(?=(?P<groups>(?:(?:,|\{,\})\d{3})+))(?P=groups)(?![\d,]\d)"
    r"|(?<![\d,}])(?<!\d\ )\d{1,3}(?=(?:\ \d{3})*?\ 0\d\d(?![\d/]))(?=(?P<spaced>(?:\ \d{3})+))(?P=spaced)(?![\d/])"
    r"|\d+)(?:\.\d+)?|\.\d+"
)
# No-break and thin spaces are spaces (one character each, so spans are unchanged).
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " "})

_NUMBER_PATTERN = re.compile(
    # The lookahead lets the engine skip, in one test, every position that cannot start a number (3x faster).
    r"""(?=[\d.\\])(?:
      (?P<date>\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b)
    | (?P<latex_whole>\d+)?\\[dt]?frac\s*\{\s*(?P<latex_num>\d+(?:\.\d+)?)\s*\}\s*\{\s*(?P<latex_den>\d+(?:\.\d+)?)\s*\}
    | (?P<mixed_whole>\d+)(?:\ |\ and\ )(?P<mixed_num>\d+)/(?P<mixed_den>\d+)(?!\d|/\d)
    | (?P<slash_num>\d+)/(?P<slash_den>\d+)(?!\d|/\d|\.\d)  # "3/4/2024" is a date, "1/12/day" a rate
    | (?P<plain>(?:"""
    + _UNSIGNED
    + r""")(?:[eE](?=(?P<exponent>[+-]?\d+))(?P=exponent)(?![A-Za-z]))?)
      (?P<percent>(?:\.\.\.|…)?\s?\\?%|\s(?:percent|per\ cent)\b)?
    )""",
    re.VERBOSE,
)

# A list marker ("1. ", "2) ") or a structure label ("Step 2:") is an index, not a quantity.
_LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:[-*][ \t]+)?\d{1,2}[.)](?=[ \t])")
_STRUCTURE_LABEL = re.compile(r"(?i)\b(?:step|part|case|stage|phase|method|option|example)(?:[ \t]*#)?[ \t]*\d+")
_MINUS_SIGNS = "-−"


@dataclass(frozen=True)
class NumberMention:
    """One numeric literal in a text.

    ``start``/``end`` delimit the number's own characters (sign included, currency symbol and ``%`` excluded),
    so ``text[start:end]`` is what the policy's number tokens spell. ``decimals`` is how many digits were written
    after the decimal point: a written ``3.33`` claims only two decimals of precision.
    """

    start: int
    end: int
    text: str
    value: Fraction
    is_percent: bool = False
    decimals: int = 0
    is_fraction: bool = False
    fraction_parts: tuple[Fraction, Fraction] | None = None

    @property
    def candidate_values(self) -> tuple[Fraction, ...]:
        """The values this mention may stand for: ``25%`` is 1/4 in ``25% * 80`` and 25 in ``... * 100 = 25%``."""
        if self.is_percent:
            return (self.value, self.value * 100)
        return (self.value,)


def value_matches(
    mention: NumberMention, exact: Fraction, *, approximate: bool = False, truncated: bool = False
) -> bool:
    """Whether a written number states ``exact``, allowing for the precision it was written with.

    A number written with ``d`` decimals matches when it is ``exact`` rounded to ``d`` decimals (``3.33``
    matches 10/3; ``3.34`` and ``6.66`` for 20/3 do not), or truncated to them when ``truncated`` (the writer
    marked it so: ``66.666...``). Integers must be exact unless ``approximate`` (a ``≈``), where they may be
    ``exact`` rounded to the nearest integer.

    >>> value_matches(find_number_mentions("3.33")[0], Fraction(10, 3))
    True
    >>> value_matches(find_number_mentions("66.666")[0], Fraction(200, 3), truncated=True)
    True
    >>> value_matches(find_number_mentions("3")[0], Fraction(10, 3))
    False
    """
    for candidate, half_unit in precision_readings(mention):
        if candidate == exact:
            return True
        if (mention.decimals > 0 or approximate) and abs(candidate - exact) <= half_unit:
            return True
        same_sign = (candidate < 0) == (exact < 0)
        if truncated and same_sign and abs(candidate) <= abs(exact) < abs(candidate) + 2 * half_unit:
            return True
    return False


def precision_readings(mention: NumberMention) -> list[tuple[Fraction, Fraction]]:
    """(value, half of the last written unit) for each reading of ``mention``: ``3.33`` is 333/100 give or take
    1/200; ``25%`` is 1/4 give or take 1/20000 and 25 give or take 1/2.

    >>> precision_readings(find_number_mentions("3.33")[0])
    [(Fraction(333, 100), Fraction(1, 200))]
    """
    written_half_unit = Fraction(1, 2 * 10**mention.decimals)
    if mention.is_percent:
        # The written digits are the x100 reading, so the fraction reading is 100 times more precise.
        return [(mention.value, written_half_unit / 100), (mention.value * 100, written_half_unit)]
    return [(mention.value, written_half_unit)]


def _decimals_of(number_text: str) -> int:
    if "." not in number_text and "e" not in number_text and "E" not in number_text:
        return 0
    mantissa, _, exponent = number_text.lower().partition("e")
    written = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return max(0, written - int(exponent)) if exponent else written


def _to_fraction(number_text: str) -> Fraction:
    """The exact value of a numeral already within the bounds (``_oversize_reason`` is None for it)."""
    mantissa, _, exponent = number_text.replace("{,}", "").replace(",", "").replace(" ", "").lower().partition("e")
    # Built from ints: Fraction(str) parses with a regex, and the exponent is applied exactly (1.5e3 = 1500).
    whole, _, decimals = mantissa.partition(".")
    value = Fraction(int(whole or "0") * 10 ** len(decimals) + int(decimals or "0"), 10 ** len(decimals))
    if exponent:
        value *= Fraction(10) ** int(exponent)
    return value


def _oversize_reason(match: re.Match) -> str | None:
    """Why the numeral of ``match`` is over a bound of ``bounds.py``, or None. Counts before anything is built."""
    digits = sum(character.isdigit() for character in match.group())
    if digits > MAX_NUMBER_DIGITS:
        return f"{digits} digits over the bound of {MAX_NUMBER_DIGITS}"
    exponent = match.group("exponent")
    if exponent is not None and abs(int(exponent)) > MAX_NUMBER_EXPONENT:
        return f"exponent {int(exponent)} over the bound of {MAX_NUMBER_EXPONENT}"
    return None


def normalize_spaces(text: str) -> str:
    """``text`` with no-break and thin spaces as plain spaces; the same length, so spans carry over.

    >>> normalize_spaces("12\u00a0+ 3")
    '12 + 3'
    """
    return text.translate(_SPACES)


def _excluded_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _LIST_MARKER.finditer(text)]
    spans.extend(m.span() for m in _STRUCTURE_LABEL.finditer(text))
    spans.sort()
    return spans


def _minus_is_sign(text: str, minus_index: int) -> bool:
    """A minus right before a number is a sign unless it reads as subtraction (``10 - 5``, ``x-5``)."""
    # Walk back over whitespace instead of slicing the prefix: a slice per signed number is quadratic.
    index = minus_index - 1
    while index >= 0 and text[index].isspace():
        index -= 1
    if index < 0:
        return True
    last = text[index]
    if last.isdigit() or last in ")]}%":
        return False
    if last.isalpha() or last == "_":
        # "was -5" is a sign; "x-5" and "x - 5" are subtractions of a variable.
        return index < minus_index - 1
    return True


@dataclass(frozen=True)
class OversizedNumber:
    """A numeral over a bound of ``bounds.py``: where it is and why it was not read (no value, no verdict)."""

    start: int
    end: int
    reason: str


@dataclass(frozen=True)
class NumberReading:
    """What :func:`read_numbers` found: the valued mentions and the oversized numerals, each in text order;
    ``complete`` is False when reading stopped at its ``limit`` of mentions."""

    mentions: list[NumberMention]
    oversized: list[OversizedNumber]
    complete: bool = True


def find_number_mentions(text: str) -> list[NumberMention]:
    """All number mentions in ``text``, in order, non-overlapping. See the module docstring for what counts.

    >>> [(m.text, m.value) for m in find_number_mentions("Step 1: 20 - 3.5 = 16.5, then -2 + 1 = -1")]
    [('20', Fraction(20, 1)), ('3.5', Fraction(7, 2)), ('16.5', Fraction(33, 2)), ('-2', Fraction(-2, 1)), ('1', Fraction(1, 1)), ('-1', Fraction(-1, 1))]
    """
    return read_numbers(text).mentions


def read_numbers(text: str, limit: int | None = None) -> NumberReading:
    """The mentions of ``text`` and its oversized numerals. Linear in ``len(text)``; never builds a value over
    the bounds of ``bounds.py``; stops after ``limit`` + 1 mentions when a limit is given (``complete`` False).

    >>> reading = read_numbers("2 * 3 = 6, or " + "9" * 200)
    >>> [m.text for m in reading.mentions], reading.oversized[0].reason
    (['2', '3', '6'], '200 digits over the bound of 100')
    """
    if not isinstance(text, str):
        raise TypeError(f"find_number_mentions expects str, got {type(text).__name__}")
    text = normalize_spaces(text)
    excluded = _excluded_spans(text)
    next_excluded, reach = 0, -1  # spans sorted by start; reach = furthest end of a span starting at or before
    mentions: list[NumberMention] = []
    oversized: list[OversizedNumber] = []
    for match in _NUMBER_PATTERN.finditer(text):
        if match.group("date"):
            continue
        start, end = match.span()
        if start > 0 and (text[start - 1].isalpha() or text[start - 1] == "_"):
            continue
        while next_excluded < len(excluded) and excluded[next_excluded][0] <= start:
            reach = max(reach, excluded[next_excluded][1])
            next_excluded += 1
        if start < reach:
            continue
        reason = _oversize_reason(match)
        if reason is not None:
            oversized.append(OversizedNumber(start, end, reason))
            continue
        mentions.extend(_mentions_from_match(text, match))
        if limit is not None and len(mentions) > limit:
            return NumberReading(mentions, oversized, complete=False)
    return NumberReading(mentions, oversized)


def _mentions_from_match(text: str, match: re.Match) -> list[NumberMention]:
    group = match.group
    number_text = group("plain")
    if number_text is not None:  # the common case first
        value = _to_fraction(number_text)
        is_percent = group("percent") is not None
        if is_percent:
            value /= 100
        return [
            _signed(text, match.start(), match.end("plain"), value, _decimals_of(number_text), False, None, is_percent)
        ]
    if group("latex_num") is not None:
        numerator, denominator = Fraction(group("latex_num")), Fraction(group("latex_den"))
        if denominator == 0:
            return []
        whole = Fraction(group("latex_whole")) if group("latex_whole") else Fraction(0)
        return [
            _signed(
                text, match.start(), match.end(), whole + numerator / denominator, 0, True, (numerator, denominator)
            )
        ]
    if group("mixed_whole") is not None:
        whole, numerator, denominator = (int(group(name)) for name in ("mixed_whole", "mixed_num", "mixed_den"))
        if 0 < numerator < denominator:
            value = whole + Fraction(numerator, denominator)
            return [
                _signed(text, match.start(), match.end(), value, 0, True, (Fraction(numerator), Fraction(denominator)))
            ]
        # Not a proper fraction ("3 12/4"): an integer followed by a fraction.
        split = match.start("mixed_num")
        first = _signed(text, match.start(), match.end("mixed_whole"), Fraction(whole), 0)
        return [first, *_fraction_or_pair(text, split, match.end(), numerator, denominator)]
    return _fraction_or_pair(text, match.start(), match.end(), int(group("slash_num")), int(group("slash_den")))


def _fraction_or_pair(text: str, start: int, end: int, numerator: int, denominator: int) -> list[NumberMention]:
    if denominator == 0:
        slash = text.index("/", start)
        return [
            _signed(text, start, slash, Fraction(numerator), 0),
            NumberMention(slash + 1, end, text[slash + 1 : end], Fraction(0)),
        ]
    parts = (Fraction(numerator), Fraction(denominator))
    return [_signed(text, start, end, Fraction(numerator, denominator), 0, True, parts)]


def _signed(
    text: str,
    start: int,
    end: int,
    value: Fraction,
    decimals: int,
    is_fraction: bool = False,
    fraction_parts: tuple[Fraction, Fraction] | None = None,
    is_percent: bool = False,
) -> NumberMention:
    sign_index = start - 1
    if sign_index >= 0 and text[sign_index] in _MINUS_SIGNS and _minus_is_sign(text, sign_index):
        start, value = sign_index, -value
    return NumberMention(start, end, text[start:end], value, is_percent, decimals, is_fraction, fraction_parts)


def parse_single_number(text: str) -> Fraction | None:
    """The value of ``text`` when it is exactly one number, give or take currency, units and punctuation.

    >>> parse_single_number(" $1,000.00 dollars.")
    Fraction(1000, 1)
    >>> parse_single_number("3 apples and 4 pears") is None
    True
    """
    reading = read_numbers(text)
    if len(reading.mentions) != 1 or reading.oversized:
        return None
    mention = reading.mentions[0]
    rest = text[: mention.start] + text[mention.end :]
    if any(ch.isdigit() for ch in rest) or "=" in rest or "^" in rest:
        return None
    if _FUNCTION_OF_NUMBER.search(rest) or any(name not in _FORMATTING_COMMANDS for name in _COMMAND.findall(rest)):
        return None  # \sqrt{6561} is 81 and 4! is 24: the bare number would be a silent wrong reading
    return mention.value


# What may surround a single number: formatting. Any other LaTeX command (\sqrt, \log, \pi, \frac with a letter)
# or a function sign makes the text an expression.
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
_FORMATTING_COMMANDS = frozenset(
    "$ % , ; : ! text textbf textrm textit mathrm mathbf mbox boxed left right displaystyle quad qquad "
    "big Big ( ) [ ]".split()
    + [" "]
)
_FUNCTION_OF_NUMBER = re.compile(r"[√∛∜]|(?<!\\)!|(?i:\b(?:sqrt|cbrt|log|ln|exp|sin|cos|tan)\b)")


def problem_values(problem: str, *, word_numbers: bool = True, extra_values: tuple = ()) -> frozenset[Fraction]:
    """Every value the problem text gives: its numerals (percentages both ways), its fraction parts, and, when
    ``word_numbers``, its written-out numbers.

    >>> sorted(problem_values("Ann has 3/4 of a pie and half of 12 apples."))
    [Fraction(1, 2), Fraction(3, 4), Fraction(2, 1), Fraction(3, 1), Fraction(4, 1), Fraction(12, 1)]
    """
    values: set[Fraction] = set()
    for mention in find_number_mentions(problem):
        values.update(mention.candidate_values)
        if mention.fraction_parts:
            values.update(mention.fraction_parts)
    if word_numbers:
        values.update(word_number_values(problem))
    values.update(Fraction(value) for value in extra_values)
    return frozenset(values)
