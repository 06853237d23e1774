"""The results' second table, "Calibration": per method x model, the calibration of computed numbers and of final
answers (the rates and ECE of :class:`verl_ccrl.eval.rows.TableRow`, computed per seed by ``rows.seed_calibration``
through :func:`verl_ccrl.calibration.measure_calibration`), as markdown lines and CSV fields.

Per seed, the points of the row's benchmarks are pooled: ``judged`` (confidence, correct) of computed numbers and
``answer_points`` (confidence of the final answer, the response is correct; ``scoring.answer_confidence``). Rates and
ECE are computed per seed, in percent; the row shows their mean and, with 2+ seeds, the sample standard deviation.
Counts are summed over seeds.

Example::

    >>> from verl_ccrl.eval.rows import build_rows
    >>> run = {"method": "CoT-SFT", "model_name": "toy", "benchmark": "gsm8k", "metrics": {"accuracy": 50.0, "n": 2},
    ...        "judged": [[0.95, 0], [0.6, 1]]}
    >>> calibration_markdown(build_rows([run]), thresholds=(0.9,))[5]
    '| CoT-SFT / toy | 1 | 2 | 100.0 | 67.5 | 0 | – | – |'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.rows import TableRow, csv_cell, markdown_cell, rate_columns
from verl_ccrl.eval.scoring import RELIABILITY_BINS

__all__ = ["calibration_csv", "calibration_markdown"]


def _rates(row: TableRow, prefix: str, thresholds: Sequence[float]) -> list[tuple[float | None, float | None]]:
    """(mean, sd) of the row's rates at each threshold and its ECE, numbers (prefix '') or answers ('answer_')."""
    means = row.answer_overconfident_error if prefix else row.overconfident_error
    pairs = [(means.get(t), row.sd.get(f"{prefix}overconfident_error@{t:g}")) for t in thresholds]
    return pairs + [(row.answer_ece if prefix else row.ece, row.sd.get(f"{prefix}ece"))]


def calibration_markdown(
    rows: Sequence[TableRow], thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS
) -> list[str]:
    """The "Calibration" section of results.md: its table, one line per method x model, and its definitions."""
    shown = [f"{t:g}" for t in thresholds]
    header = ["Method / Model", "Seeds", "Numbers", *(f"OCE@{t}" for t in shown), "ECE", "Answers"]
    header += [*(f"Answer OCE@{t}" for t in shown), "Answer ECE"]
    lines = ["", "## Calibration", "", "| " + " | ".join(header) + " |"]
    lines.append("|---|" + "|".join(["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        cells = [row.label, str(row.n_seeds), str(row.n_judged)]
        cells += [markdown_cell(mean, sd) for mean, sd in _rates(row, "", thresholds)]
        cells.append(str(row.n_answer_judged))
        cells += [markdown_cell(mean, sd) for mean, sd in _rates(row, "answer_", thresholds)]
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


def calibration_csv(row: TableRow | None, thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS) -> list[Any]:
    """The calibration table's CSV fields not already in the first table's columns: the header for ``None``."""
    answer_columns = [c for c in rate_columns(thresholds) if c.startswith("answer_")]
    if row is None:
        return [*answer_columns, "n_answer_judged", "n_answer_wrong"]
    means = [mean for mean, _ in _rates(row, "answer_", thresholds)]
    return [*(csv_cell(mean) for mean in means), row.n_answer_judged, row.n_answer_wrong]
