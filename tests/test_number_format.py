from fractions import Fraction

import pytest

from verl_ccrl.number_format import format_number


@pytest.mark.parametrize(
    ("value", "exact", "short", "both"),
    [
        (Fraction(72), "72", "72", "72"),
        (Fraction(-4), "-4", "-4", "-4"),
        (Fraction(145, 2), "72.5", "72.5", "145/2 (72.5)"),
        (Fraction(-1, 8), "-0.125", "-0.125", "-1/8 (-0.125)"),
        (Fraction(1, 3), "1/3", "0.333333", "1/3 (0.333333)"),
        (Fraction(1, 30000), "1/30000", "1/30000", "1/30000 (3.33333e-05)"),
        (Fraction(3, 1000000), "0.000003", "3/1000000", "3/1000000 (3e-06)"),
        (Fraction(123456789, 100), "1234567.89", "1.23457e+06", "123456789/100 (1.23457e+06)"),
    ],
)
def test_each_style_writes_the_value_as_its_reader_needs(value, exact, short, both):
    assert (format_number(value, "exact"), format_number(value, "short"), format_number(value, "both")) == (
        exact,
        short,
        both,
    )


@pytest.mark.parametrize("value", [Fraction(145, 2), Fraction(-1, 8), Fraction(1, 3), Fraction(3, 1000000)])
def test_the_exact_style_parses_back_to_the_same_value(value):
    assert Fraction(format_number(value, "exact")) == value


def test_an_unknown_style_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'exact', 'short', 'both'"):
        format_number(Fraction(1, 2), "pretty")
