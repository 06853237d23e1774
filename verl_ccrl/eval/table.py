"""The merged results table (``results.md``, ``results.csv``) and its figures (``verl_ccrl.eval.plots``) from run JSONs.

Runs are the JSONs of ``verl_ccrl.eval.results``, one per method x model x benchmark.

Table rows are method x model (sorted by model, then method); columns are each benchmark's accuracy (%), then:

- ``ID avg`` / ``OOD avg``: unweighted mean of the row's accuracies on the ID / OOD benchmarks (the paper's macro
  average). When a row lacks a benchmark of the set that another row has, its average is over what it has and is
  marked ``*`` in the markdown (the CSV lists the benchmarks averaged in ``id_avg_over`` / ``ood_avg_over``).
- ``Tokens``: mean response tokens over all of the row's responses (weighted by benchmark size).
- ``OCE@0.9``: overconfident-error rate at 0.9 (%) of the computed numbers pooled over the row's benchmarks.

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
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS
from verl_ccrl.eval.config import EvalError
from verl_ccrl.eval.plots import plot_overconfidence, plot_reliability
from verl_ccrl.eval.scoring import OVERCONFIDENCE_THRESHOLDS, calibration_summary, reliability_bins

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
    """One method x model of the results table; accuracies and rates in percent."""

    method: str
    model_name: str
    accuracy: dict[str, float] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    id_avg: float | None = None
    ood_avg: float | None = None
    id_avg_over: tuple[str, ...] = ()
    ood_avg_over: tuple[str, ...] = ()
    mean_tokens: float | None = None
    overconfident_error: dict[float, float | None] = field(default_factory=dict)
    ece: float | None = None
    n_judged: int = 0
    n_wrong: int = 0
    reliability: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.method} / {self.model_name}"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percent(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else 100.0 * float(value)


def build_rows(
    runs: Sequence[dict[str, Any]],
    id_benchmarks: Sequence[str] = DEFAULT_ID_BENCHMARKS,
    ood_benchmarks: Sequence[str] = DEFAULT_OOD_BENCHMARKS,
) -> list[TableRow]:
    """Rows of the table from run dicts (see the module docstring for every column's definition)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run["model_name"], run["method"]), []).append(run)
    rows = []
    for (model_name, method), members in sorted(grouped.items()):
        row = TableRow(method=method, model_name=model_name)
        points: list[tuple[float, bool]] = []
        token_sum = token_count = 0.0
        for run in members:
            metrics = run["metrics"]
            benchmark = run["benchmark"]
            if metrics.get("accuracy") is not None:
                row.accuracy[benchmark] = float(metrics["accuracy"])
            row.n[benchmark] = int(metrics.get("n") or 0)
            if metrics.get("mean_response_tokens") is not None and row.n[benchmark]:
                token_sum += float(metrics["mean_response_tokens"]) * row.n[benchmark]
                token_count += row.n[benchmark]
            points.extend((float(confidence), bool(correct)) for confidence, correct in run.get("judged") or [])
        row.id_avg_over = tuple(b for b in id_benchmarks if b in row.accuracy)
        row.ood_avg_over = tuple(b for b in ood_benchmarks if b in row.accuracy)
        row.id_avg = _mean([row.accuracy[b] for b in row.id_avg_over])
        row.ood_avg = _mean([row.accuracy[b] for b in row.ood_avg_over])
        row.mean_tokens = token_sum / token_count if token_count else None
        calibration = calibration_summary(points)
        row.overconfident_error = {
            t: _percent(calibration[f"overconfident_error_rate@{t:g}"]) for t in OVERCONFIDENCE_THRESHOLDS
        }
        row.ece = _percent(calibration["ece"])
        row.n_judged, row.n_wrong = calibration["n_judged"], calibration["n_wrong"]
        row.reliability = reliability_bins(points)
        rows.append(row)
    return rows


def table_benchmarks(
    rows: Sequence[TableRow], id_benchmarks: Sequence[str], ood_benchmarks: Sequence[str]
) -> list[str]:
    """Benchmark columns: the ID set, then the OOD set (their configured order), then any other, sorted."""
    present = {benchmark for row in rows for benchmark in row.accuracy}
    known = [b for b in (*id_benchmarks, *ood_benchmarks) if b in present]
    return known + sorted(present - set(known))


def _cell(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


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
        cells = [row.method, row.model_name, *(_cell(row.accuracy.get(b)) for b in benchmarks)]
        cells += [_cell(row.id_avg) + id_mark, _cell(row.ood_avg) + ood_mark, _cell(row.mean_tokens, 0)]
        cells.append(_cell(row.overconfident_error.get(0.9)))
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
    with open(path, "w") as handle:
        handle.write("\n".join(lines + notes) + "\n")


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _write_csv(path: str, rows: Sequence[TableRow], benchmarks: Sequence[str]) -> None:
    thresholds = OVERCONFIDENCE_THRESHOLDS
    header = ["method", "model", *benchmarks, "id_avg", "ood_avg", "mean_tokens", "overconfident_error@0.9"]
    header += [f"overconfident_error@{t:g}" for t in thresholds if t != 0.9]
    header += ["ece", "n_judged", "n_wrong", "id_avg_over", "ood_avg_over", *(f"n_{b}" for b in benchmarks)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            record = [row.method, row.model_name, *(_number(row.accuracy.get(b)) for b in benchmarks)]
            record += [_number(row.id_avg), _number(row.ood_avg), _number(row.mean_tokens)]
            record.append(_number(row.overconfident_error.get(0.9)))
            record += [_number(row.overconfident_error.get(t)) for t in thresholds if t != 0.9]
            record += [_number(row.ece), row.n_judged, row.n_wrong, " ".join(row.id_avg_over)]
            record += [" ".join(row.ood_avg_over), *(row.n.get(b, "") for b in benchmarks)]
            writer.writerow(record)
