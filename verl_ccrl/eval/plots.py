"""The results table's figures: the reliability diagram and the overconfident-error rates of each table row.

matplotlib is imported only when a figure is drawn (``Agg``: files only), so importing ``verl_ccrl.eval`` does not
import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from verl_ccrl.eval.scoring import OVERCONFIDENCE_THRESHOLDS

if TYPE_CHECKING:
    from verl_ccrl.eval.table import TableRow

__all__ = ["plot_overconfidence", "plot_reliability"]


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


def plot_overconfidence(path: str, rows: Sequence[TableRow]) -> None:
    """Bars of the overconfident-error rate at each threshold, one group per threshold, one bar per row."""
    plt = _pyplot()
    thresholds = OVERCONFIDENCE_THRESHOLDS
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
