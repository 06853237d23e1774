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

A value whose numerator or denominator is over ``_EXACT_BITS`` (about 420 digits) is shown by ``approximate`` in
``"short"`` and ``"both"`` (``str()`` of an int over 4,300 digits raises, ``float()`` over 1.8e308 does): nobody
reads 400 digits, and the reader's bounds (``bounds.py``) keep judged values below that size anyway.

    >>> format_number(Fraction(3 * 10**10005), "both"), format_number(Fraction(10**400, 3), "short")
    ('3e+10005', '3.33333e+399')

Not handled: ``"short"`` and ``"both"`` round; only ``"exact"`` is meant to be parsed back.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["STYLES", "approximate", "format_number"]

STYLES = ("exact", "short", "both")


def format_number(value: Fraction | int, style: str = "exact") -> str:
    """``value`` as text in ``style`` (see the module docstring)."""
    if style not in STYLES:
        raise ValueError(f"format_number: style={style!r} is not one of {list(STYLES)}; pick one of those.")
    value = Fraction(value)
    if style != "exact" and max(value.numerator.bit_length(), value.denominator.bit_length()) > _EXACT_BITS:
        return approximate(value)
    if value.denominator == 1:
        return str(value.numerator)
    ratio = f"{value.numerator}/{value.denominator}"
    if style == "both":
        return f"{ratio} ({approximate(value)})"
    if style == "short":
        return ratio if abs(value) < Fraction(1, 10**4) else approximate(value)
    return _exact_decimal(value) or ratio


_EXACT_BITS = 1400  # about 420 digits


def approximate(value: Fraction, significant: int = 6) -> str:
    """``value`` to ``significant`` digits, as ``%g`` prints a float, at any size: ``float()`` of an exact value
    over 1.8e308 raises, and ``str()`` of an int over 4,300 digits raises.

    >>> approximate(Fraction(10**400, 3)), approximate(Fraction(-7, 2)), approximate(Fraction(3 * 10**10005))
    ('3.33333e+399', '-3.5', '3e+10005')
    """
    try:
        return f"{float(value):.{significant}g}"
    except OverflowError:
        pass
    # log10 of an int is exact enough at any size; the mantissa keeps ~12 good digits even at exponent 10**6.
    magnitude = math.log10(abs(value.numerator)) - math.log10(value.denominator)
    exponent = math.floor(magnitude)
    mantissa = f"{10 ** (magnitude - exponent):.{significant}g}"
    if mantissa.startswith("10"):  # 9.9999996 rounds up to the next power of ten
        mantissa, exponent = "1", exponent + 1
    return f"{'-' if value < 0 else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


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
