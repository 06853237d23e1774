"""Training curves from verl's ``file`` logger: the data behind :func:`verl_ccrl.eval.plots.plot_training_curves`.

verl's file logger (``trainer.logger`` including ``"file"``; the path from ``VERL_FILE_LOGGER_PATH``) writes one JSON
object per line, ``{"step": N, "data": {metric: value, ...}}``; several lines may share a step (training and
validation metrics), their metrics are merged. A line that is not such an object (e.g. the torn last line of a run
still writing) is skipped and counted, with one warning per file. Pure Python: no matplotlib here.

Per label (a method), the files are seeds: a curve is, per step, the mean over the files that logged the metric at
that step, with the min and the max over them.

Example::

    >>> import json, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> for seed, values in ((1, [0.2, 0.4]), (2, [0.4, 0.8])):
    ...     with open(os.path.join(directory, f"s{seed}.jsonl"), "w") as handle:
    ...         for step, value in enumerate(values, start=1):
    ...             _ = handle.write(json.dumps({"step": step, "data": {"ccrl/ece": value}}) + "\\n")
    >>> paths = [os.path.join(directory, name) for name in ("s1.jsonl", "s2.jsonl")]
    >>> curve = training_curves({"CCRL": paths}, ["ccrl/ece"])["ccrl/ece"]["CCRL"]
    >>> curve.steps, [round(m, 6) for m in curve.mean], curve.low, curve.high, curve.n_files
    ((1, 2), [0.3, 0.6], (0.2, 0.4), (0.4, 0.8), 2)
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from verl_ccrl.eval.config import EvalError

__all__ = ["Curve", "MetricLog", "read_metric_log", "training_curves"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricLog:
    """One log file: step -> {metric: value} (finite numbers only), and how many lines were unreadable."""

    path: str
    steps: dict[int, dict[str, float]]
    skipped_lines: int


@dataclass(frozen=True)
class Curve:
    """One label's curve of one metric: per step, the mean, min and max over the label's files that have it."""

    steps: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    n_files: int  # files of the label that logged this metric at least once


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def read_metric_log(path: str) -> MetricLog:
    """Read one file-logger JSONL; raises :class:`EvalError` naming a file that is missing or unreadable."""
    if not os.path.isfile(path):
        raise EvalError(
            f"{path}: no such file. Pass a JSONL written by verl's file logger (trainer.logger including 'file', "
            "path from VERL_FILE_LOGGER_PATH) as --logs LABEL=FILE."
        )
    steps: dict[int, dict[str, float]] = {}
    skipped = total = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                total += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                step = record.get("step") if isinstance(record, dict) else None
                data = record.get("data") if isinstance(record, dict) else None
                if isinstance(step, bool) or not isinstance(step, int) or not isinstance(data, dict):
                    skipped += 1
                    continue
                metrics = steps.setdefault(step, {})
                for name, value in data.items():
                    number = _number(value)
                    if number is not None:
                        metrics[str(name)] = number
    except OSError as error:
        raise EvalError(f"{path}: not readable ({error}). Pass a JSONL written by verl's file logger.") from error
    if skipped:
        logger.warning(
            "%s: skipped %d unreadable line(s) of %d (not a JSON object with an integer 'step' and a 'data' object)",
            path,
            skipped,
            total,
        )
    return MetricLog(path=path, steps=steps, skipped_lines=skipped)


def training_curves(paths_by_label: Mapping[str, Sequence[str]], metrics: Sequence[str]) -> dict[str, dict[str, Curve]]:
    """metric -> label -> :class:`Curve`; a label whose files never logged a metric has no curve for it."""
    logs = {label: [read_metric_log(path) for path in paths] for label, paths in paths_by_label.items()}
    curves: dict[str, dict[str, Curve]] = {}
    for metric in metrics:
        curves[metric] = {}
        for label, label_logs in logs.items():
            by_step: dict[int, list[float]] = {}
            n_files = 0
            for log in label_logs:
                present = False
                for step, values in log.steps.items():
                    if metric in values:
                        by_step.setdefault(step, []).append(values[metric])
                        present = True
                n_files += present
            if not by_step:
                continue
            ordered = sorted(by_step)
            curves[metric][label] = Curve(
                steps=tuple(ordered),
                mean=tuple(sum(by_step[s]) / len(by_step[s]) for s in ordered),
                low=tuple(min(by_step[s]) for s in ordered),
                high=tuple(max(by_step[s]) for s in ordered),
                n_files=n_files,
            )
    return curves
