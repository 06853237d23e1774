"""Math word problem sources, normalised into :class:`~data_prep.records.Record`.

Eight sources: the two in-distribution training sets, the five out-of-distribution benchmarks of the paper, and an
offline generator for tests and the CPU demo. Each loads from the Hugging Face hub through ``datasets`` (ids and
splits in :data:`SOURCES`, overridable) or from a local file (``input_path``: ``.jsonl``, ``.json``, ``.xml``,
``.parquet``, ``.csv``): the file as its authors publish it, or a hub export with the same columns.

===================== ================================= ======= ================ ===============================
name                  hub id (config)                   splits  role             columns read
===================== ================================= ======= ================ ===============================
gsm8k                 openai/gsm8k (main)               train,  in-distribution  question, answer (``#### x``)
                                                        test
svamp                 ChilleD/SVAMP                     train,  in-distribution  Body, Question, Equation, Answer
                                                        test
asdiv                 EleutherAI/asdiv                  valid-  OOD eval         body, question, formula, answer
                      (or ``ASDiv.xml``)                ation                    (XML: Body, Question, Formula,
                                                                                 Answer of each ``<Problem>``)
mawps                 MU-NLPC/Calc-mawps                train,  OOD eval         question|sQuestion|original_text,
                                                        valid-                   equation|expression|lEquations,
                                                        ation,                   result|ans|lSolutions|
                                                        test                     result_float
tabmwp                Arietem/tabmwp (see note)         train,  OOD eval         question, table_title, table,
                                                        dev,                     choices, answer, solution
                                                        test
gsm_hard              reasoning-machines/gsm-hard       test    OOD eval         input, code, target
                      (hub split ``train``)
gsm_symbolic_apple    apple/GSM-Symbolic (main|p1|p2)   test    OOD eval         id, instance, question, answer
reasoning_gym_gsm     none: reasoning-gym generator     any     offline demo     question, answer,
                      (``gsm_symbolic``, seeded)                                 metadata.answer_cot/.variables
===================== ================================= ======= ================ ===============================

Answers are read as published (:mod:`~data_prep.sources.answers`): a number, a float of binary arithmetic (kept
digit for digit), or text (TabMWP's choices, ASDiv's "The 60th caller."), which is kept, never read as a number;
``Record.meta`` carries the type and the choices into the parquet's ``extra_info``.

Note on TabMWP: the canonical release is ``problems_{train,dev,test}.json`` of github.com/lupantech/PromptPG (a
JSON object keyed by problem id); pass that file with ``input_path`` (recommended); hub mirrors vary. A row whose
own ``split`` differs from the split asked for is refused.

The offline generator's source is ``reasoning_gym_gsm`` (it was called ``gsm_symbolic``, which in evaluation means
Apple's benchmark; the old name is refused with the new one in the message).

One module per concern: :mod:`~data_prep.sources.readers` (files, hub, generator),
:mod:`~data_prep.sources.fields` (reading a row's fields), :mod:`~data_prep.sources.answers` (answers as
published), and the normalisers per source family:
:mod:`~data_prep.sources.gsm`, :mod:`~data_prep.sources.equations`, :mod:`~data_prep.sources.tables`.

Example (offline)::

    >>> records = load_source("reasoning_gym_gsm", "train", limit=2, seed=0)
    >>> [(r.source, r.split, bool(r.question), r.reference.rstrip().splitlines()[-1].startswith("####")) for r in records]
    [('reasoning_gym_gsm', 'train', True, True), ('reasoning_gym_gsm', 'train', True, True)]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from data_prep.records import DataError, Record
from data_prep.sources import equations, gsm, tables, toy_world
from data_prep.sources.readers import (
    RG_DEFAULT_SIZE,
    SourceUnavailableError,
    generated_rows,
    hub_rows,
    iter_file_rows,
)
from toy_world.problems import SPLITS as TOY_SPLITS
from verl_ccrl.number_mentions import read_numbers

__all__ = [
    "BENCHMARKS",
    "EVAL_SPLITS",
    "LoadStats",
    "RENAMED_SOURCES",
    "RG_DEFAULT_SIZE",
    "SOURCES",
    "SourceSpec",
    "SourceUnavailableError",
    "iter_file_rows",
    "load_source",
    "normalise_row",
]

logger = logging.getLogger(__name__)

# What reading a row's numbers may raise on hostile text (Python's int-string limit, deep nesting, overflow): the
# row is malformed for this pipeline, like a missing field.
_UNREADABLE = (ValueError, ArithmeticError, RecursionError, TypeError)


@dataclass
class LoadStats:
    """What a load read: rows seen, records kept, rows skipped per reason (``field: reason``), and the records kept
    per answer type (``number``, ``float``, ``text``: see :mod:`~data_prep.sources.answers`)."""

    rows: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    answer_types: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "kept": self.kept,
            "skipped": dict(self.skipped),
            "answer_types": dict(self.answer_types),
            "examples": self.examples[:5],
        }


@dataclass(frozen=True)
class SourceSpec:
    name: str
    data_source: str  # the RL parquet's data_source column
    hub_id: str | None
    hub_config: str | None
    splits: tuple[str, ...]
    role: str
    normalise: Callable[[dict[str, Any], str, str], Record] | None  # (row, split, row_id) -> Record
    # Our split label -> the hub dataset's split name, where they differ (a benchmark whose hub dataset files its
    # test problems under "train"): records are labelled with what they are, read from where the hub keeps them.
    hub_splits: dict[str, str] = field(default_factory=dict)
    # An offline generator's rows, (split, limit, seed) -> (label, row) pairs; None for hub and file sources.
    rows: Callable[[str, int | None, int], Iterator[tuple[str, Any]]] | None = None


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in [
        SourceSpec("gsm8k", "openai/gsm8k", "openai/gsm8k", "main", ("train", "test"), "in-distribution", gsm.gsm8k),
        SourceSpec(
            "svamp", "ChilleD/SVAMP", "ChilleD/SVAMP", None, ("train", "test"), "in-distribution", equations.svamp
        ),
        SourceSpec("asdiv", "EleutherAI/asdiv", "EleutherAI/asdiv", None, ("validation",), "OOD eval", equations.asdiv),
        SourceSpec(
            "mawps",
            "MU-NLPC/Calc-mawps",
            "MU-NLPC/Calc-mawps",
            None,
            ("train", "validation", "test"),
            "OOD eval",
            equations.mawps,
        ),
        SourceSpec("tabmwp", "tabmwp", "Arietem/tabmwp", None, ("train", "dev", "test"), "OOD eval", tables.tabmwp),
        SourceSpec(
            "gsm_hard",
            "reasoning-machines/gsm-hard",
            "reasoning-machines/gsm-hard",
            None,
            ("test",),
            "OOD eval",
            gsm.gsm_hard,
            hub_splits={"test": "train"},
        ),
        SourceSpec(
            "gsm_symbolic_apple",
            "apple/GSM-Symbolic",
            "apple/GSM-Symbolic",
            "main",
            ("test",),
            "OOD eval",
            gsm.gsm_symbolic_apple,
        ),
        SourceSpec(
            "reasoning_gym_gsm",
            "ccrl/reasoning_gym_gsm",
            None,
            None,
            ("train", "test"),
            "offline demo",
            gsm.reasoning_gym_gsm,
        ),
        SourceSpec(
            "toy_world",
            "ccrl/toy_world",
            None,
            None,
            TOY_SPLITS,
            "toy world",
            toy_world.toy_world_record,
            rows=toy_world.toy_world_rows,
        ),  # fmt: skip
    ]
}

# Old source names -> what they are called now. `gsm_symbolic` meant reasoning-gym's generator here but Apple's
# GSM-Symbolic in evaluation; it is refused rather than silently mapped to either.
RENAMED_SOURCES = {
    "gsm_symbolic": "reasoning_gym_gsm (reasoning-gym's offline generator; Apple's GSM-Symbolic benchmark is "
    "gsm_symbolic_apple)",
}

# The split each benchmark is evaluated on (the eval parquet of `python -m data_prep eval`).
EVAL_SPLITS = {
    "gsm8k": "test",
    "svamp": "test",
    "asdiv": "validation",
    "mawps": "test",
    "tabmwp": "test",
    "gsm_hard": "test",
    "gsm_symbolic_apple": "test",
    "reasoning_gym_gsm": "test",
    "toy_world": "test",
}
BENCHMARKS = ("gsm8k", "svamp", "asdiv", "mawps", "tabmwp", "gsm_hard", "gsm_symbolic_apple")


def normalise_row(source: str, row: dict[str, Any], split: str, row_id: str | int, where: str = "") -> Record:
    """One raw row of ``source`` as a Record; raises :class:`DataError` naming ``where``, the row and the field.

    >>> normalise_row("svamp", {"Body": "A jar has 8 sweets", "Question": "If 3 are eaten, how many are left?",
    ...                         "Equation": "( 8.0 - 3.0 )", "Answer": 5.0}, "test", 0).reference
    '( 8 - 3 ) = 5\\n#### 5'
    """
    spec = source_spec(source)
    if not isinstance(row, dict):
        raise DataError(where or source, row_id, "<row>", f"expected a JSON object, got {type(row).__name__}.")
    return spec.normalise(row, split, str(row_id), where=where or source)


def source_spec(source: str) -> SourceSpec:
    """The spec of ``source``; an unknown or renamed name raises ``ValueError`` naming the choices."""
    if source in RENAMED_SOURCES:
        raise ValueError(f"source={source!r} was renamed: use {RENAMED_SOURCES[source]}.")
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is unknown. Choose one of: {', '.join(SOURCES)}.")
    return SOURCES[source]


def load_source(
    name: str,
    split: str,
    *,
    input_path: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    skip_malformed: bool = False,
    hub_id: str | None = None,
    hub_config: str | None = None,
    stats: LoadStats | None = None,
) -> list[Record]:
    """Records of one source and split, in file order; the first ``limit`` well-formed ones when ``limit`` is set.

    A malformed row raises :class:`DataError` (file, row, field) unless ``skip_malformed``, which skips it, counts
    it in ``stats.skipped`` under ``"<field>: <reason>"`` and logs a warning with the total. ``seed`` seeds the
    offline generator (``reasoning_gym_gsm``); ``hub_id``/``hub_config`` override the default hub location.
    """
    spec = source_spec(name)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} must be a positive int or None (all rows).")
    stats = stats if stats is not None else LoadStats()
    if input_path:
        rows, where = iter_file_rows(input_path), input_path
    elif spec.rows is not None:
        rows, where = spec.rows(split, limit, seed), f"generator {name} (seed {seed})"
    elif spec.hub_id is None:
        rows, where = generated_rows(split, limit, seed), f"reasoning-gym gsm_symbolic (seed {seed})"
    else:
        rows, where = hub_rows(spec, split, hub_id, hub_config), f"hub {hub_id or spec.hub_id}:{split}"
    records: list[Record] = []
    seen_ids: set[str] = set()
    for position, (label, row) in enumerate(rows):
        if limit is not None and len(records) >= limit:
            break
        stats.rows += 1
        try:
            if isinstance(row, DataError):
                raise row
            try:  # a row without an id column gets its 0-based position as id; errors name the row's label
                record = normalise_row(name, row, split, str(position), where=where)
            except DataError as error:
                raise DataError(where, label, error.field_name, error.reason, error.fix) from None
            except _UNREADABLE as error:  # the number reader gave up on this row's text: name the row, not a trace
                reason = f"could not be read: {type(error).__name__}: {str(error)[:200]}"
                raise DataError(where, label, "<row>", reason, "fix or drop the row.") from None
            _refuse_oversized_numerals(record, where, label)
            if record.id in seen_ids:
                raise DataError(where, label, "id", f"duplicate id {record.id!r}.", "ids must be unique per split.")
        except DataError as error:
            if not skip_malformed:
                raise
            stats.skipped[f"{error.field_name}: {_reason_class(error.reason)}"] += 1
            if len(stats.examples) < 20:
                stats.examples.append(str(error))
            continue
        seen_ids.add(record.id)
        records.append(record)
        stats.answer_types[record.meta.get("answer_type", "number")] += 1
    stats.kept = len(records)
    if stats.skipped:
        logger.warning("%s: skipped %d malformed rows: %s", where, sum(stats.skipped.values()), dict(stats.skipped))
    return records


def _refuse_oversized_numerals(record: Record, where: str, label: str) -> None:
    """A numeral past the reader's bounds (``verl_ccrl/bounds.py``) in the question or the solution would be an
    opaque, unjudged number in every reward of this problem: the row is malformed, named, and skippable."""
    for field_name in ("question", "reference"):
        oversized = read_numbers(getattr(record, field_name)).oversized
        if oversized:
            reason = f"could not be read: a numeral of {oversized[0].reason}"
            raise DataError(where, label, field_name, reason, "fix or drop the row.")


def _reason_class(reason: str) -> str:
    if reason.startswith("could not be read"):
        return "unreadable"
    if "is not UTF-8" in reason:
        return "not UTF-8"
    if reason.startswith("must be text"):
        return "not text"
    if "not a single number" in reason:
        return "not a number"
    if "missing or empty" in reason:
        return "missing"
    if reason.startswith("not JSON"):
        return "not JSON"
    return reason.split(":")[0][:60]
