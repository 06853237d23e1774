"""Hypothesis strategies for fuzzing the reward as an attacker would (issue 13).

Used by ``tests/test_fuzz.py`` (a fixed-seed CI run) and ``benchmarks/fuzz_long.py`` (the long run). Inputs mix
free text with number soups in many notations (separators, signs, fractions, LaTeX, percent, money, scientific
notation with huge exponents, Unicode digits, long digit runs), statement chains, and the pathological forms
of issue 13 (power towers, factorials, deep brackets, unary and ``^`` chains, list markers, regex traps).
"""

from __future__ import annotations

import math
import re

from hypothesis import strategies as st

from verl_ccrl.alignment import token_char_spans

__all__ = [
    "entropies_for",
    "ground_truths",
    "numerals",
    "problems",
    "references",
    "responses",
    "score_inputs",
    "small_ints",
    "statements",
]

_UNICODE_DIGITS = ["\u0660", "\u06f0", "\u0966", "\uff10", "\u09e6", "\u0e50"]  # Arabic-Indic ... Thai zero


def _unicode_digits(text: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text)


small_ints = st.integers(min_value=0, max_value=10**6)
digit_runs = st.integers(min_value=1, max_value=6000).map(lambda n: "7" * n)
huge_exponents = st.sampled_from(["1e9999999", "2.5E+99999999", "3e-9999999", "1e400", "3e10005", "9e101", "1e100"])


@st.composite
def _plain(draw) -> str:
    value = draw(small_ints)
    form = draw(st.sampled_from(["int", "comma", "decimal", "neg", "unicode_minus", "percent", "money", "sci"]))
    if form == "comma":
        return f"{value:,}"
    if form == "decimal":
        return f"{value}.{draw(st.integers(0, 999)):03d}"[: draw(st.integers(1, 12))] or "0"
    if form == "neg":
        return f"-{value}"
    if form == "unicode_minus":
        return f"\u2212{value}"
    if form == "percent":
        return draw(st.sampled_from([f"{value}%", f"{value}\\%", f"{value} percent"]))
    if form == "money":
        return draw(st.sampled_from([f"${value}", f"\\${value}.50", f"{value} €"]))
    if form == "sci":
        return f"{value}e{draw(st.integers(-400, 400))}"
    return str(value)


@st.composite
def _fraction(draw) -> str:
    a, b = draw(st.integers(0, 999)), draw(st.integers(0, 99))
    return draw(st.sampled_from([f"{a}/{b}", f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}", f"{a} {b}/{a + b}"]))


numerals = st.one_of(
    _plain(),
    _fraction(),
    huge_exponents,
    digit_runs,
    st.tuples(_plain(), st.sampled_from(_UNICODE_DIGITS)).map(lambda t: _unicode_digits(*t)),
    st.sampled_from(["3/4/2024", "2024-03-04", "1,000,000", ".5", "12kg", "5x", "x2", "H2O", "0.000001", "1e٩٩٩٩٩٩٩"]),
)

_OPERATORS = [" + ", " - ", " * ", " / ", " × ", " \\times ", " ÷ ", "^", " ** ", " x ", " of ", "·", " − "]
_EQUALS = [" = ", " ≈ ", " \\approx ", "="]


@st.composite
def statements(draw) -> str:
    """A statement chain: ``a op b = c op d = e``, sometimes bracketed, sometimes GSM8K-style."""
    parts = [draw(numerals)]
    for _ in range(draw(st.integers(1, 5))):
        parts.append(draw(st.sampled_from(_OPERATORS + _EQUALS)))
        parts.append(draw(numerals))
    text = "".join(parts)
    if draw(st.booleans()):
        text = f"({text})"
    return draw(
        st.sampled_from([text, f"<<{text}>>", f"- {text}", f"\u2212 {text}", f"* {text} eggs", f"\\[{text}\\]"])
    )


_PATHOLOGICAL = st.one_of(
    st.integers(1, 1500).map(lambda n: "1. 5\n" * n),
    st.integers(1, 1500).map(lambda n: "Step 1: 2\n" * n),
    st.integers(1, 5000).map(lambda n: "1" + ",000" * n + ",00"),
    st.integers(1, 20000).map(lambda n: "step" + " " * n),
    st.integers(1, 20000).map(lambda n: "The answer is 5" + " " * n + "x"),
    st.integers(1, 20000).map(lambda n: "answer: " + " " * n),
    st.integers(1, 3000).map(lambda n: "(" * n + "2 * 3" + ")" * n + " = 6"),
    st.integers(1, 3000).map(lambda n: "(" + "- " * n + "3) = 3"),
    st.integers(1, 2000).map(lambda n: "2^" * n + "2 = 4"),
    st.integers(1, 2000).map(lambda n: "-1 " * n),
    st.integers(1, 500).map(lambda n: "hundred " * n),
    st.sampled_from(
        [
            "\\boxed{10^{10^{10}}}",
            "\\boxed{9^{9^{9}}}",
            "\\boxed{(9999999999)!+1}",
            "\\boxed{2^{99999999999}}",
            "\\boxed{\\sqrt{6561}}",
            "\\boxed{4!}",
            "#### 10**10**10",
            "The answer is 9^9^9.",
            "\\boxed{",
            "}}}{{{",
            "- 12 * 3 = 36 eggs",
            "\u2212 12 * 3 = 36",
            "1e400/3=5",
            "1e5000+1=2",
            "2 * 3 = 1e9999999",
            "\\boxed{\\frac{1}{0}}",
            "\\boxed{x^{2}+1}",
            "\\boxed{\\{1,2\\}}",
            "#### \\infty",
            "0/0 = 0",
        ]
    ),  # fmt: skip
)

_WORDS = ["apples", "the", "answer", "is", "so", "then", "Step", "Part", "and", "of", "twice", "half", "dozen",
          "twenty-five", "three", "\n", "\n\n", ". ", ", ", ": ", "$", "\\", "{", "}", "(", ")", "日本", "é", "\t"]  # fmt: skip

_piece = st.one_of(numerals, statements(), st.sampled_from(_WORDS), st.text(max_size=12))


@st.composite
def responses(draw) -> str:
    """A response: free text, a soup of numbers and statements, optionally a pathological block and an answer."""
    kind = draw(st.sampled_from(["soup", "soup", "free", "pathological"]))
    if kind == "free":
        text = draw(st.text(max_size=300))
    else:
        text = " ".join(draw(st.lists(_piece, max_size=25)))
    if kind == "pathological":
        block = draw(_PATHOLOGICAL)
        text = draw(st.sampled_from([block, text + " " + block, block + "\n" + text]))
    ending = draw(st.sampled_from(["", "\n#### {}", " The answer is {}.", " \\boxed{{{}}}", "\nAnswer: {}"]))
    if ending:
        text += ending.format(draw(st.one_of(numerals, st.sampled_from(["\\sqrt{6561}", "4!", "x^2", "{1,2}"]))))
    return text


problems = st.one_of(
    st.lists(st.one_of(numerals, st.sampled_from(_WORDS)), max_size=30).map(" ".join),
    st.text(max_size=200),
    st.sampled_from(["A crate holds 1e9999999 apples.", "hundred " * 300, "Tom has " + "9" * 5000 + " pens."]),
)
references = st.one_of(st.none(), st.text(max_size=100), responses())
ground_truths = st.one_of(
    numerals,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["\\frac{3}{4}", "\\sqrt{2}", "81", "24", "10^{10^{10}}", "1e9999999", "", "  ", "{1, 2}"]),
    st.text(max_size=30),
)


def _tokens(response: str) -> list:
    pieces = [m.group().encode() for m in re.finditer(r"\d|\w+|\s+|[^\w\s]", response)]
    return token_char_spans(pieces, response)


entropy_values = st.one_of(
    st.floats(min_value=0, max_value=12),
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.floats(min_value=-5, max_value=0),
    st.just(1e308),
)


@st.composite
def entropies_for(draw, count: int):
    """Entropies for ``count`` tokens: usually the right length, sometimes not, sometimes absent."""
    kind = draw(st.sampled_from(["fit", "fit", "fit", "none", "short", "long"]))
    if kind == "none":
        return None
    length = {"fit": count, "short": max(0, count - 1), "long": count + 1}[kind]
    fill = draw(entropy_values)
    values = [fill] * length
    for index in draw(st.lists(st.integers(0, max(0, length - 1)), max_size=8)) if length else []:
        values[index] = draw(entropy_values)
    return values


@st.composite
def score_inputs(draw) -> dict:
    """Keyword arguments for ``score_response``: problem, response, ground truth, reference, spans, entropies."""
    response = draw(responses())
    spans_kind = draw(st.sampled_from(["tokens", "tokens", "tokens", "none", "empty", "unaligned_tail"]))
    spans = None
    if spans_kind == "tokens":
        spans = _tokens(response)
    elif spans_kind == "empty":
        spans = []
    elif spans_kind == "unaligned_tail":
        spans = _tokens(response)
        spans = spans[: len(spans) // 2] + [None] * (len(spans) - len(spans) // 2)
    return {
        "problem": draw(problems),
        "response": response,
        "ground_truth": draw(ground_truths),
        "reference": draw(references),
        "token_spans": spans,
        "entropies": draw(entropies_for(len(spans) if spans is not None else draw(st.integers(0, 5)))),
    }
