"""The results' second table, "Calibration": per method x model, the calibration of computed numbers and of final
answers, each measured by :func:`verl_ccrl.calibration.measure_calibration` (through ``scoring.calibration_summary``).

Per seed, the points of the row's benchmarks are pooled: ``judged`` (confidence, correct) of computed numbers and
``answer_points`` (confidence of the final answer, the response is correct; ``scoring.answer_confidence``). Rates and
ECE are computed per seed, in percent; the row shows their mean and, with 2+ seeds, the sample standard deviation.
Counts are summed over seeds.

Example::

    >>> rates, counts = seed_calibration([(0.95, False), (0.6, False), (0.8, True)], [(0.99, True)])
    >>> rates["overconfident_error@0.9"], rates["answer_overconfident_error@0.9"], counts["n_answer_judged"]
    (50.0, None, 1)
    >>> format_cell(45.0, 3.14), format_cell(45.0), format_cell(None)
    ('45.0 ± 3.1', '45.0', '–')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.scoring import RELIABILITY_BINS, calibration_summary

if TYPE_CHECKING:
    from verl_ccrl.eval.table import TableRow

__all__ = [
    "CALIBRATION_RATE_COLUMNS",
    "calibration_csv",
    "calibration_markdown",
    "format_cell",
    "format_number",
    "seed_calibration",
]

# CSV names of the per-seed rates (%); the CSV adds n_judged, n_wrong, n_answer_judged, n_answer_wrong.
CALIBRATION_RATE_COLUMNS = (
    *(f"overconfident_error@{t:g}" for t in OVERCONFIDENCE_THRESHOLDS),
    "ece",
    *(f"answer_overconfident_error@{t:g}" for t in OVERCONFIDENCE_THRESHOLDS),
    "answer_ece",
)
COUNT_COLUMNS = ("n_judged", "n_wrong", "n_answer_judged", "n_answer_wrong")


def _percent(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else 100.0 * float(value)


def format_cell(value: float | None, sd: float | None = None, digits: int = 1) -> str:
    """A markdown cell: ``45.0``, ``45.0 ± 3.1`` with a standard deviation over seeds, ``–`` when undefined."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if sd is None else f"{value:.{digits}f} ± {sd:.{digits}f}"


def format_number(value: float | None, digits: int = 4) -> str:
    """A CSV cell: empty when undefined."""
    return "" if value is None else f"{value:.{digits}f}"


def seed_calibration(
    number_points: Sequence[tuple[float, bool]], answer_points: Sequence[tuple[float, bool]]
) -> tuple[dict[str, float | None], dict[str, int]]:
    """One seed's rates and ECE in % (None where undefined), keyed as ``CALIBRATION_RATE_COLUMNS``, and its counts."""
    rates: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for prefix, points in (("", number_points), ("answer_", answer_points)):
        summary = calibration_summary(points)
        for t in OVERCONFIDENCE_THRESHOLDS:
            rates[f"{prefix}overconfident_error@{t:g}"] = _percent(summary[f"overconfident_error_rate@{t:g}"])
        rates[f"{prefix}ece"] = _percent(summary["ece"])
        counts[f"n_{prefix}judged"], counts[f"n_{prefix}wrong"] = summary["n_judged"], summary["n_wrong"]
    return rates, counts


def _rates(row: TableRow, prefix: str) -> list[tuple[float | None, float | None]]:
    """(mean, sd) of the row's rates at each threshold and its ECE, numbers (prefix '') or answers ('answer_')."""
    means = row.answer_overconfident_error if prefix else row.overconfident_error
    pairs = [(means.get(t), row.sd.get(f"{prefix}overconfident_error@{t:g}")) for t in OVERCONFIDENCE_THRESHOLDS]
    return pairs + [(row.answer_ece if prefix else row.ece, row.sd.get(f"{prefix}ece"))]


def calibration_markdown(rows: Sequence[TableRow]) -> list[str]:
    """The "Calibration" section of results.md: its table, one line per method x model, and its definitions."""
    thresholds = [f"{t:g}" for t in OVERCONFIDENCE_THRESHOLDS]
    header = ["Method / Model", "Seeds", "Numbers", *(f"OCE@{t}" for t in thresholds), "ECE", "Answers"]
    header += [*(f"Answer OCE@{t}" for t in thresholds), "Answer ECE"]
    lines = ["", "## Calibration", "", "| " + " | ".join(header) + " |"]
    lines.append("|---|" + "|".join(["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        cells = [row.label, str(row.n_seeds), str(row.n_judged)]
        cells += [format_cell(mean, sd) for mean, sd in _rates(row, "")]
        cells.append(str(row.n_answer_judged))
        cells += [format_cell(mean, sd) for mean, sd in _rates(row, "answer_")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rates and ECE in %. Seeds: training seeds of the row's runs (a run without --seed counts as one). "
        "Numbers: computed numbers with a verdict (correct / wrong) and a confidence c = exp(-mean token entropy), "
        "pooled over the row's benchmarks and summed over its seeds. "
        f"OCE@t: overconfident-error rate, the share of the wrong ones with c > t. ECE: expected calibration error, "
        f"over {RELIABILITY_BINS} equal-width confidence bins the sum of (share of the points in the bin) x "
        "|share correct - mean confidence|. Answers: responses whose final answer has a confidence, that of the last "
        "number in the response equal to the extracted answer (none when that number is given by the problem, or "
        "the answer is not a number), summed over seeds. Answer OCE@t / Answer ECE: the same with (answer "
        "confidence, response correct) as the points. Rates and ECE are computed per seed, pooled over the row's "
        "benchmarks; with 2+ seeds a cell is the mean ± the sample standard deviation (n-1) over the seeds where it "
        "is defined (a seed with no wrong point has no rate); –: defined for no seed.",
    ]
    return lines


def calibration_csv(row: TableRow | None) -> list[Any]:
    """The calibration table's CSV fields not already in the first table's columns: the header for ``None``."""
    answer_columns = [c for c in CALIBRATION_RATE_COLUMNS if c.startswith("answer_")]
    if row is None:
        return [*answer_columns, "n_answer_judged", "n_answer_wrong"]
    means = [mean for mean, _ in _rates(row, "answer_")]
    return [*(format_number(mean) for mean in means), row.n_answer_judged, row.n_answer_wrong]
