"""Written-out numbers in a problem ("three", "a dozen", "twice", "two thirds") and the values they name.

Pure Python, no verl import. Only the problem side reads words: a response's words carry no computed value whose
tokens could be scored (see ``number_mentions``), but a problem's words are given values a solution copies.

Example::

    >>> sorted(word_number_values("She has three cats and twice as many dogs."))
    [Fraction(2, 1), Fraction(3, 1)]
"""

from __future__ import annotations

import re
from fractions import Fraction

from verl_ccrl.bounds import MAX_WORD_NUMBER

__all__ = ["word_number_values"]


_UNITS = {
    word: index
    for index, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
_TENS = {
    word: 10 * (index + 2) for index, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
# Words that name a quantity on their own. "half" also implies the divisor 2 that a solution writes ("/ 2").
_MULTIPLIER_WORDS: dict[str, tuple[Fraction, ...]] = {
    "twice": (Fraction(2),),
    "double": (Fraction(2),),
    "doubles": (Fraction(2),),
    "doubled": (Fraction(2),),
    "thrice": (Fraction(3),),
    "triple": (Fraction(3),),
    "tripled": (Fraction(3),),
    "triples": (Fraction(3),),
    "quadruple": (Fraction(4),),
    "quadrupled": (Fraction(4),),
    "half": (Fraction(1, 2), Fraction(2)),
    "halves": (Fraction(1, 2), Fraction(2)),
    "dozen": (Fraction(12),),
    "dozens": (Fraction(12),),
    "pair": (Fraction(2),),
    "pairs": (Fraction(2),),
}
_DENOMINATOR_WORDS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
    "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7, "eighth": 8, "eighths": 8,
    "ninth": 9, "ninths": 9, "tenth": 10, "tenths": 10,
}  # fmt: skip
_WORD_PATTERN = re.compile(r"[a-z]+")


def word_number_values(text: str) -> set[Fraction]:
    """Values named by words in ``text``: cardinals, multipliers, simple fractions and dozens.

    >>> sorted(word_number_values("Twenty-five kids ate two thirds of a dozen pies, twice."))
    [Fraction(2, 3), Fraction(2, 1), Fraction(3, 1), Fraction(12, 1), Fraction(25, 1)]

    Not handled: ordinals other than fraction denominators ("second", "first" are too ambiguous), and
    "a/one ... and a half" sums beyond ``<cardinal> and a half``.
    """
    words = _WORD_PATTERN.findall(text.lower())
    values: set[Fraction] = set()
    index = 0
    while index < len(words):
        cardinal, consumed = _read_cardinal(words, index)
        if consumed:
            values.add(Fraction(cardinal))
            index += consumed
            follower = words[index] if index < len(words) else ""
            if follower in _DENOMINATOR_WORDS:
                values.update(
                    (Fraction(cardinal, _DENOMINATOR_WORDS[follower]), Fraction(_DENOMINATOR_WORDS[follower]))
                )
                index += 1
            elif follower in ("dozen", "dozens"):
                values.update((Fraction(12 * cardinal), Fraction(12)))
                index += 1
            elif words[index : index + 3] == ["and", "a", "half"]:
                values.update((cardinal + Fraction(1, 2), Fraction(1, 2)))
                index += 3
            continue
        word = words[index]
        if word in _MULTIPLIER_WORDS:
            values.update(_MULTIPLIER_WORDS[word])
        elif word in _DENOMINATOR_WORDS and index > 0 and words[index - 1] in ("a", "one", "each", "every", "per"):
            values.update((Fraction(1, _DENOMINATOR_WORDS[word]), Fraction(_DENOMINATOR_WORDS[word])))
        index += 1
    return values


def _read_cardinal(words: list[str], index: int) -> tuple[int, int]:
    """Read a cardinal number starting at ``words[index]``; returns (value, words consumed) or (0, 0).

    "and" continues a number only after a scale word ("one hundred and five"), so "three and four" is two numbers.
    A number stops before it would pass ``MAX_WORD_NUMBER`` ("hundred hundred hundred ..." is several numbers).
    """
    total, current, position = 0, 0, index
    after_scale = False
    while position < len(words):
        word = words[position]
        if word in _UNITS or word in _TENS:
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
            after_scale = False
        elif word in _SCALES:
            if (total + max(current, 1) * _SCALES[word]) * 100 > MAX_WORD_NUMBER:
                break
            if _SCALES[word] == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * _SCALES[word]
                current = 0
            after_scale = True
        elif (
            word == "and"
            and after_scale
            and position + 1 < len(words)
            and (words[position + 1] in _UNITS or words[position + 1] in _TENS)
        ):
            after_scale = False
        else:
            break
        position += 1
    if position == index:
        return 0, 0
    return total + current, position - index
