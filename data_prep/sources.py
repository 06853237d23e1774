"""Math word problem sources, normalised into :class:`~data_prep.records.Record`.

Eight sources: the two in-distribution training sets, the five out-of-distribution benchmarks of the paper, and an
offline generator for tests and the CPU demo. Each loads from the Hugging Face hub through ``datasets`` (ids and
splits in :data:`SOURCES`, overridable) or from a local file (``input_path``: ``.jsonl``, ``.json``, ``.parquet``,
``.csv``) with the same columns, for air-gapped clusters.

===================== ================================= ======= ================ ===============================
name                  hub id (config)                   splits  role             columns read
===================== ================================= ======= ================ ===============================
gsm8k                 openai/gsm8k (main)               train,  in-distribution  question, answer (``#### x``)
                                                        test
svamp                 ChilleD/SVAMP                     train,  in-distribution  Body, Question, Equation, Answer
                                                        test
asdiv                 EleutherAI/asdiv                  valid-  OOD eval         body, question, formula, answer
                                                        ation
mawps                 MU-NLPC/Calc-mawps                train,  OOD eval         question, equation|expression,
                                                        valid-                   result|result_float
                                                        ation,
                                                        test
tabmwp                Arietem/tabmwp (see note)         train   OOD eval         question, table_title, table,
                                                                                 choices, answer, solution
gsm_hard              reasoning-machines/gsm-hard       train   OOD eval         input, code, target
gsm_symbolic_apple    apple/GSM-Symbolic (main|p1|p2)   test    OOD eval         id, instance, question, answer
gsm_symbolic          none: reasoning-gym generator     any     offline demo     question, answer,
                      (``gsm_symbolic``, seeded)                                 metadata.answer_cot/.variables
===================== ================================= ======= ================ ===============================

Note on TabMWP: the canonical release is ``problems_{train,dev,test}.json`` of github.com/lupantech/PromptPG (a
JSON object keyed by problem id); pass that file with ``input_path`` (recommended); hub mirrors vary. Questions
whose answer is not a number (multiple choice over words) are malformed for this pipeline and are skipped and
counted when ``skip_malformed`` is set.

Example (offline)::

    >>> records = load_source("gsm_symbolic", "train", limit=2, seed=0)
    >>> [(r.source, r.split, bool(r.question), r.reference.rstrip().splitlines()[-1].startswith("####")) for r in records]
    [('gsm_symbolic', 'train', True, True), ('gsm_symbolic', 'train', True, True)]
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from data_prep.records import DataError, Record, format_value, parse_answer_value
from data_prep.toy_world_source import toy_world_record, toy_world_rows
from toy_world.problems import SPLITS as SPLITS_TOY
from verl_ccrl import find_arithmetic_checks, find_number_mentions, problem_values
from verl_ccrl.arithmetic import evaluate_expression

__all__ = [
    "LoadStats",
    "SOURCES",
    "SourceSpec",
    "SourceUnavailableError",
    "iter_file_rows",
    "load_source",
    "normalise_row",
]

logger = logging.getLogger(__name__)

_CALC_ANNOTATION = re.compile(r"<<([^<>]*)=([^<>=]*)>>")
_TRAILING_ZERO = re.compile(r"(?<![\d.])(\d+)\.0+(?!\d)")
_XML_TAG = re.compile(r"<[^<>]+>")


class SourceUnavailableError(RuntimeError):
    """A source that cannot be read here (hub unreachable, generator not installed); the message says the fix."""


@dataclass
class LoadStats:
    """What a load read: rows seen, records kept, and rows skipped per reason (``field: reason``)."""

    rows: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "kept": self.kept, "skipped": dict(self.skipped), "examples": self.examples[:5]}


@dataclass(frozen=True)
class SourceSpec:
    name: str
    data_source: str  # the RL parquet's data_source column
    hub_id: str | None
    hub_config: str | None
    splits: tuple[str, ...]
    role: str
    normalise: Callable[[dict[str, Any], str, str], Record] | None  # (row, split, row_id) -> Record
    # An offline generator's rows, (split, limit, seed) -> (label, row) pairs; None for hub and file sources.
    rows: Callable[[str, int | None, int], Iterator[tuple[str, Any]]] | None = None


# ----------------------------------------------------------------------------------------------- helpers


def _text(row: dict[str, Any], names: Iterable[str], where: str, row_id: str, required: bool = True) -> str:
    names = tuple(names)
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, float) and value != value:  # NaN from pandas
            continue
        if not isinstance(value, str):
            value = str(value)
        if value.strip():
            return value.strip()
    if required:
        present = ", ".join(sorted(map(str, row))) or "none"
        raise DataError(
            where,
            row_id,
            "|".join(names),
            f"missing or empty (columns present: {present}).",
            "pass a file with these columns, or the matching --source.",
        )
    return ""


def _answer(value: Any, where: str, row_id: str, field_name: str) -> str:
    parsed = parse_answer_value(value)
    if parsed is None:
        raise DataError(where, row_id, field_name, f"{value!r} is not a single number.")
    return format_value(parsed)


def _join_sentences(*parts: str) -> str:
    pieces = [part.strip() for part in parts if part and part.strip()]
    out = ""
    for piece in pieces:
        if out and not out.endswith((".", "?", "!", ":", "\n")):
            out += "."
        out = f"{out} {piece}" if out else piece
    return out


def _values_of(reference: str, answer: str, extra: Iterable[Any] = (), question: str = "") -> tuple[str, ...]:
    """Intermediate results of a worked solution: ``<<a*b=c>>`` results, the exact value of every arithmetic
    statement's left side, known extra values, and the final answer; deduplicated, in order, without values the
    question gives (those are not computed), except the final answer."""
    values: list[Fraction] = []
    for match in _CALC_ANNOTATION.finditer(reference):
        value = parse_answer_value(match.group(2))
        if value is not None:
            values.append(value)
    plain = _CALC_ANNOTATION.sub(" ", reference)
    mentions = find_number_mentions(plain)
    values.extend(check.expected for check in find_arithmetic_checks(plain, mentions))
    for value in extra:
        parsed = parse_answer_value(value)
        if parsed is not None:
            values.append(parsed)
    final = parse_answer_value(answer)
    if final is not None:
        values.append(final)
    given = problem_values(question) if question else frozenset()
    seen: dict[Fraction, None] = {}
    for value in values:
        if value not in given or value == final:
            seen.setdefault(value, None)
    return tuple(format_value(value) for value in seen)


def _equation_values(equation: str) -> list[Fraction]:
    """The value of every bracketed sub-expression of an equation (``((2 + 3) * 4)`` gives 5 and 20)."""
    values, stack = [], []
    for index, char in enumerate(equation):
        if char == "(":
            stack.append(index)
        elif char == ")" and stack:
            start = stack.pop()
            value = evaluate_expression(equation[start + 1 : index])
            if value is not None:
                values.append(value)
    return values


def _clean_equation(equation: str) -> str:
    equation = _TRAILING_ZERO.sub(r"\1", equation.strip())
    equation = re.sub(r"^\s*[xX]\s*=\s*", "", equation)
    return re.sub(r"\s+", " ", equation).strip()


def _equation_solution(equation: str, answer: str, question: str = "") -> tuple[str, tuple[str, ...]]:
    clean = _clean_equation(equation)
    if "=" in clean:
        body = clean
    else:
        body = f"{clean} = {answer}" if clean else ""
    reference = f"{body}\n#### {answer}" if body else f"#### {answer}"
    return reference, _values_of(reference, answer, _equation_values(clean), question)


def _hash_answer(text: str, where: str, row_id: str, field_name: str) -> str:
    if "####" not in text:
        raise DataError(where, row_id, field_name, "has no '#### <final answer>' line.")
    return _answer(text.rsplit("####", 1)[1].strip().replace(",", ""), where, row_id, field_name)


# ------------------------------------------------------------------------------------------- normalisers


def _gsm8k(row: dict[str, Any], split: str, row_id: str, *, source: str = "gsm8k", where: str = "") -> Record:
    question = _text(row, ["question"], where, row_id)
    solution = _text(row, ["answer", "solution"], where, row_id)
    answer = _hash_answer(solution, where, row_id, "answer")
    ident = str(row.get("id", row_id))
    if row.get("instance") is not None:
        ident = f"{ident}-{row['instance']}"
    return Record(ident, source, split, question, answer, solution, _values_of(solution, answer, (), question))


def _svamp(row: dict[str, Any], split: str, row_id: str, *, source: str = "svamp", where: str = "") -> Record:
    body = _text(row, ["Body", "body"], where, row_id, required=False)
    ask = _text(row, ["Question", "question"], where, row_id)
    question = _join_sentences(body, ask)
    answer = _answer(row.get("Answer", row.get("answer")), where, row_id, "Answer")
    equation = _text(row, ["Equation", "equation", "Numbers_Equation"], where, row_id, required=False)
    reference, values = _equation_solution(equation, answer, question)
    return Record(str(row.get("ID", row.get("id", row_id))), source, split, question, answer, reference, values)


_UNIT_SUFFIX = re.compile(r"^\s*(?P<value>[^()]+?)\s*(?:\([^()]*\))?\s*$")


def _asdiv(row: dict[str, Any], split: str, row_id: str, *, source: str = "asdiv", where: str = "") -> Record:
    body = _text(row, ["body", "Body"], where, row_id, required=False)
    ask = _text(row, ["question", "Question"], where, row_id)
    raw_answer = _text(row, ["answer", "Answer"], where, row_id)
    match = _UNIT_SUFFIX.match(raw_answer)
    answer = _answer(match.group("value") if match else raw_answer, where, row_id, "answer")
    formula = _text(row, ["formula", "Formula"], where, row_id, required=False)
    question = _join_sentences(body, ask)
    reference, values = _equation_solution(formula, answer, question)
    return Record(str(row.get("id", row_id)), source, split, question, answer, reference, values)


def _mawps(row: dict[str, Any], split: str, row_id: str, *, source: str = "mawps", where: str = "") -> Record:
    question = _text(row, ["question", "sQuestion", "original_text"], where, row_id)
    raw = row.get("result")
    if parse_answer_value(raw) is None:
        raw = row.get("result_float", row.get("lSolutions"))
    if isinstance(raw, list | tuple) and len(raw) == 1:
        raw = raw[0]
    answer = _answer(raw, where, row_id, "result")
    equation = row.get("equation", row.get("expression", row.get("lEquations")))
    if isinstance(equation, list | tuple):
        equation = equation[0] if equation else ""
    equation = _XML_TAG.sub(" ", str(equation or ""))
    reference, values = _equation_solution(equation, answer, question)
    return Record(str(row.get("id", row.get("iIndex", row_id))), source, split, question, answer, reference, values)


def _tabmwp(row: dict[str, Any], split: str, row_id: str, *, source: str = "tabmwp", where: str = "") -> Record:
    ask = _text(row, ["question"], where, row_id)
    title = _text(row, ["table_title"], where, row_id, required=False)
    table = _text(row, ["table"], where, row_id, required=False)
    choices = row.get("choices")
    parts = [part for part in (title, table) if part]
    question = "\n".join(parts) + ("\n\n" if parts else "") + ask
    if choices is not None and len(choices) > 0:
        question += "\nChoices: " + ", ".join(str(choice) for choice in choices)
    answer = _answer(str(row.get("answer", "")).replace(",", ""), where, row_id, "answer")
    solution = _text(row, ["solution"], where, row_id, required=False)
    reference = f"{solution}\n#### {answer}" if solution else f"#### {answer}"
    return Record(
        str(row.get("id", row.get("pid", row_id))),
        source,
        split,
        question,
        answer,
        reference,
        _values_of(reference, answer, (), question),
    )


def _gsm_hard(row: dict[str, Any], split: str, row_id: str, *, source: str = "gsm_hard", where: str = "") -> Record:
    question = _text(row, ["input", "question"], where, row_id)
    answer = _answer(row.get("target", row.get("answer")), where, row_id, "target")
    reference = f"#### {answer}"
    return Record(str(row.get("id", row_id)), source, split, question, answer, reference, (answer,))


_RG_SUFFIX = re.compile(r"\s*Give the result as your final answer\.\s*Do not include units\.\s*$")


def _rg_gsm_symbolic(
    row: dict[str, Any], split: str, row_id: str, *, source: str = "gsm_symbolic", where: str = ""
) -> Record:
    question = _RG_SUFFIX.sub("", _text(row, ["question"], where, row_id))
    metadata = row.get("metadata") or {}
    answer = _answer(row.get("answer"), where, row_id, "answer")
    cot = str(metadata.get("answer_cot") or "").strip()
    reference = cot if "####" in cot else (f"{cot}\n#### {answer}" if cot else f"#### {answer}")
    variables = [
        v for v in (metadata.get("variables") or {}).values() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return Record(
        str(row.get("id", row_id)),
        source,
        split,
        question,
        answer,
        reference,
        _values_of(reference, answer, variables, question),
    )


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in [
        SourceSpec("gsm8k", "openai/gsm8k", "openai/gsm8k", "main", ("train", "test"), "in-distribution", _gsm8k),
        SourceSpec("svamp", "ChilleD/SVAMP", "ChilleD/SVAMP", None, ("train", "test"), "in-distribution", _svamp),
        SourceSpec("asdiv", "EleutherAI/asdiv", "EleutherAI/asdiv", None, ("validation",), "OOD eval", _asdiv),
        SourceSpec(
            "mawps",
            "MU-NLPC/Calc-mawps",
            "MU-NLPC/Calc-mawps",
            None,
            ("train", "validation", "test"),
            "OOD eval",
            _mawps,
        ),
        SourceSpec("tabmwp", "tabmwp", "Arietem/tabmwp", None, ("train",), "OOD eval", _tabmwp),
        SourceSpec(
            "gsm_hard",
            "reasoning-machines/gsm-hard",
            "reasoning-machines/gsm-hard",
            None,
            ("train",),
            "OOD eval",
            _gsm_hard,
        ),
        SourceSpec(
            "gsm_symbolic_apple",
            "apple/GSM-Symbolic",
            "apple/GSM-Symbolic",
            "main",
            ("test",),
            "OOD eval",
            lambda row, split, row_id, **kw: _gsm8k(row, split, row_id, source="gsm_symbolic_apple", **kw),
        ),
        SourceSpec(
            "gsm_symbolic", "ccrl/gsm_symbolic", None, None, ("train", "test"), "offline demo", _rg_gsm_symbolic
        ),
        SourceSpec("toy_world", "ccrl/toy_world", None, None, SPLITS_TOY, "toy world", toy_world_record, toy_world_rows),
    ]
}

# The split each benchmark is evaluated on (the eval parquet of `python -m data_prep eval`).
EVAL_SPLITS = {
    "gsm8k": "test",
    "svamp": "test",
    "asdiv": "validation",
    "mawps": "test",
    "tabmwp": "train",
    "gsm_hard": "train",
    "gsm_symbolic_apple": "test",
    "gsm_symbolic": "test",
    "toy_world": "test",
}
BENCHMARKS = ("gsm8k", "svamp", "asdiv", "mawps", "tabmwp", "gsm_hard", "gsm_symbolic_apple")

# Sizes and seed offsets of the offline generator's splits (disjoint seeds give different problems).
RG_DEFAULT_SIZE = {"train": 2000, "test": 500}
_RG_SEED_OFFSET = {"train": 0, "test": 1_000_003}


def normalise_row(source: str, row: dict[str, Any], split: str, row_id: str | int, where: str = "") -> Record:
    """One raw row of ``source`` as a Record; raises :class:`DataError` naming ``where``, the row and the field.

    >>> normalise_row("svamp", {"Body": "A jar has 8 sweets", "Question": "If 3 are eaten, how many are left?",
    ...                         "Equation": "( 8.0 - 3.0 )", "Answer": 5.0}, "test", 0).reference
    '( 8 - 3 ) = 5\\n#### 5'
    """
    spec = _spec(source)
    if not isinstance(row, dict):
        raise DataError(where or source, row_id, "<row>", f"expected a JSON object, got {type(row).__name__}.")
    return spec.normalise(row, split, str(row_id), where=where or source)


def _spec(source: str) -> SourceSpec:
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is unknown. Choose one of: {', '.join(SOURCES)}.")
    return SOURCES[source]


def iter_file_rows(path: str) -> Iterator[tuple[str, dict[str, Any] | Any]]:
    """``(row label, row)`` of a local ``.jsonl``/``.json``/``.parquet``/``.csv`` file; labels are ``line N``
    (1-based) for JSONL and 0-based positions (or object keys) otherwise. A JSONL line that is not JSON yields a DataError
    object in place of the row."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"input_path={path!r} does not exist. Fix: pass an existing .jsonl/.json/.parquet file."
        )
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        with open(path, encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {line_number}", json.loads(line)
                except json.JSONDecodeError as error:
                    yield f"line {line_number}", DataError(path, f"line {line_number}", "<json>", f"not JSON: {error}.")
    elif lower.endswith(".json"):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            for key, value in data.items():  # PromptPG's problems_*.json: {pid: problem}
                yield str(key), {"id": key, **value}
        elif isinstance(data, list):
            yield from ((str(index), row) for index, row in enumerate(data))
        else:
            raise DataError(path, "-", "<file>", "JSON must be a list of objects or an object of objects.")
    elif lower.endswith(".parquet"):
        import pandas as pd

        for index, row in enumerate(pd.read_parquet(path).to_dict(orient="records")):
            yield str(index), row
    elif lower.endswith(".csv"):
        import pandas as pd

        for index, row in enumerate(pd.read_csv(path).to_dict(orient="records")):
            yield str(index), row
    else:
        raise ValueError(f"input_path={path!r}: unknown extension. Fix: use .jsonl, .json, .parquet or .csv.")


def _hub_rows(spec: SourceSpec, split: str, hub_id: str | None, hub_config: str | None) -> Iterator[tuple[str, Any]]:
    import datasets

    hub_id = hub_id or spec.hub_id
    config = hub_config if hub_config is not None else spec.hub_config
    try:
        dataset = (
            datasets.load_dataset(hub_id, config, split=split) if config else datasets.load_dataset(hub_id, split=split)
        )
    except Exception as error:  # noqa: BLE001 - re-raised with the fix
        raise SourceUnavailableError(
            f"could not load hub dataset {hub_id!r} (config {config!r}, split {split!r}): {error}. Fix: check the "
            f"id and split (known splits: {', '.join(spec.splits)}), or download the file elsewhere and pass "
            "--input PATH."
        ) from error
    for index, row in enumerate(dataset):
        yield str(index), row


def _generated_rows(split: str, limit: int | None, seed: int) -> Iterator[tuple[str, Any]]:
    try:
        import reasoning_gym
    except ImportError as error:
        raise SourceUnavailableError(
            "source 'gsm_symbolic' generates problems with reasoning-gym, which is not installed. Fix: "
            "pip install reasoning-gym==0.1.25 (or pip install 'verl-ccrl[test]')."
        ) from error

    size = limit if limit else RG_DEFAULT_SIZE.get(split, 500)
    dataset = reasoning_gym.create_dataset("gsm_symbolic", size=size, seed=seed + _RG_SEED_OFFSET.get(split, 7919))
    for index in range(size):
        row = dict(dataset[index])
        row["id"] = f"{split}-s{seed}-{index}"
        yield str(index), row


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
    offline generator (``gsm_symbolic``); ``hub_id``/``hub_config`` override the default hub location.
    """
    spec = _spec(name)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} must be a positive int or None (all rows).")
    stats = stats if stats is not None else LoadStats()
    if input_path:
        rows, where = iter_file_rows(input_path), input_path
    elif spec.rows is not None:
        rows, where = spec.rows(split, limit, seed), f"generator {name} (seed {seed})"
    elif spec.hub_id is None:
        rows, where = _generated_rows(split, limit, seed), f"reasoning-gym gsm_symbolic (seed {seed})"
    else:
        rows, where = _hub_rows(spec, split, hub_id, hub_config), f"hub {hub_id or spec.hub_id}:{split}"
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
    stats.kept = len(records)
    if stats.skipped:
        logger.warning("%s: skipped %d malformed rows: %s", where, sum(stats.skipped.values()), dict(stats.skipped))
    return records


def _reason_class(reason: str) -> str:
    if "not a single number" in reason:
        return "not a number"
    if "missing or empty" in reason:
        return "missing"
    if reason.startswith("not JSON"):
        return "not JSON"
    return reason.split(":")[0][:60]
