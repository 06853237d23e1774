"""Where a source's raw rows come from: a local file, the Hugging Face hub, or reasoning-gym's offline generator.

Each reader yields ``(row label, row)``; the label is what an error names (``line 3`` of a JSONL file, a 0-based
position otherwise).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from data_prep.records import DataError

__all__ = ["RG_DEFAULT_SIZE", "SourceUnavailableError", "generated_rows", "hub_rows", "iter_file_rows"]


class SourceUnavailableError(RuntimeError):
    """A source that cannot be read here (hub unreachable, generator not installed); the message says the fix."""


# Sizes and seed offsets of the offline generator's splits (disjoint seeds give different problems).
RG_DEFAULT_SIZE = {"train": 2000, "test": 500}
_RG_SEED_OFFSET = {"train": 0, "test": 1_000_003}


def iter_file_rows(path: str) -> Iterator[tuple[str, dict[str, Any] | Any]]:
    """``(row label, row)`` of a local ``.jsonl``/``.json``/``.parquet``/``.csv`` file; labels are ``line N``
    (1-based) for JSONL and 0-based positions (or object keys) otherwise. A JSONL line that is not JSON, or not UTF-8, yields a
    DataError object in place of the row (the caller stops on it or skips it)."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"input_path={path!r} does not exist. Fix: pass an existing .jsonl/.json/.parquet file."
        )
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        with open(path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                label = f"line {line_number}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    fix = "re-encode the file as UTF-8, or pass --skip-malformed to skip the line."
                    yield label, _not_utf8(path, line_number, error.start + 1, raw[error.start], fix)
                    continue
                if not line.strip():
                    continue
                try:
                    yield label, json.loads(line)
                except json.JSONDecodeError as error:
                    yield label, DataError(path, label, "<json>", f"not JSON: {error}.")
    elif lower.endswith(".json"):
        try:
            data = json.loads(_whole_text(path))
        except json.JSONDecodeError as error:
            raise DataError(path, f"line {error.lineno}", "<json>", f"not JSON: {error.msg}.") from None
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
        import io

        import pandas as pd

        for index, row in enumerate(pd.read_csv(io.StringIO(_whole_text(path))).to_dict(orient="records")):
            yield str(index), row
    else:
        raise ValueError(f"input_path={path!r}: unknown extension. Fix: use .jsonl, .json, .parquet or .csv.")


def _not_utf8(path: str, line_number: int, column: int, byte: int, fix: str) -> DataError:
    return DataError(path, f"line {line_number}", "<bytes>", f"byte {byte:#04x} at column {column} is not UTF-8.", fix)


def _whole_text(path: str) -> str:
    """A .json/.csv file's text; undecodable bytes name their line (one document: the line cannot be skipped)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        fix = "re-encode the file as UTF-8 (the file is one document: its lines cannot be skipped)."
        raise _not_utf8(path, line_number, column, data[error.start], fix) from None


def hub_rows(spec: Any, split: str, hub_id: str | None, hub_config: str | None) -> Iterator[tuple[str, Any]]:
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


def generated_rows(split: str, limit: int | None, seed: int) -> Iterator[tuple[str, Any]]:
    try:
        import reasoning_gym
    except ImportError as error:
        raise SourceUnavailableError(
            "source 'reasoning_gym_gsm' generates problems with reasoning-gym, which is not installed. Fix: "
            "pip install reasoning-gym==0.1.25 (or pip install 'verl-ccrl[test]')."
        ) from error

    size = limit if limit else RG_DEFAULT_SIZE.get(split, 500)
    dataset = reasoning_gym.create_dataset("gsm_symbolic", size=size, seed=seed + _RG_SEED_OFFSET.get(split, 7919))
    for index in range(size):
        row = dict(dataset[index])
        row["id"] = f"{split}-s{seed}-{index}"
        yield str(index), row
