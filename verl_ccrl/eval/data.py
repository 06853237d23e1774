"""Reading eval parquet files (verl's RL format) into :class:`EvalExample` rows, with errors that name the fix.

Columns read, per row:

- ``prompt``: list of chat messages ``[{"role": "user", "content": ...}]`` (required), rendered with the model's
  chat template;
- ``reward_model["ground_truth"]`` (required): the final answer;
- ``extra_info`` (optional): ``question`` (the problem text the numbers are judged against; default: the last user
  message), ``reference`` (a reference solution), ``reference_values`` (its intermediate values), ``source``;
- ``data_source`` (optional): the benchmark when ``extra_info["source"]`` is absent.

Example::

    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "eval_toy.parquet")
    >>> pd.DataFrame([{"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": "2 + 3?"}],
    ...                "reward_model": {"style": "rule", "ground_truth": "5"}, "extra_info": {"index": 0}}]
    ...              ).to_parquet(path)
    >>> [(e.benchmark, e.question, e.ground_truth) for e in load_eval_file(path)]
    [('gsm8k', '2 + 3?', '5')]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verl_ccrl.eval.benchmarks import canonical_benchmark_name
from verl_ccrl.eval.config import EvalError

__all__ = ["EvalExample", "load_eval_file", "load_eval_files", "split_name_and_path"]

REQUIRED_COLUMNS = ("prompt", "reward_model")
FORMAT_HINT = (
    "Eval files must be verl RL parquet files (columns prompt, reward_model, extra_info), as written by "
    "`python -m data_prep eval` or `python -m data_prep rl`."
)


@dataclass(frozen=True)
class EvalExample:
    """One eval problem: what the model is prompted with and what its response is judged against."""

    benchmark: str
    index: int  # row number within its benchmark, in file order
    messages: list[dict[str, str]]
    question: str
    ground_truth: str
    reference: str | None
    reference_values: tuple[str, ...]
    source_file: str
    row: int  # row number in source_file
    row_id: str | None = field(default=None)
    answer_type: str | None = field(default=None)  # extra_info["answer_type"] from data_prep ("text": compare as text)


def split_name_and_path(argument: str) -> tuple[str | None, str]:
    """``NAME=FILE`` -> (NAME, FILE); ``FILE`` -> (None, FILE). A path that exists is never split.

    >>> split_name_and_path("gsm8k=data/eval.parquet"), split_name_and_path("data/eval.parquet")
    (('gsm8k', 'data/eval.parquet'), (None, 'data/eval.parquet'))
    """
    if "=" in argument and not os.path.exists(argument):
        name, path = argument.split("=", 1)
        if name and "/" not in name:
            return name, path
    return None, argument


def load_eval_files(arguments: Sequence[str], limit: int | None = None) -> dict[str, list[EvalExample]]:
    """Benchmark -> its examples (first ``limit`` per benchmark, in file order), over all ``arguments``."""
    by_benchmark: dict[str, list[EvalExample]] = {}
    for argument in arguments:
        name, path = split_name_and_path(argument)
        for example in load_eval_file(path, benchmark=name):
            members = by_benchmark.setdefault(example.benchmark, [])
            if limit is None or len(members) < limit:
                members.append(replace(example, index=len(members)))  # index within the merged benchmark
    return by_benchmark


def load_eval_file(path: str, benchmark: str | None = None) -> list[EvalExample]:
    """All rows of one eval parquet; ``benchmark`` overrides the per-row name. Raises :class:`EvalError`."""
    frame = _read_parquet(path)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise EvalError(
            f"{path}: missing column(s) {missing} (columns present: {sorted(map(str, frame.columns))}). {FORMAT_HINT}"
        )
    if len(frame) == 0:
        raise EvalError(f"{path}: the file has no rows. Pass a non-empty eval file.")
    stem = os.path.splitext(os.path.basename(path))[0]
    examples = []
    counts: dict[str, int] = {}
    for row_number, row in enumerate(frame.to_dict(orient="records")):
        example = _example(row, row_number, path, stem, benchmark)
        index = counts.get(example.benchmark, 0)
        counts[example.benchmark] = index + 1
        examples.append(replace(example, index=index))
    return examples


def _read_parquet(path: str):
    import pandas as pd

    if not os.path.exists(path):
        raise EvalError(f"{path}: no such file. Check the path passed to --data.")
    if os.path.isdir(path):
        raise EvalError(f"{path}: is a directory. Pass the parquet file(s) inside it to --data.")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a corrupt or non-parquet file
        raise EvalError(
            f"{path}: not a readable parquet file ({type(error).__name__}: {str(error)[:200]}). {FORMAT_HINT}"
        ) from error


def _plain(value: Any) -> Any:
    """pandas/pyarrow give numpy arrays for list cells; make them lists (recursively for dict values)."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and value != value:  # NaN in a missing cell
        return False
    return not (isinstance(value, str) and not value.strip())


def _example(row: dict[str, Any], row_number: int, path: str, stem: str, benchmark: str | None) -> EvalExample:
    where = f"{path}, row {row_number}"
    messages = _plain(row.get("prompt"))
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, Mapping) and "role" in m and "content" in m for m in messages)
    ):
        raise EvalError(
            f"{where}: field 'prompt' is {str(messages)[:120]!r}, not a list of chat messages "
            f'[{{"role": "user", "content": ...}}]. {FORMAT_HINT}'
        )
    messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    reward_model = _plain(row.get("reward_model"))
    truth = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None
    if not _present(truth):
        raise EvalError(
            f"{where}: field 'reward_model.ground_truth' is missing or empty (reward_model={reward_model!r}). Each "
            'row needs reward_model = {"style": "rule", "ground_truth": "<final answer>"}.'
        )
    extra = _plain(row.get("extra_info"))
    extra = extra if isinstance(extra, Mapping) else {}
    question = extra.get("question")
    if not _present(question):
        # As the CCRL reward manager does: the last user turn is the problem (it may carry an instruction too).
        users = [m["content"] for m in messages if m["role"] == "user"]
        question = users[-1] if users else messages[-1]["content"]
    reference = extra.get("reference")
    values = extra.get("reference_values")
    values = tuple(str(v) for v in values) if isinstance(values, list | tuple) else ()
    if benchmark is None:
        for candidate in (extra.get("source"), row.get("data_source"), stem):
            if _present(candidate):
                benchmark = str(candidate)
                break
    row_id = extra.get("id", extra.get("index"))
    return EvalExample(
        benchmark=canonical_benchmark_name(benchmark),
        index=0,
        messages=messages,
        question=str(question),
        ground_truth=str(truth).strip(),
        reference=str(reference) if _present(reference) else None,
        reference_values=values,
        source_file=path,
        row=row_number,
        row_id=None if row_id is None else str(row_id),
        answer_type=str(extra["answer_type"]) if _present(extra.get("answer_type")) else None,
    )
