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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.bounds import ANSWER_CHECK_TIMEOUT_S, MAX_VERIFY_CHARS, MAX_VERIFY_EXPONENT
from verl_ccrl.number_mentions import find_number_mentions, parse_single_number, read_numbers
from verl_ccrl.verify_worker import verify

__all__ = ["AnswerCheck", "check_answer", "extract_final_answer", "is_answer_correct", "verify_screen"]

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


def is_answer_correct(answer: str | None, ground_truth: str | int | float) -> bool:
    """Whether ``answer`` equals ``ground_truth``: exactly for plain numbers, else by math-verify.

    >>> is_answer_correct("\\\\frac{3}{4}", "0.75")
    True
    """
    return check_answer(answer, ground_truth).correct


def check_answer(
    answer: str | None, ground_truth: str | int | float, *, timeout_s: float = ANSWER_CHECK_TIMEOUT_S
) -> AnswerCheck:
    """:func:`is_answer_correct` with the reason when the bounds left it undecided; math-verify gets at most
    ``timeout_s`` seconds.

    >>> check_answer("9^{9^{9}}", "5")
    AnswerCheck(correct=False, undecided='answer: a power tower (an exponent with an exponent)')
    """
    if answer is None:
        return AnswerCheck(False)
    truth_text = str(ground_truth).strip()
    answer_value = parse_single_number(answer)
    truth_value = parse_ground_truth(truth_text)
    if answer_value is not None and truth_value is not None:
        if answer_value == truth_value:
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
