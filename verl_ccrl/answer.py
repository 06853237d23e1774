"""The final answer of a response and whether it is right (the outcome part of the reward).

Pure Python, no verl import. A fast exact path handles plain numbers with ``Fraction`` (about 10 µs); anything
else (``\\frac{a}{b}`` against a decimal, expressions, sets) goes to math-verify with its signal-based timeouts
switched off, because verl's reward loop calls scorers from executor threads where ``signal.alarm`` raises.

Example::

    >>> extract_final_answer("... so she pays 18.5 dollars.\\n#### 18.50")
    '18.50'
    >>> is_answer_correct("18.50", "18.5"), is_answer_correct("$1,000", "1000"), is_answer_correct("72", "71")
    (True, True, False)
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from verl_ccrl.number_mentions import find_number_mentions, parse_single_number

__all__ = ["extract_final_answer", "is_answer_correct"]

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
    answer_value = parse_single_number(answer)
    truth_value = parse_ground_truth(truth_text)
    if answer_value is not None and truth_value is not None:
        if answer_value == truth_value:
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
