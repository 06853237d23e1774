"""The toy world (:mod:`toy_world.problems`) as a ``data_prep`` source: generated offline, seeded, four splits.

``train`` and ``test`` are in-distribution (2-3 steps); ``ood_combo`` holds operation pairs ID never shows and
``ood_steps`` has 4-5 steps. A record's ``reference`` is the problem's chain of thought (ending ``#### answer``), its
``reference_values`` are the step results, and ``meta`` carries the CoMT plan (``comt_plan``), the plan with its
execution (``comt``) and the operations.

    >>> from data_prep.sources import load_source
    >>> record = load_source("toy_world", "ood_steps", limit=1, seed=0)[0]
    >>> record.key, len(record.meta["ops"]) >= 4, record.reference.endswith(f"#### {record.answer}")
    ('toy_world/ood_steps/ood_steps-0-0', True, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from itertools import islice
from typing import Any

from data_prep.records import DataError, Record
from toy_world.problems import SPLITS, iter_problems

__all__ = ["DEFAULT_SIZE", "toy_world_record", "toy_world_rows"]

# Problems per split when no --limit is given.
DEFAULT_SIZE = {"train": 5000, "test": 500, "ood_combo": 500, "ood_steps": 500}


def toy_world_rows(split: str, limit: int | None, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(label, row)`` of the first ``limit`` (else :data:`DEFAULT_SIZE`) problems of ``split`` for ``seed``."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not a toy_world split. Fix: use one of {', '.join(SPLITS)}.")
    size = limit if limit is not None else DEFAULT_SIZE[split]
    for index, problem in enumerate(islice(iter_problems(split, seed), size)):
        yield str(index), asdict(problem)


def toy_world_record(
    row: dict[str, Any], split: str, row_id: str, *, source: str = "toy_world", where: str = ""
) -> Record:
    """A generated row (the fields of :class:`toy_world.problems.ToyProblem`) as a Record."""
    missing = [name for name in ("id", "question", "cot", "answer", "reference_values") if not row.get(name)]
    if missing:
        raise DataError(where or source, row_id, "|".join(missing), "missing from a toy_world row.")
    meta = {name: row.get(name) for name in ("comt_plan", "comt", "ops")}
    return Record(
        str(row["id"]), source, split, row["question"], row["answer"], row["cot"], tuple(row["reference_values"]), meta
    )
