"""The final answer of a response and whether it is right (the outcome part of the reward).

Pure Python, no verl import. A fast exact path handles plain numbers with ``Fraction`` (about 10 µs); anything
else (``\\frac{a}{b}`` against a decimal, ``\\sqrt{6561}``, ``4!``, sets) goes to math-verify, first through a
screen (:func:`verify_screen`: length, oversized numerals, power towers, huge exponents and factorials), then in the
math-verify worker process under a hard deadline that holds in any thread (``verify_worker.py``). An answer the
bounds leave undecided is not correct, and :func:`check_answer` says why.

Example::

    >>> extract_final_answer("... so she pays 18.5 dollars.\\n#### 18.50")
    '18.50'
    >>> is_answer_correct("18.50", "18.5"), is_answer_correct("$1,000", "1000"), is_answer_correct("72", "71")
    (True, True, False)

How an answer is compared with the ground truth, the first rule that applies:

1. **Text ground truths** (a word of two or more letters outside LaTeX commands: TabMWP's "Each term in pattern
   B is 10 times ...", ASDiv's "The 60th caller.", "Vendor 2", "1 hour") are compared as normalised text, never
   read as a number: Unicode NFKC, ``\\text{}`` unwrapped, case, punctuation, thousands commas, surrounding
   spaces and a leading article ignored. "the 60th caller" matches "The 60th caller."; "60" does not, nor does
   "1" match "1 hour". ``is_text_answer`` tells such items apart; they get the outcome reward and no number terms.
2. **Numbers**: equal exactly (``Fraction``): "18.50" = "18.5", "$1,000" = "1000", "3/4" = "0.75"; a percentage
   equals its number ("25%" = "25").
3. **Float ground truths**: a ground truth written with 12 or more significant digits came out of floating-point
   arithmetic (GSM-Hard's ``3244047.0999999996``, MAWPS's ``0.8333333333333334``). Its intended value is the
   fraction with denominator at most 1000 within relative 1e-12 of it, if any (3244047.1, 5/6). Accepted: that
   value exactly ("3244047.1", "5/6", "\\frac{5}{6}"), and an answer written with two or more decimals that is
   the intended value (else the float) rounded to those decimals ("0.83", "0.8333" for 5/6; "12.13" for
   ``12.124999999999998``). Not accepted: fewer than two decimals unless exact ("0.8" for 5/6, "3244047" for
   3244047.1), other values ("0.84", "0.82" for 5/6). A ground truth with fewer digits is compared by rule 2.
4. Anything else (expressions, sets, LaTeX) goes to math-verify, through the screen and the worker above.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.bounds import ANSWER_CHECK_TIMEOUT_S, MAX_VERIFY_CHARS, MAX_VERIFY_EXPONENT
from verl_ccrl.number_mentions import find_number_mentions, parse_single_number, read_numbers
from verl_ccrl.verify_worker import verify

__all__ = [
    "AnswerCheck",
    "check_answer",
    "extract_final_answer",
    "is_answer_correct",
    "is_text_answer",
    "TEXT_ANSWER",
    "verify_screen",
]

_HASH_ANSWER = re.compile(r"####\s*([^\n]+)")
# The rest of the line after the cue; the stated answer ends at the first "." that ends a sentence. The gap is
# matched once, never backtracked into (``(?=(?P<g>X))(?P=g)``), and the line is cut in Python: the old lazy
# capture with a ``\s*$`` stop was quadratic in a line of spaces.
_ANSWER_IS = re.compile(
    r"(?i)(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*[:=]|answer\s*[:=])"
    r"(?=(?P<gap>\s*[:=]?\s*))(?P=gap)(?P<answer>[^\n]*)"
)
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_BOXED = "\\boxed{"


def _last_boxed(text: str) -> str | None:
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, position = 1, start + len(_BOXED)
    for index in range(position, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[position:index].strip()
    return None


def extract_final_answer(response: str, *, fallback_last_number: bool = False) -> str | None:
    """The response's final answer text, from (in order) the last ``\\boxed{...}``, the last ``#### x``, the last
    "The answer is x" / "Answer: x"; else the last number when ``fallback_last_number``; else None.

    >>> extract_final_answer("The answer is $42.")
    '$42'
    >>> extract_final_answer("I think 3 + 4 = 7") is None
    True
    """
    boxed = _last_boxed(response)
    if boxed:
        return boxed
    hashes = _HASH_ANSWER.findall(response)
    if hashes:
        return hashes[-1].strip()
    stated = [answer for answer in map(_stated_answer, _ANSWER_IS.finditer(response)) if answer.strip()]
    if stated:
        return stated[-1].strip().rstrip(".")
    if fallback_last_number:
        mentions = find_number_mentions(response)
        if mentions:
            return mentions[-1].text
    return None


def _stated_answer(match: re.Match) -> str:
    line = match.group("answer")
    end = _SENTENCE_END.search(line)
    return line[: end.start()] if end else line


@dataclass(frozen=True)
class AnswerCheck:
    """The outcome check: ``correct``, and ``undecided`` = why no verdict could be reached within the bounds of
    ``bounds.py`` (then ``correct`` is False), or None when the check decided."""

    correct: bool
    undecided: str | None = None


TEXT_ANSWER = "text"
"""The ``extra_info["answer_type"]`` of an item whose published answer is text (data_prep writes it)."""


def is_answer_correct(answer: str | None, ground_truth: str | int | float) -> bool:
    """Whether ``answer`` equals ``ground_truth``: exactly for plain numbers, else by math-verify.

    >>> is_answer_correct("\\\\frac{3}{4}", "0.75")
    True
    """
    return check_answer(answer, ground_truth).correct


def check_answer(
    answer: str | None,
    ground_truth: str | int | float,
    *,
    timeout_s: float = ANSWER_CHECK_TIMEOUT_S,
    answer_type: str | None = None,
) -> AnswerCheck:
    """:func:`is_answer_correct` with the reason when the bounds left it undecided; math-verify gets at most
    ``timeout_s`` seconds. ``answer_type="text"`` (what data_prep writes in ``extra_info`` for a published text
    answer, e.g. ASDiv's ``5:6`` or ``5; 15; 20``) compares as normalised text even where the ground truth has no
    word; other values, or None, leave the decision to the ground truth's own form.

    >>> check_answer("9^{9^{9}}", "5")
    AnswerCheck(correct=False, undecided='answer: a power tower (an exponent with an exponent)')
    >>> check_answer("5 : 6", "5:6", answer_type="text").correct, check_answer("5/6", "5:6", answer_type="text").correct
    (True, False)
    """
    if answer is None:
        return AnswerCheck(False)
    truth_text = str(ground_truth).strip()
    if answer_type == TEXT_ANSWER or is_text_answer(truth_text):
        return AnswerCheck(_normalized_text(answer) == _normalized_text(truth_text))
    answer_value = parse_single_number(answer)
    truth_value = parse_ground_truth(truth_text)
    if answer_value is not None and truth_value is not None:
        if answer_value == truth_value or _float_truth_accepts(truth_text, truth_value, answer):
            return AnswerCheck(True)
        # "25%" against a ground truth of 25 (and the reverse): the percent sign is a unit, not a factor.
        return AnswerCheck(
            (answer_value * 100 == truth_value and "%" in answer)
            or (truth_value * 100 == answer_value and "%" in truth_text)
        )
    for name, text in (("answer", answer), ("ground truth", truth_text)):
        reason = verify_screen(text)
        if reason is not None:
            return AnswerCheck(False, f"{name}: {reason}")
    correct, undecided = verify(answer, truth_text, timeout_s)
    return AnswerCheck(correct, undecided)


_EXPONENT_NUMBER = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*(\d+)")
_FACTORIAL_NUMBER = re.compile(r"(\d+)\s*\)?\s*\}?\s*!")
_FACTORIAL_OF_EXPRESSION = re.compile(r"[)}\]]\s*!")


def verify_screen(text: str) -> str | None:
    """Why math-verify must not see ``text`` (sympy would evaluate it exactly and never return), or None.

    >>> verify_screen("10^{10^{10}}"), verify_screen("(9999999999)!+1"), verify_screen("\\\\sqrt{6561}")
    ('a power tower (an exponent with an exponent)', 'a factorial of 9999999999, over 1000', None)
    """
    if len(text) > MAX_VERIFY_CHARS:
        return f"{len(text)} characters, over {MAX_VERIFY_CHARS}"
    oversized = read_numbers(text).oversized
    if oversized:
        return f"a numeral with {oversized[0].reason}"
    if _has_power_tower(text.replace("**", "^")):
        return "a power tower (an exponent with an exponent)"
    for match in _EXPONENT_NUMBER.finditer(text):
        if int(match.group(1)) > MAX_VERIFY_EXPONENT:
            return f"an exponent of {match.group(1)}, over {MAX_VERIFY_EXPONENT}"
    for match in _FACTORIAL_NUMBER.finditer(text):
        if int(match.group(1)) > MAX_VERIFY_EXPONENT:
            return f"a factorial of {match.group(1)}, over {MAX_VERIFY_EXPONENT}"
    if _FACTORIAL_OF_EXPRESSION.search(text.replace("\\!", "")):
        return "a factorial of an expression"
    return None


def _has_power_tower(text: str) -> bool:
    """Whether an exponent contains a ``^`` (``a^{b^c}``, ``a^(b^c)``) or is followed by one (``a^b^c``)."""
    position = text.find("^")
    while position >= 0:
        index = position + 1
        while index < len(text) and text[index].isspace():
            index += 1
        if index < len(text) and text[index] in "{(":
            depth, index = 1, index + 1
            while index < len(text) and depth:
                depth += {"{": 1, "(": 1, "}": -1, ")": -1}.get(text[index], 0)
                if depth and text[index] == "^":
                    return True
                index += 1
        else:
            while index < len(text) and (text[index].isalnum() or text[index] in "."):
                index += 1
        while index < len(text) and text[index].isspace():
            index += 1
        if index < len(text) and text[index] == "^":
            return True
        position = text.find("^", index)
    return False


@lru_cache(maxsize=8192)
def parse_ground_truth(truth_text: str) -> Fraction | None:
    """``parse_single_number`` cached: every sampled response of a problem is checked against the same truth."""
    return parse_single_number(truth_text)


# ---------------------------------------------------------------------------------------------------------------
# Text ground truths and float ground truths (rules 1 and 3 of the module docstring).

_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox)\s*\{([^{}]*)\}")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_MATH_WORDS = frozenset("sin cos tan cot sec csc log ln exp sqrt pi infty inf mod gcd lcm min max deg".split())
_NOT_TEXT_CHARACTER = re.compile(r"[^\w.%/]+|(?<!\d)\.|\.(?!\d)")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_ARTICLES = ("the", "a", "an")
_FLOAT_DIGITS = 12
_FLOAT_TOLERANCE = Fraction(1, 10**12)
_MAX_DENOMINATOR = 1000


@lru_cache(maxsize=8192)
def is_text_answer(truth_text: str) -> bool:
    """Whether a ground truth is text (a word of two or more letters that is no LaTeX command or function name).

    >>> [is_text_answer(truth) for truth in ("The 60th caller.", "1 hour", "\\\\frac{5}{6}", "42")]
    [True, True, False, False]
    """
    unwrapped = _TEXT_WRAPPER.sub(r" \1 ", str(truth_text))
    return any(word.lower() not in _MATH_WORDS for word in _WORD.findall(unwrapped))


def _normalized_text(text: str) -> str:
    """Case, punctuation, ``\\text{}``, thousands commas and a leading article do not count.

    >>> _normalized_text("\\\\text{The 60th  Caller.}"), _normalized_text("1,250.5 hours")
    ('60th caller', '1250.5 hours')
    """
    text = _TEXT_WRAPPER.sub(r" \1 ", unicodedata.normalize("NFKC", text))
    text = _THOUSANDS_COMMA.sub("", text.replace("$", " "))
    words = _NOT_TEXT_CHARACTER.sub(" ", text.lower()).split()
    if words and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def _float_truth_accepts(truth_text: str, truth: Fraction, answer: str) -> bool:
    """Rule 3: an answer to a ground truth that came out of floating-point arithmetic.

    >>> _float_truth_accepts("0.8333333333333334", Fraction("0.8333333333333334"), "5/6")
    True
    >>> _float_truth_accepts("3244047.0999999996", Fraction("3244047.0999999996"), "3244047")
    False
    """
    if _significant_digits(truth_text) < _FLOAT_DIGITS:
        return False
    intended = truth.limit_denominator(_MAX_DENOMINATOR)
    if abs(intended - truth) > _FLOAT_TOLERANCE * abs(truth):
        intended = truth
    mentions = find_number_mentions(answer)
    if len(mentions) != 1:
        return False
    written = mentions[0]
    if written.value == intended:
        return True
    if written.decimals < 2:
        return False
    scale = 10**written.decimals
    rounded = Fraction(int((intended * scale + Fraction(1, 2)) // 1), scale)  # half up
    return written.value == rounded


def _significant_digits(number_text: str) -> int:
    mantissa = number_text.lstrip("+-").lower().split("e")[0]
    return len(mantissa.replace(".", "").lstrip("0"))
