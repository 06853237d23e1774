"""Exact values (``Fraction``) as text: the one formatter of the CLI table, verdict reasons and data preparation.

Pure Python. Three styles, one per reader:

- ``"exact"``: the shortest exact string, an integer, a terminating decimal, else ``p/q``; for data (RL parquet
  reference values), where the text must parse back to the same value.
- ``"short"``: for a sentence (a verdict's reason): an integer, else 6 significant digits, or ``p/q`` for a
  magnitude below 1e-4 (where 6 digits would need an exponent).
- ``"both"``: for a table of values: an integer, else ``p/q (6 significant digits)``.

Example::

    >>> [format_number(Fraction(37, 2), style) for style in ("exact", "short", "both")]
    ['18.5', '18.5', '37/2 (18.5)']
    >>> [format_number(Fraction(10, 3), style) for style in ("exact", "short", "both")]
    ['10/3', '3.33333', '10/3 (3.33333)']
    >>> format_number(-4), format_number(Fraction(-1, 8)), format_number(Fraction(1, 30000), "short")
    ('-4', '-0.125', '1/30000')

Not handled: ``"short"`` and ``"both"`` round; only ``"exact"`` is meant to be parsed back.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["STYLES", "format_number"]

STYLES = ("exact", "short", "both")


def format_number(value: Fraction | int, style: str = "exact") -> str:
    """``value`` as text in ``style`` (see the module docstring)."""
    if style not in STYLES:
        raise ValueError(f"format_number: style={style!r} is not one of {list(STYLES)}; pick one of those.")
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    ratio = f"{value.numerator}/{value.denominator}"
    if style == "both":
        return f"{ratio} ({float(value):.6g})"
    if style == "short":
        return ratio if abs(float(value)) < 1e-4 else f"{float(value):.6g}"
    return _exact_decimal(value) or ratio


def _exact_decimal(value: Fraction) -> str | None:
    """The terminating decimal of ``value``, or None when its denominator has a prime factor other than 2 and 5."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return None
    digits = max(twos, fives)
    text = f"{abs(value.numerator) * 10**digits // value.denominator:0{digits + 1}d}"
    sign = "-" if value < 0 else ""
    return f"{sign}{text[:-digits]}.{text[-digits:]}"
