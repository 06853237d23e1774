"""The merged results table (``results.md``, ``results.csv``) and its figures (``verl_ccrl.eval.plots``) from run JSONs.

Runs are the JSONs of ``verl_ccrl.eval.results``, one per method x model x benchmark (x training seed, ``--seed``).

Table rows are method x model (sorted by model, then method); columns are each benchmark's accuracy (%), then:

- ``ID avg`` / ``OOD avg``: unweighted mean of the row's accuracies on the ID / OOD benchmarks (the paper's macro
  average). When a row lacks a benchmark of the set that another row has, its average is over what it has and is
  marked ``*`` in the markdown (the CSV lists the benchmarks averaged in ``id_avg_over`` / ``ood_avg_over``).
- ``Tokens``: mean response tokens over all of the row's responses (weighted by benchmark size).
- ``OCE@0.9``: overconfident-error rate at 0.9 (%) of the computed numbers pooled over the row's benchmarks.

Seeds: the runs of a row with different seeds are grouped by seed; every column above (and the rates and ECE of the
calibration table, ``verl_ccrl.eval.calibration_table``) is computed per seed as described, and the row holds the mean
over seeds and the sample standard deviation (n-1; None for one seed) in ``accuracy_sd`` / ``sd``. A rate undefined
for a seed (no wrong number) is left out of its mean. Counts (``n``, ``n_judged``...) and the reliability bins pool
all seeds. With one seed (or none) a row is what it was before seeds existed.

Example::

    >>> run = lambda benchmark, accuracy: {"method": "CoMT+CCRL", "model_name": "Qwen2.5-1.5B", "benchmark": benchmark,
    ...     "created_at": "2025-01-01T00:00:00", "metrics": {"accuracy": accuracy, "n": 10, "mean_response_tokens": 50.0},
    ...     "judged": [[0.95, 0], [0.3, 0]]}
    >>> [row] = build_rows([run("gsm8k", 70.0), run("svamp", 80.0), run("asdiv", 60.0)])
    >>> row.id_avg, row.ood_avg, row.overconfident_error[0.9]
    (75.0, 60.0, 50.0)
"""

from __future__ import annotations

import csv
import logging
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS
from verl_ccrl.eval.calibration_table import (
    CALIBRATION_RATE_COLUMNS,
    calibration_csv,
    calibration_markdown,
    format_cell,
    format_number,
    seed_calibration,
)
from verl_ccrl.eval.config import EvalError
from verl_ccrl.eval.plots import plot_overconfidence, plot_reliability
from verl_ccrl.eval.scoring import reliability_bins

logger = logging.getLogger(__name__)

__all__ = ["TableRow", "build_rows", "table_benchmarks", "write_table"]

DISPLAY_NAMES = {
    "gsm8k": "GSM8K",
    "svamp": "SVAMP",
    "asdiv": "ASDiv",
    "mawps": "MAWPS",
    "tabmwp": "TabMWP",
    "gsm_hard": "GSM-Hard",
    "gsm_symbolic": "GSM-Symbolic",
}


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


def _seed(runs: Sequence[dict[str, Any]], id_benchmarks: Sequence[str], ood_benchmarks: Sequence[str]) -> _Seed:
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
    rates, counts = seed_calibration(_points(runs, "judged"), _points(runs, "answer_points"))
    return _Seed(accuracy, n, {**columns, **rates}, counts)


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
) -> list[TableRow]:
    """Rows of the table from run dicts (see the module docstring for every column's definition)."""
    grouped: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}
    for run in runs:
        grouped.setdefault((run["model_name"], run["method"]), {}).setdefault(run.get("seed"), []).append(run)
    rows = []
    for (model_name, method), by_seed in sorted(grouped.items()):
        seeds = sorted(by_seed, key=lambda seed: (seed is not None, seed))
        per_seed = [_seed(by_seed[seed], id_benchmarks, ood_benchmarks) for seed in seeds]
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
        row.overconfident_error = {t: means[f"overconfident_error@{t:g}"] for t in OVERCONFIDENCE_THRESHOLDS}
        row.answer_overconfident_error = {
            t: means[f"answer_overconfident_error@{t:g}"] for t in OVERCONFIDENCE_THRESHOLDS
        }
        row.ece, row.answer_ece = means["ece"], means["answer_ece"]
        counts = _summed([s.counts for s in per_seed])
        row.n_judged, row.n_wrong = counts["n_judged"], counts["n_wrong"]
        row.n_answer_judged, row.n_answer_wrong = counts["n_answer_judged"], counts["n_answer_wrong"]
        row.reliability = reliability_bins([p for seed in seeds for p in _points(by_seed[seed], "judged")])
        rows.append(row)
    return rows


def table_benchmarks(
    rows: Sequence[TableRow], id_benchmarks: Sequence[str], ood_benchmarks: Sequence[str]
) -> list[str]:
    """Benchmark columns: the ID set, then the OOD set (their configured order), then any other, sorted."""
    present = {benchmark for row in rows for benchmark in row.accuracy}
    known = [b for b in (*id_benchmarks, *ood_benchmarks) if b in present]
    return known + sorted(present - set(known))


def write_table(
    runs: Sequence[dict[str, Any]],
    table_dir: str,
    id_benchmarks: Sequence[str] = DEFAULT_ID_BENCHMARKS,
    ood_benchmarks: Sequence[str] = DEFAULT_OOD_BENCHMARKS,
) -> dict[str, str]:
    """Write results.md, results.csv, reliability.png and overconfidence.png; returns name -> path."""
    if not runs:
        raise EvalError(
            "No run JSONs to tabulate. Run an evaluation first (`python -m verl_ccrl.eval --data ... --out-dir "
            "DIR`), then pass that DIR to --runs-dir."
        )
    rows = build_rows(runs, id_benchmarks, ood_benchmarks)
    benchmarks = table_benchmarks(rows, id_benchmarks, ood_benchmarks)
    os.makedirs(table_dir, exist_ok=True)
    paths = {
        "markdown": os.path.join(table_dir, "results.md"),
        "csv": os.path.join(table_dir, "results.csv"),
        "reliability": os.path.join(table_dir, "reliability.png"),
        "overconfidence": os.path.join(table_dir, "overconfidence.png"),
    }
    _write_markdown(paths["markdown"], rows, benchmarks, id_benchmarks, ood_benchmarks)
    _write_csv(paths["csv"], rows, benchmarks)
    plot_reliability(paths["reliability"], rows)
    plot_overconfidence(paths["overconfidence"], rows)
    return paths


def _write_markdown(
    path: str,
    rows: Sequence[TableRow],
    benchmarks: Sequence[str],
    id_benchmarks: Sequence[str],
    ood_benchmarks: Sequence[str],
) -> None:
    id_columns = [b for b in benchmarks if b in id_benchmarks]
    ood_columns = [b for b in benchmarks if b in ood_benchmarks]
    header = ["Method", "Model", *(DISPLAY_NAMES.get(b, b) for b in benchmarks), "ID avg", "OOD avg", "Tokens"]
    header.append("OCE@0.9")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    partial = False
    for row in rows:
        id_mark = "*" if row.id_avg is not None and len(row.id_avg_over) < len(id_columns) else ""
        ood_mark = "*" if row.ood_avg is not None and len(row.ood_avg_over) < len(ood_columns) else ""
        partial = partial or bool(id_mark or ood_mark)
        cells = [row.method, row.model_name]
        cells += [format_cell(row.accuracy.get(b), row.accuracy_sd.get(b)) for b in benchmarks]
        cells += [format_cell(row.id_avg, row.sd.get("id_avg")) + id_mark]
        cells += [format_cell(row.ood_avg, row.sd.get("ood_avg")) + ood_mark]
        cells += [format_cell(row.mean_tokens, row.sd.get("mean_tokens"), 0)]
        cells.append(format_cell(row.overconfident_error.get(0.9), row.sd.get("overconfident_error@0.9")))
        lines.append("| " + " | ".join(cells) + " |")
    others = [b for b in benchmarks if b not in id_benchmarks and b not in ood_benchmarks]
    notes = [
        "",
        "Accuracy in %, greedy decoding. ID avg / OOD avg: unweighted mean over "
        f"{', '.join(DISPLAY_NAMES.get(b, b) for b in id_columns) or 'no ID benchmark'} / "
        f"{', '.join(DISPLAY_NAMES.get(b, b) for b in ood_columns) or 'no OOD benchmark'}. Tokens: mean response "
        "tokens over all evaluated responses. OCE@0.9: overconfident-error rate (%), the share of wrong computed "
        "numbers with confidence exp(-mean token entropy) > 0.9, pooled over the row's benchmarks.",
    ]
    if others:
        notes.append(f"Not in either average: {', '.join(others)}.")
    if partial:
        notes.append("*: averaged over fewer benchmarks than the column's set (a benchmark was not evaluated).")
    seeded = [row for row in rows if row.n_seeds >= 2]
    if seeded:
        notes.append(
            "x ± s: mean and sample standard deviation (n-1) over training seeds, each seed's value computed as "
            "above; seeds: " + "; ".join(f"{row.label}: {_seed_list(row)}" for row in seeded) + "."
        )
    with open(path, "w") as handle:
        handle.write("\n".join(lines + notes + calibration_markdown(rows)) + "\n")


def _seed_list(row: TableRow, separator: str = ", ") -> str:
    return separator.join("none" if seed is None else str(seed) for seed in row.seeds)


def _write_csv(path: str, rows: Sequence[TableRow], benchmarks: Sequence[str]) -> None:
    oce_thresholds = (0.9, *(t for t in OVERCONFIDENCE_THRESHOLDS if t != 0.9))
    header = ["method", "model", *benchmarks, "id_avg", "ood_avg", "mean_tokens"]
    header += [f"overconfident_error@{t:g}" for t in oce_thresholds]
    header += ["ece", "n_judged", "n_wrong", "id_avg_over", "ood_avg_over", *(f"n_{b}" for b in benchmarks)]
    header += [*calibration_csv(None), "n_seeds", "seeds"]
    sd_columns = ["id_avg", "ood_avg", "mean_tokens", *CALIBRATION_RATE_COLUMNS]
    header += [f"{column}_sd" for column in (*benchmarks, *sd_columns)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            record = [row.method, row.model_name, *(format_number(row.accuracy.get(b)) for b in benchmarks)]
            record += [format_number(row.id_avg), format_number(row.ood_avg), format_number(row.mean_tokens)]
            record += [format_number(row.overconfident_error.get(t)) for t in oce_thresholds]
            record += [format_number(row.ece), row.n_judged, row.n_wrong, " ".join(row.id_avg_over)]
            record += [" ".join(row.ood_avg_over), *(row.n.get(b, "") for b in benchmarks)]
            record += [*calibration_csv(row), row.n_seeds, _seed_list(row, " ")]
            record += [format_number(row.accuracy_sd.get(b)) for b in benchmarks]
            record += [format_number(row.sd.get(column)) for column in sd_columns]
            writer.writerow(record)
