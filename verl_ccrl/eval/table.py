"""The results table's files from run JSONs: ``results.md`` (the table, then its "Calibration" section from
``verl_ccrl.eval.calibration_table``), ``results.csv``, and the figures of ``verl_ccrl.eval.plots``.

Rows (one per method x model, sorted by model, then method; every value defined there) come from
``verl_ccrl.eval.rows``. The markdown table's columns are each benchmark's accuracy (%), then ``ID avg`` / ``OOD avg``
(marked ``*`` when the row lacks a benchmark of the set that the table has), ``Tokens``, and ``OCE@t``: the
overconfident-error rate (%) at the highest threshold t (0.9 by default) of the computed numbers pooled over the
row's benchmarks. With 2+ seeds a cell is ``mean ± sample sd`` over the seeds.

Example::

    >>> import tempfile
    >>> run = {"method": "CoT-SFT", "model_name": "toy", "benchmark": "gsm8k", "metrics": {"accuracy": 50.0, "n": 2},
    ...        "judged": [[0.95, 0], [0.6, 1]]}
    >>> paths = write_table([run], tempfile.mkdtemp())
    >>> open(paths["markdown"]).read().splitlines()[2]
    '| CoT-SFT | toy | 50.0 | 50.0 | – | – | 100.0 |'
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS
from verl_ccrl.eval.calibration_table import calibration_csv, calibration_markdown
from verl_ccrl.eval.config import EvalError
from verl_ccrl.eval.contrast import change_markdown, contrast_markdown
from verl_ccrl.eval.plots import plot_overconfidence, plot_reliability
from verl_ccrl.eval.rows import TableRow, build_rows, csv_cell, markdown_cell, rate_columns, seed_list, table_benchmarks

__all__ = ["DISPLAY_NAMES", "write_table"]

DISPLAY_NAMES = {
    "gsm8k": "GSM8K",
    "svamp": "SVAMP",
    "asdiv": "ASDiv",
    "mawps": "MAWPS",
    "tabmwp": "TabMWP",
    "gsm_hard": "GSM-Hard",
    "gsm_symbolic": "GSM-Symbolic",
}


def write_table(
    runs: Sequence[dict[str, Any]],
    table_dir: str,
    id_benchmarks: Sequence[str] = DEFAULT_ID_BENCHMARKS,
    ood_benchmarks: Sequence[str] = DEFAULT_OOD_BENCHMARKS,
    thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS,
    baseline: str | None = None,
    start: str | None = None,
) -> dict[str, str]:
    """Write results.md, results.csv, reliability.png and overconfidence.png; returns name -> path. The
    overconfident-error rates are at ``thresholds`` (``--thresholds``); ``baseline`` (a method label) adds the
    "Differences from" section: every other seeded method against it, seed by seed; ``start`` (the label of the
    unseeded evaluation of the checkpoint the runs began from) adds the "Change from" section."""
    if not runs:
        raise EvalError(
            "No run JSONs to tabulate. Run an evaluation first (`python -m verl_ccrl.eval --data ... --out-dir "
            "DIR`), then pass that DIR to --runs-dir."
        )
    rows = build_rows(runs, id_benchmarks, ood_benchmarks, thresholds)
    benchmarks = table_benchmarks(rows, id_benchmarks, ood_benchmarks)
    os.makedirs(table_dir, exist_ok=True)
    paths = {
        "markdown": os.path.join(table_dir, "results.md"),
        "csv": os.path.join(table_dir, "results.csv"),
        "reliability": os.path.join(table_dir, "reliability.png"),
        "overconfidence": os.path.join(table_dir, "overconfidence.png"),
    }
    _write_markdown(paths["markdown"], rows, benchmarks, id_benchmarks, ood_benchmarks, thresholds, baseline, start)
    _write_csv(paths["csv"], rows, benchmarks, thresholds)
    plot_reliability(paths["reliability"], rows)
    plot_overconfidence(paths["overconfidence"], rows, thresholds)
    return paths


def _write_markdown(
    path: str,
    rows: Sequence[TableRow],
    benchmarks: Sequence[str],
    id_benchmarks: Sequence[str],
    ood_benchmarks: Sequence[str],
    thresholds: Sequence[float],
    baseline: str | None = None,
    start: str | None = None,
) -> None:
    top = max(thresholds)  # the table's one rate column; the calibration section has them all
    id_columns = [b for b in benchmarks if b in id_benchmarks]
    ood_columns = [b for b in benchmarks if b in ood_benchmarks]
    header = ["Method", "Model", *(DISPLAY_NAMES.get(b, b) for b in benchmarks), "ID avg", "OOD avg", "Tokens"]
    header.append(f"OCE@{top:g}")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    partial = False
    for row in rows:
        id_mark = "*" if row.id_avg is not None and len(row.id_avg_over) < len(id_columns) else ""
        ood_mark = "*" if row.ood_avg is not None and len(row.ood_avg_over) < len(ood_columns) else ""
        partial = partial or bool(id_mark or ood_mark)
        cells = [row.method, row.model_name]
        cells += [markdown_cell(row.accuracy.get(b), row.accuracy_sd.get(b)) for b in benchmarks]
        cells += [markdown_cell(row.id_avg, row.sd.get("id_avg")) + id_mark]
        cells += [markdown_cell(row.ood_avg, row.sd.get("ood_avg")) + ood_mark]
        cells += [markdown_cell(row.mean_tokens, row.sd.get("mean_tokens"), 0)]
        cells.append(markdown_cell(row.overconfident_error.get(top), row.sd.get(f"overconfident_error@{top:g}")))
        lines.append("| " + " | ".join(cells) + " |")
    others = [b for b in benchmarks if b not in id_benchmarks and b not in ood_benchmarks]
    notes = [
        "",
        "Accuracy in %, greedy decoding. ID avg / OOD avg: unweighted mean over "
        f"{', '.join(DISPLAY_NAMES.get(b, b) for b in id_columns) or 'no ID benchmark'} / "
        f"{', '.join(DISPLAY_NAMES.get(b, b) for b in ood_columns) or 'no OOD benchmark'}. Tokens: mean response "
        f"tokens over all evaluated responses. OCE@{top:g}: overconfident-error rate (%), the share of wrong computed "
        f"numbers with confidence exp(-mean token entropy) > {top:g}, pooled over the row's benchmarks.",
    ]
    if others:
        notes.append(f"Not in either average: {', '.join(others)}.")
    if partial:
        notes.append("*: averaged over fewer benchmarks than the column's set (a benchmark was not evaluated).")
    seeded = [row for row in rows if row.n_seeds >= 2]
    if seeded:
        notes.append(
            "x ± s: mean and sample standard deviation (n-1) over training seeds, each seed's value computed as "
            "above; seeds: " + "; ".join(f"{row.label}: {seed_list(row)}" for row in seeded) + "."
        )
    with open(path, "w") as handle:
        sections = _change(rows, benchmarks, thresholds, start) + _contrast(rows, benchmarks, thresholds, baseline)
        handle.write("\n".join(lines + notes + calibration_markdown(rows, thresholds) + sections) + "\n")


def _one_row(rows: Sequence[TableRow], method: str, option: str) -> TableRow:
    matches = [row for row in rows if row.method == method]
    if len(matches) != 1:
        raise EvalError(
            f"{option} {method!r}: {len(matches)} rows have that method (methods: "
            f"{sorted({row.method for row in rows})}). Pass one method label, as given to --method."
        )
    return matches[0]


def _contrast_columns(benchmarks: Sequence[str], thresholds: Sequence[float]) -> list[tuple[str, str]]:
    columns = [(b, DISPLAY_NAMES.get(b, b)) for b in benchmarks]
    columns += [("id_avg", "ID avg"), ("ood_avg", "OOD avg"), ("number_accuracy", "Number acc.")]
    columns += [(f"overconfident_error@{t:g}", f"OCE@{t:g}") for t in thresholds]
    return columns + [("ece", "ECE"), ("mean_tokens", "Tokens")]


def _contrast(
    rows: Sequence[TableRow], benchmarks: Sequence[str], thresholds: Sequence[float], baseline: str | None
) -> list[str]:
    if baseline is None:
        return []
    base = _one_row(rows, baseline, "--baseline")
    arms = [(row.method, row.per_seed) for row in rows if row is not base and row.n_seeds >= 2]
    return contrast_markdown(baseline, arms, _contrast_columns(benchmarks, thresholds), base.per_seed)


def _change(
    rows: Sequence[TableRow], benchmarks: Sequence[str], thresholds: Sequence[float], start: str | None
) -> list[str]:
    if start is None:
        return []
    origin = _one_row(rows, start, "--start")
    if origin.n_seeds != 1:
        raise EvalError(
            f"--start {start!r}: its runs have {origin.n_seeds} training seeds ({seed_list(origin)}); the start is "
            "the one checkpoint every seeded run began from, evaluated once. Pass that evaluation's method label "
            "(e.g. CoMT-SFT), or compare seeded methods with --baseline."
        )
    values = {column: next(iter(by_seed.values())) for column, by_seed in origin.per_seed.items()}
    arms = [(row.method, row.per_seed) for row in rows if row is not origin and row.n_seeds >= 2]
    return change_markdown(start, arms, _contrast_columns(benchmarks, thresholds), values)


def _write_csv(path: str, rows: Sequence[TableRow], benchmarks: Sequence[str], thresholds: Sequence[float]) -> None:
    top = max(thresholds)
    oce_thresholds = (top, *(t for t in thresholds if t != top))
    header = ["method", "model", *benchmarks, "id_avg", "ood_avg", "mean_tokens"]
    header += [f"overconfident_error@{t:g}" for t in oce_thresholds]
    header += ["ece", "n_judged", "n_wrong", "id_avg_over", "ood_avg_over", *(f"n_{b}" for b in benchmarks)]
    header += [*calibration_csv(None, thresholds), "n_seeds", "seeds"]
    sd_columns = ["id_avg", "ood_avg", "mean_tokens", *rate_columns(thresholds)]
    header += [f"{column}_sd" for column in (*benchmarks, *sd_columns)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            record = [row.method, row.model_name, *(csv_cell(row.accuracy.get(b)) for b in benchmarks)]
            record += [csv_cell(row.id_avg), csv_cell(row.ood_avg), csv_cell(row.mean_tokens)]
            record += [csv_cell(row.overconfident_error.get(t)) for t in oce_thresholds]
            record += [csv_cell(row.ece), row.n_judged, row.n_wrong, " ".join(row.id_avg_over)]
            record += [" ".join(row.ood_avg_over), *(row.n.get(b, "") for b in benchmarks)]
            record += [*calibration_csv(row, thresholds), row.n_seeds, seed_list(row, " ")]
            record += [csv_cell(row.accuracy_sd.get(b)) for b in benchmarks]
            record += [csv_cell(row.sd.get(column)) for column in sd_columns]
            writer.writerow(record)
