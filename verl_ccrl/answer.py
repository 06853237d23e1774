"""The final answer of a response and whether it is right (the outcome part of the reward).

Pure Python, no verl import. A fast exact path handles plain numbers with ``Fraction`` (about 10 µs); anything
else (``\\frac{a}{b}`` against a decimal, expressions, sets) goes to math-verify with its signal-based timeouts
switched off, because verl's reward loop calls scorers from executor threads where ``signal.alarm`` raises.

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
   ``12.124999999999998``). Not accepted: other roundings ("0.8", "3244047" for 3244047.1), truncations ("0.84"
   is no rounding of 5/6, nor "0.82").
4. Anything else (expressions, sets, LaTeX) goes to math-verify.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.number_mentions import find_number_mentions, parse_single_number

__all__ = ["extract_final_answer", "is_answer_correct", "is_text_answer"]

_HASH_ANSWER = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?i)(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*[:=]|answer\s*[:=])\s*[:=]?\s*([^\n]*?)(?:\.\s|\.?\s*$|\n)"
)
_BOXED = "\\boxed{"
_MAX_VERIFY_CHARS = 200


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
    stated = [answer for answer in _ANSWER_IS.findall(response) if answer.strip()]
    if stated:
        return stated[-1].strip().rstrip(".")
    if fallback_last_number:
        mentions = find_number_mentions(response)
        if mentions:
            return mentions[-1].text
    return None


def is_answer_correct(answer: str | None, ground_truth: str | int | float) -> bool:
    """Whether ``answer`` equals ``ground_truth``: exactly for plain numbers, else by math-verify.

    >>> is_answer_correct("\\\\frac{3}{4}", "0.75")
    True
    """
    if answer is None:
        return False
    truth_text = str(ground_truth).strip()
    if is_text_answer(truth_text):
        return _normalized_text(answer) == _normalized_text(truth_text)
    answer_value = parse_single_number(answer)
    truth_value = parse_ground_truth(truth_text)
    if answer_value is not None and truth_value is not None:
        if answer_value == truth_value or _float_truth_accepts(truth_text, truth_value, answer):
            return True
        # "25%" against a ground truth of 25 (and the reverse): the percent sign is a unit, not a factor.
        return (answer_value * 100 == truth_value and "%" in answer) or (
            truth_value * 100 == answer_value and "%" in truth_text
        )
    if len(answer) > _MAX_VERIFY_CHARS or len(truth_text) > _MAX_VERIFY_CHARS:
        return False  # math-verify runs without its signal timeout here; bound its input instead
    return _math_verify(answer, truth_text)


@lru_cache(maxsize=8192)
def parse_ground_truth(truth_text: str) -> Fraction | None:
    """``parse_single_number`` cached: every sampled response of a problem is checked against the same truth."""
    return parse_single_number(truth_text)


def _math_verify(answer: str, truth: str) -> bool:
    from math_verify import parse, verify

    try:
        gold = parse(f"${truth}$" if "$" not in truth else truth, parsing_timeout=None)
        predicted = parse(f"${answer}$" if "$" not in answer else answer, parsing_timeout=None)
        if not gold or not predicted:
            return False
        return bool(verify(gold, predicted, timeout_seconds=None))
    except Exception:  # math-verify raises on malformed LaTeX; malformed means not correct
        return False


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
