"""The results table's figures (the reliability diagram and the overconfident-error rates of each table row) and the
training curves of verl's file logger (``python -m verl_ccrl.eval curves``).

matplotlib is imported only when a figure is drawn (``Agg``: files only), so importing ``verl_ccrl.eval`` does not
import it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.config import DEFAULT_CURVE_METRICS
from verl_ccrl.eval.curves import training_curves

if TYPE_CHECKING:
    from verl_ccrl.eval.rows import TableRow

__all__ = ["plot_overconfidence", "plot_reliability", "plot_training_curves"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on cluster nodes or CI
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(path: str, rows: Sequence[TableRow]) -> None:
    """Share correct against mean confidence per confidence bin, one line per row (the calibration points pooled)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    for row in rows:
        if row.reliability:
            xs = [b["mean_confidence"] for b in row.reliability]
            ys = [b["accuracy"] for b in row.reliability]
            axes.plot(xs, ys, marker="o", label=f"{row.label} (n={row.n_judged})")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("confidence of computed number (exp(-mean entropy))")
    axes.set_ylabel("share correct")
    axes.set_title("Reliability of computed numbers")
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_overconfidence(
    path: str, rows: Sequence[TableRow], thresholds: Sequence[float] = OVERCONFIDENCE_THRESHOLDS
) -> None:
    """Bars of the overconfident-error rate at each threshold, one group per threshold, one bar per row."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(5.5, 1.2 * len(rows) + 3), 4))
    width = 0.8 / max(len(rows), 1)
    for position, row in enumerate(rows):
        xs = [t_index + (position - (len(rows) - 1) / 2) * width for t_index in range(len(thresholds))]
        values = [row.overconfident_error.get(t) for t in thresholds]
        bars = axes.bar(xs, [v if v is not None else 0.0 for v in values], width=width, label=row.label)
        for bar, value in zip(bars, values):
            text = "n/a" if value is None else f"{value:.0f}"  # n/a: no wrong computed number to rate
            axes.annotate(
                text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7
            )
    axes.set_xticks(range(len(thresholds)))
    axes.set_xticklabels([f"c > {t:g}" for t in thresholds])
    axes.set_ylabel("overconfident-error rate (%)")
    axes.set_ylim(0, 105)
    axes.set_title("Wrong computed numbers above a confidence threshold")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_training_curves(
    paths_by_label: dict[str, list[str]],
    out_png: str,
    metrics: Sequence[str] = DEFAULT_CURVE_METRICS,
) -> str:
    """One panel per metric against the training step, one line per label: the mean over the label's files (seeds),
    with a shaded min-max band when 2+ files logged the metric. Data from :func:`verl_ccrl.eval.curves.training_curves`
    (metrics missing in a file are skipped for it; a missing file raises ``EvalError``). Returns ``out_png``."""
    curves = training_curves(paths_by_label, metrics)
    plt = _pyplot()
    columns = min(3, max(len(metrics), 1))
    rows = -(-len(metrics) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for position, metric in enumerate(metrics):
        axes = grid[position // columns][position % columns]
        for label, curve in curves[metric].items():
            shown = label if curve.n_files < 2 else f"{label} (mean of {curve.n_files})"
            (line,) = axes.plot(curve.steps, curve.mean, label=shown, linewidth=1.5)
            if curve.n_files >= 2:
                axes.fill_between(curve.steps, curve.low, curve.high, color=line.get_color(), alpha=0.2, linewidth=0)
        if curves[metric]:
            axes.legend(fontsize=7)
        else:
            axes.text(0.5, 0.5, "not in the logs", ha="center", va="center", transform=axes.transAxes, color="grey")
        axes.set_title(metric, fontsize=9)
        axes.set_xlabel("step")
    for position in range(len(metrics), rows * columns):
        grid[position // columns][position % columns].set_visible(False)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    figure.savefig(out_png, dpi=120)
    plt.close(figure)
    return out_png
