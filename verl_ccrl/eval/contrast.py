"""Each method's difference from a baseline method, paired by training seed, with a 95 % interval; and each
method's change from the checkpoint every seed started from, with the same interval. Pure Python.

Seed s of every arm of a study starts from the same checkpoint, sees the same data order and draws its rollouts
from the same seeded streams, so the arms are compared seed by seed: d_s = arm_s - baseline_s over the seeds both
have, and the interval is Student's t on those differences, mean(d) +- t(0.975, n-1) * sd(d) / sqrt(n). With two
seeds t is 12.7: the interval is honest about how little two seeds can tell.

    >>> d = difference({1: 70.0, 2: 74.0, 3: 72.0}, {1: 66.0, 2: 69.0, 3: 69.0})
    >>> d.mean, round(d.low, 2), round(d.high, 2), d.n, d.excludes_zero
    (4.0, 1.52, 6.48, 3, True)
    >>> difference({1: 70.0, 2: 74.0}, {1: 66.0, 2: 69.0}).excludes_zero
    False
    >>> difference({1: 70.0}, {1: 66.0}) is None  # one seed: no interval
    True

Deliberately not handled: unpaired runs (an arm whose seeds the baseline lacks is compared on the shared seeds
only), multiple-comparison correction (the README names how many intervals a table holds), non-normal differences.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Difference", "change_markdown", "contrast_markdown", "difference", "t_quantile_975"]

# Student's t, 0.975 quantile, by degrees of freedom (scipy.stats.t.ppf(0.975, df)); past 30 the normal 1.96.
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
          2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def t_quantile_975(degrees_of_freedom: int) -> float:
    """The two-sided 95 % critical value of Student's t.

    >>> t_quantile_975(1), t_quantile_975(2), t_quantile_975(1000)
    (12.706, 4.303, 1.96)
    """
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom={degrees_of_freedom}: a t interval needs at least 1 (two seeds)")
    return _T_975[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T_975) else 1.96


@dataclass(frozen=True)
class Difference:
    """mean(arm - baseline) over ``n`` shared seeds and its 95 % interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or wholly below 0: a difference beyond the seed spread."""
        return self.low > 0 or self.high < 0


def difference(arm: Mapping[object, float | None], baseline: Mapping[object, float | None]) -> Difference | None:
    """The paired difference of two methods' per-seed values (seed -> value); None with fewer than 2 shared seeds."""
    shared = [seed for seed in arm if seed in baseline and arm[seed] is not None and baseline[seed] is not None]
    if len(shared) < 2:
        return None
    deltas = [float(arm[seed]) - float(baseline[seed]) for seed in shared]  # type: ignore[arg-type]
    mean = statistics.fmean(deltas)
    half_width = t_quantile_975(len(deltas) - 1) * statistics.stdev(deltas) / math.sqrt(len(deltas))
    return Difference(mean=mean, low=mean - half_width, high=mean + half_width, n=len(deltas))


def _cell(value: Difference | None) -> str:
    if value is None:
        return "n/a"
    mark = " **\\***" if value.excludes_zero else ""
    return f"{value.mean:+.1f} [{value.low:+.1f}, {value.high:+.1f}]{mark}"


def contrast_markdown(
    baseline: str,
    arms: Sequence[tuple[str, Mapping[str, Mapping[object, float | None]]]],
    columns: Sequence[tuple[str, str]],
    baseline_values: Mapping[str, Mapping[object, float | None]],
) -> list[str]:
    """The "Differences from BASELINE" section of results.md.

    ``arms``: (label, column -> seed -> value) of every other method; ``columns``: (key, header) in order;
    ``baseline_values``: the baseline's column -> seed -> value.
    """
    explanation = (
        f"Each cell: mean over seeds of (method - {baseline}) for the same seed, in points, and its 95 % interval "
        "(Student's t on the per-seed differences). **\\*** marks an interval that excludes 0: a difference beyond "
        "the seed spread."
    )
    return _section(f"Differences from {baseline}", explanation, arms, columns, lambda _values: baseline_values)


def change_markdown(
    start: str,
    arms: Sequence[tuple[str, Mapping[str, Mapping[object, float | None]]]],
    columns: Sequence[tuple[str, str]],
    start_values: Mapping[str, float | None],
) -> list[str]:
    """The "Change from START" section of results.md: what training did to the one checkpoint every seed began from.

    Each seed's value minus the start's, so the interval is Student's t over the seeds' own values, shifted:

        >>> rl = {"acc": {1: 70.0, 2: 74.0, 3: 72.0}}
        >>> print(change_markdown("SFT", [("RL", rl)], [("acc", "ID")], {"acc": 65.0})[5])
        | RL | 3 | +7.0 [+2.0, +12.0] **\\*** |

    ``start_values``: the start's column -> value (None where it has none: that column's cells are n/a).
    """
    explanation = (
        f"Each cell: mean over seeds of (method - {start}), {start} being the one checkpoint every seed began "
        "from, in points, and its 95 % interval (Student's t over the seeds). **\\*** marks an interval that "
        "excludes 0: a change beyond the seed spread."
    )

    def start_by_seed(values: Mapping[str, Mapping[object, float | None]]) -> dict[str, dict[object, float | None]]:
        return {key: {seed: start_values.get(key) for seed in values.get(key, {})} for key, _ in columns}

    return _section(f"Change from {start}", explanation, arms, columns, start_by_seed)


def _section(
    title: str,
    explanation: str,
    arms: Sequence[tuple[str, Mapping[str, Mapping[object, float | None]]]],
    columns: Sequence[tuple[str, str]],
    reference_of: Callable[[Mapping[str, Mapping[object, float | None]]], Mapping[str, Mapping[object, float | None]]],
) -> list[str]:
    header = ["Method", "Seeds", *(name for _, name in columns)]
    lines = ["", f"## {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|---|---:|" + "|".join(["---:"] * len(columns)) + "|")
    count = outside = 0
    for label, values in arms:
        reference = reference_of(values)
        cells = [difference(values.get(key, {}), reference.get(key, {})) for key, _ in columns]
        shared = max((cell.n for cell in cells if cell is not None), default=0)
        count += sum(cell is not None for cell in cells)
        outside += sum(cell is not None and cell.excludes_zero for cell in cells)
        lines.append("| " + " | ".join([label, str(shared), *(_cell(cell) for cell in cells)]) + " |")
    lines += [
        "",
        f"{explanation} {outside} of {count} intervals exclude 0; at 95 % about {count / 20:.1f} would by chance "
        "alone. An interval of zero width means every seed's difference was the same, which few seeds make likely "
        "by chance: read it as one observation, not as certainty.",
    ]
    return lines
