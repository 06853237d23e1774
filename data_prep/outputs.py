"""Parquet files in the formats verl 0.9.x reads, and the data report.

- RL / eval parquet (verl's ``RLHFDataset``; one row per problem)::

    data_source   "openai/gsm8k", "ccrl/reasoning_gym_gsm", ...
    prompt        [{"role": "user", "content": question + "\\n\\n" + STUDENT_INSTRUCTION}]
    ability       "math"
    reward_model  {"style": "rule", "ground_truth": "<final answer>"}
    extra_info    {"question": raw question, "reference": reference solution,
                   "reference_values": ["84", "3/4", "18.5"], "index": i, "split": ..., "source": ..., "id": ...}

  The CCRL reward manager reads ``extra_info["question"]``, ``["reference"]`` and ``["reference_values"]``.

- SFT parquet (verl 0.9.1's ``MultiTurnSFTDataset``, ``data.messages_key=messages``; it is the only built-in SFT
  dataset and computes the loss on assistant turns): a ``messages`` column of
  ``[{"role": "user", "content": question + instruction}, {"role": "assistant", "content": target}]``, plus
  ``data_source`` and ``extra_info`` (ignored by the trainer). CoMT and CoT files share the user turn; only the
  target differs: the meta-thought, or the reference solution without GSM8K's ``<<...>>`` calculator annotations.

Files are written to a temporary name and renamed, so a reader never sees half a file.

Example::

    >>> import os, tempfile, pandas as pd
    >>> from data_prep.records import Record
    >>> r = Record("1", "gsm8k", "train", "Ann has 3 bags of 4 pears. How many pears?", "12",
    ...            "3 * 4 = <<3*4=12>>12 pears\\n#### 12", ("12",))
    >>> path = write_rl_parquet([r], os.path.join(tempfile.mkdtemp(), "train.parquet"))
    >>> row = pd.read_parquet(path).iloc[0]
    >>> row["data_source"], row["reward_model"]["ground_truth"], list(row["extra_info"]["reference_values"])
    ('openai/gsm8k', '12', ['12'])
    >>> cot_target(r)
    '3 * 4 = 12 pears\\n#### 12'
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Iterable
from typing import Any

from data_prep.prompts import STUDENT_INSTRUCTION, student_messages
from data_prep.records import Record
from data_prep.sources import SOURCES

__all__ = [
    "cot_target",
    "data_source_of",
    "rl_row",
    "sft_row",
    "target_token_stats",
    "write_eval_parquet",
    "write_rl_parquet",
    "write_sft_parquet",
]

_CALC = re.compile(r"<<[^<>]*>>")


def data_source_of(record: Record) -> str:
    spec = SOURCES.get(record.source)
    return spec.data_source if spec else record.source


def cot_target(record: Record) -> str:
    """The CoT-SFT target: the reference solution without ``<<...>>`` annotations, ending in ``#### <answer>``."""
    text = _CALC.sub("", record.reference).strip()
    if "####" not in text:
        text = f"{text}\n#### {record.answer}".strip()
    return text


def rl_row(record: Record, index: int, instruction: str = STUDENT_INSTRUCTION) -> dict[str, Any]:
    return {
        "data_source": data_source_of(record),
        "prompt": student_messages(record.question, instruction),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": record.answer},
        "extra_info": {
            "question": record.question,
            "reference": record.reference,
            "reference_values": list(record.reference_values),
            "index": index,
            "split": record.split,
            "source": record.source,
            "id": record.id,
        },
    }


def sft_row(record: Record, target: str, index: int, instruction: str = STUDENT_INSTRUCTION) -> dict[str, Any]:
    return {
        "messages": student_messages(record.question, instruction) + [{"role": "assistant", "content": target}],
        "data_source": data_source_of(record),
        "extra_info": {
            "index": index,
            "split": record.split,
            "source": record.source,
            "id": record.id,
            "answer": record.answer,
        },
    }


def _write(rows: list[dict[str, Any]], path: str) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        raise ValueError(f"refusing to write {path}: no rows. Fix: check the source, --limit and the rejection report.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    table = pa.Table.from_pylist(rows)
    temporary = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, temporary)
    os.replace(temporary, path)
    return path


def write_rl_parquet(records: Iterable[Record], path: str, *, instruction: str = STUDENT_INSTRUCTION) -> str:
    """The RL training parquet of ``records`` (columns above); returns ``path``."""
    return _write([rl_row(record, index, instruction) for index, record in enumerate(records)], path)


def write_eval_parquet(records: Iterable[Record], path: str, *, instruction: str = STUDENT_INSTRUCTION) -> str:
    """One benchmark's eval parquet: the RL format (verl's ``data.val_files`` reads the same columns)."""
    return write_rl_parquet(records, path, instruction=instruction)


def write_sft_parquet(pairs: Iterable[tuple[Record, str]], path: str, *, instruction: str = STUDENT_INSTRUCTION) -> str:
    """An SFT parquet of ``(record, target)`` pairs in verl's multi-turn ``messages`` format; returns ``path``."""
    return _write([sft_row(record, target, index, instruction) for index, (record, target) in enumerate(pairs)], path)


def target_token_stats(targets: list[str], tokenizer: Any | None = None) -> dict[str, Any]:
    """Mean/median length of SFT targets: tokens under ``tokenizer`` (the student's) when given, else words."""
    if not targets:
        return {"n": 0}
    if tokenizer is not None:
        lengths = [len(tokenizer(target, add_special_tokens=False)["input_ids"]) for target in targets]
        unit = "tokens"
    else:
        lengths = [len(target.split()) for target in targets]
        unit = "words (no --student-tokenizer given)"
    return {
        "n": len(lengths),
        "unit": unit,
        "mean": round(statistics.fmean(lengths), 1),
        "median": statistics.median(lengths),
        "max": max(lengths),
    }
