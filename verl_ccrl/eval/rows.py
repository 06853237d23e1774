"""The rows of the results table: one per method x model, built from run JSONs, and how a value prints in a cell.

Runs are the JSONs of ``verl_ccrl.eval.results``, one per method x model x benchmark (x training seed, ``--seed``).
A row holds each benchmark's accuracy (%), then:

- ``id_avg`` / ``ood_avg``: unweighted mean of the row's accuracies on the ID / OOD benchmarks (the paper's macro
  average). When a row lacks a benchmark of the set that another row has, its average is over what it has (the
  benchmarks averaged are in ``id_avg_over`` / ``ood_avg_over``; the markdown marks the cell ``*``).
- ``mean_tokens``: mean response tokens over all of the row's responses (weighted by benchmark size).
- ``overconfident_error[t]`` / ``ece``: the overconfident-error rate at each threshold t and the ECE (%) of the
  computed numbers pooled over the row's benchmarks; ``answer_*`` the same for final answers (``seed_calibration``).

Seeds: the runs of a row with different seeds are grouped by seed; every value above is computed per seed as
described, and the row holds the mean over seeds and the sample standard deviation (n-1; None for one seed) in
``accuracy_sd`` / ``sd``. A rate undefined for a seed (no wrong number) is left out of its mean. Counts (``n``,
``n_judged``...) and the reliability bins pool all seeds. With one seed (or none) a row is what it was before seeds
existed.

Example::

    >>> run = lambda benchmark, accuracy: {"method": "CoMT+CCRL", "model_name": "Qwen2.5-1.5B", "benchmark": benchmark,
    ...     "created_at": "2025-01-01T00:00:00", "metrics": {"accuracy": accuracy, "n": 10, "mean_response_tokens": 50.0},
    ...     "judged": [[0.95, 0], [0.3, 0]]}
    >>> [row] = build_rows([run("gsm8k", 70.0), run("svamp", 80.0), run("asdiv", 60.0)])
    >>> row.id_avg, row.ood_avg, row.overconfident_error[0.9]
    (75.0, 60.0, 50.0)
    >>> rates, counts = seed_calibration([(0.95, False), (0.6, False), (0.8, True)], [(0.99, True)])
    >>> rates["overconfident_error@0.9"], rates["answer_overconfident_error@0.9"], counts["n_answer_judged"]
    (50.0, None, 1)
    >>> markdown_cell(45.0, 3.14), markdown_cell(45.0), markdown_cell(None), csv_cell(None), csv_cell(2 / 3)
    ('45.0 ± 3.1', '45.0', '–', '', '0.6667')
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS
from verl_ccrl.eval.scoring import calibration_summary, reliability_bins

logger = logging.getLogger(__name__)

__all__ = [
    "TableRow",
    "build_rows",
    "csv_cell",
    "markdown_cell",
    "rate_columns",
    "seed_calibration",
    "seed_list",
    "table_benchmarks",
]


def rate_columns(thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS) -> tuple[str, ...]:
    """CSV names of the per-seed rates (%) of computed numbers and of final answers, in this order."""
    return (
        *(f"overconfident_error@{t:g}" for t in thresholds),
        "ece",
        *(f"answer_overconfident_error@{t:g}" for t in thresholds),
        "answer_ece",
    )


def markdown_cell(value: float | None, sd: float | None = None, digits: int = 1) -> str:
    """A markdown cell: ``45.0``, ``45.0 ± 3.1`` with a standard deviation over seeds, ``–`` when undefined."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if sd is None else f"{value:.{digits}f} ± {sd:.{digits}f}"


def csv_cell(value: float | None, digits: int = 4) -> str:
    """A CSV cell: empty when undefined."""
    return "" if value is None else f"{value:.{digits}f}"


def _percent(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else 100.0 * float(value)


def seed_calibration(
    number_points: Sequence[tuple[float, bool]],
    answer_points: Sequence[tuple[float, bool]],
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
) -> tuple[dict[str, float | None], dict[str, int]]:
    """One seed's rates and ECE in % (None where undefined), keyed as ``rate_columns``, and its counts."""
    rates: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for prefix, points in (("", number_points), ("answer_", answer_points)):
        summary = calibration_summary(points, thresholds)
        for t in thresholds:
            rates[f"{prefix}overconfident_error@{t:g}"] = _percent(summary[f"overconfident_error_rate@{t:g}"])
        rates[f"{prefix}ece"] = _percent(summary["ece"])
        counts[f"n_{prefix}judged"], counts[f"n_{prefix}wrong"] = summary["n_judged"], summary["n_wrong"]
    return rates, counts


@dataclass
class TableRow:
    """One method x model of the results table; accuracies and rates in percent, means over seeds.

    ``accuracy_sd`` (per benchmark) and ``sd`` (per other CSV column: ``id_avg``, ``mean_tokens``,
    ``overconfident_error@0.9``, ``answer_ece``...) hold the sample standard deviation over seeds, None with one.
    """

    method: str
    model_name: str
    accuracy: dict[str, float] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)  # responses, summed over seeds
    id_avg: float | None = None
    ood_avg: float | None = None
    id_avg_over: tuple[str, ...] = ()  # the benchmarks of the set that every seed's average covers
    ood_avg_over: tuple[str, ...] = ()
    mean_tokens: float | None = None
    overconfident_error: dict[float, float | None] = field(default_factory=dict)
    ece: float | None = None
    n_judged: int = 0  # pooled over benchmarks and seeds, as the counts below
    n_wrong: int = 0
    reliability: list[dict[str, Any]] = field(default_factory=list)  # all seeds' points pooled
    answer_overconfident_error: dict[float, float | None] = field(default_factory=dict)
    answer_ece: float | None = None
    n_answer_judged: int = 0
    n_answer_wrong: int = 0
    seeds: tuple[int | None, ...] = ()  # None: runs without a seed
    accuracy_sd: dict[str, float | None] = field(default_factory=dict)
    sd: dict[str, float | None] = field(default_factory=dict)
    # column -> seed -> that seed's value as the table shows it (in %): benchmarks by name, the CSV's other columns,
    # and number_accuracy (% of judged computed numbers that are right).
    per_seed: dict[str, dict[Any, float | None]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} / {self.model_name}"

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mean_and_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean of the defined values and their sample standard deviation (n-1), None for fewer than two."""
    defined = [value for value in values if value is not None]
    return _mean(defined), statistics.stdev(defined) if len(defined) >= 2 else None


def _points(runs: Sequence[dict[str, Any]], key: str) -> list[tuple[float, bool]]:
    return [(float(confidence), bool(correct)) for run in runs for confidence, correct in run.get(key) or []]


@dataclass
class _Seed:
    """One seed's share of a row: benchmark accuracies and sizes, other columns (CSV names), calibration counts."""

    accuracy: dict[str, float]
    n: dict[str, int]
    columns: dict[str, float | None]
    counts: dict[str, int]


def _seed(
    runs: Sequence[dict[str, Any]],
    id_benchmarks: Sequence[str],
    ood_benchmarks: Sequence[str],
    thresholds: Sequence[float],
) -> _Seed:
    accuracy: dict[str, float] = {}
    n: dict[str, int] = {}
    token_sum = token_count = 0.0
    for run in runs:
        metrics, benchmark = run["metrics"], run["benchmark"]
        if metrics.get("accuracy") is not None:
            accuracy[benchmark] = float(metrics["accuracy"])
        n[benchmark] = int(metrics.get("n") or 0)
        if metrics.get("mean_response_tokens") is not None and n[benchmark]:
            token_sum += float(metrics["mean_response_tokens"]) * n[benchmark]
            token_count += n[benchmark]
    columns: dict[str, float | None] = {
        "id_avg": _mean([accuracy[b] for b in id_benchmarks if b in accuracy]),
        "ood_avg": _mean([accuracy[b] for b in ood_benchmarks if b in accuracy]),
        "mean_tokens": token_sum / token_count if token_count else None,
    }
    rates, counts = seed_calibration(_points(runs, "judged"), _points(runs, "answer_points"), thresholds)
    return _Seed(accuracy, n, {**columns, **rates}, counts)


def _number_accuracy(counts: dict[str, int]) -> dict[str, float | None]:
    """The share (%) of a seed's judged computed numbers that are right."""
    judged = counts.get("n_judged", 0)
    return {"number_accuracy": 100.0 * (1 - counts.get("n_wrong", 0) / judged) if judged else None}


def _summed(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for seed_counts in counts:
        for name, count in seed_counts.items():
            total[name] = total.get(name, 0) + count
    return total


def build_rows(
    runs: Sequence[dict[str, Any]],
    id_benchmarks: Sequence[str] = DEFAULT_ID_BENCHMARKS,
    ood_benchmarks: Sequence[str] = DEFAULT_OOD_BENCHMARKS,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
) -> list[TableRow]:
    """Rows of the table from run dicts (see the module docstring for every value's definition); the rates at
    ``thresholds`` (``--thresholds``: those of the training run, ``ccrl.overconfidence_thresholds``)."""
    grouped: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}
    for run in runs:
        grouped.setdefault((run["model_name"], run["method"]), {}).setdefault(run.get("seed"), []).append(run)
    rows = []
    for (model_name, method), by_seed in sorted(grouped.items()):
        seeds = sorted(by_seed, key=lambda seed: (seed is not None, seed))
        per_seed = [_seed(by_seed[seed], id_benchmarks, ood_benchmarks, thresholds) for seed in seeds]
        row = TableRow(method=method, model_name=model_name, seeds=tuple(seeds), n=_summed([s.n for s in per_seed]))
        for benchmark in dict.fromkeys(b for s in per_seed for b in s.accuracy):
            mean, row.accuracy_sd[benchmark] = _mean_and_sd([s.accuracy.get(benchmark) for s in per_seed])
            row.accuracy[benchmark] = mean
        means: dict[str, float | None] = {}
        for column in per_seed[0].columns:
            means[column], row.sd[column] = _mean_and_sd([s.columns[column] for s in per_seed])
        covered = [set(s.accuracy) for s in per_seed]
        if any(benchmarks != covered[0] for benchmarks in covered):
            logger.warning("%s: its seeds %s cover different benchmarks %s", row.label, list(seeds), covered)
        row.id_avg_over = tuple(b for b in id_benchmarks if all(b in benchmarks for benchmarks in covered))
        row.ood_avg_over = tuple(b for b in ood_benchmarks if all(b in benchmarks for benchmarks in covered))
        row.id_avg, row.ood_avg, row.mean_tokens = means["id_avg"], means["ood_avg"], means["mean_tokens"]
        row.overconfident_error = {t: means[f"overconfident_error@{t:g}"] for t in thresholds}
        row.answer_overconfident_error = {t: means[f"answer_overconfident_error@{t:g}"] for t in thresholds}
        row.ece, row.answer_ece = means["ece"], means["answer_ece"]
        counts = _summed([s.counts for s in per_seed])
        row.n_judged, row.n_wrong = counts["n_judged"], counts["n_wrong"]
        row.n_answer_judged, row.n_answer_wrong = counts["n_answer_judged"], counts["n_answer_wrong"]
        row.reliability = reliability_bins([p for seed in seeds for p in _points(by_seed[seed], "judged")])
        for seed, values in zip(seeds, per_seed, strict=True):
            for column, value in {**values.columns, **values.accuracy, **_number_accuracy(values.counts)}.items():
                row.per_seed.setdefault(column, {})[seed] = value
        rows.append(row)
    return rows


def table_benchmarks(
    rows: Sequence[TableRow], id_benchmarks: Sequence[str], ood_benchmarks: Sequence[str]
) -> list[str]:
    """Benchmark columns: the ID set, then the OOD set (their configured order), then any other, sorted."""
    present = {benchmark for row in rows for benchmark in row.accuracy}
    known = [b for b in (*id_benchmarks, *ood_benchmarks) if b in present]
    return known + sorted(present - set(known))


def seed_list(row: TableRow, separator: str = ", ") -> str:
    """The row's training seeds as text; ``none`` for runs without ``--seed``."""
    return separator.join("none" if seed is None else str(seed) for seed in row.seeds)
