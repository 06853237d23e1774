"""Run JSONs: one file per method x model x benchmark, written atomically and merged by the newest.

A *run* is one method x model x benchmark, and the training seed of the model when given (``--seed``):
``runs/<method>__<model>__<benchmark>-<hash>.json``, or ``...__<benchmark>__seed<seed>-<hash>.json`` with a seed.
The file name is a function of the labels, so re-evaluating the same labels overwrites its file, and the merge
additionally keeps only the newest file per labels (files copied from elsewhere can carry other names). Each run JSON
holds the benchmark's metrics and its calibration points: ``judged`` (confidence, correct) of computed numbers and
``answer_points`` (confidence, correct) of final answers, so the table (``verl_ccrl.eval.table``) can pool
calibration over a row's benchmarks without the sample files.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from verl_ccrl.eval.config import EvalError

__all__ = ["RUN_SCHEMA", "find_run_files", "finite_or_none", "load_runs", "now_iso", "run_file_name", "write_json"]

logger = logging.getLogger(__name__)

RUN_SCHEMA = "verl_ccrl.eval/run"
RUN_REQUIRED_KEYS = ("method", "model_name", "benchmark", "metrics")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def run_file_name(method: str, model_name: str, benchmark: str, seed: int | None = None) -> str:
    """File name of a run, stable in its labels (the hash keeps 'CoT SFT' and 'CoT-SFT' apart).

    A run without a seed keeps the name it had before seeds existed, so old results still merge and a rerun still
    replaces them.

    >>> run_file_name("CoMT+CCRL", "Qwen2.5-1.5B", "gsm8k")
    'CoMT-CCRL__Qwen2.5-1.5B__gsm8k-f190d7d0.json'
    >>> run_file_name("CoMT+CCRL", "Qwen2.5-1.5B", "gsm8k", seed=2)
    'CoMT-CCRL__Qwen2.5-1.5B__gsm8k__seed2-edd7e130.json'
    """
    labels: list = [method, model_name, benchmark] + ([] if seed is None else [seed])
    digest = hashlib.sha1(json.dumps(labels).encode()).hexdigest()[:8]
    seed_part = "" if seed is None else f"__seed{seed}"
    return f"{_slug(method)}__{_slug(model_name)}__{_slug(benchmark)}{seed_part}-{digest}.json"


def finite_or_none(value: Any) -> Any:
    """NaN is not JSON; undefined metrics (e.g. no wrong number) are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


def write_json(path: str, payload: dict[str, Any]) -> str:
    """Write atomically (temporary file + rename): a table merge never reads half a run."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as handle:
        json.dump(finite_or_none(payload), handle, indent=1, allow_nan=False)
        handle.write("\n")
    os.replace(temporary, path)
    return path


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def find_run_files(runs_dir: str) -> list[str]:
    """Every ``*.json`` under ``runs_dir`` (recursively); :func:`load_runs` keeps the run JSONs among them."""
    return sorted(glob.glob(os.path.join(runs_dir, "**", "*.json"), recursive=True))


def load_runs(paths: Iterable[str], *, strict_paths: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The run JSONs among ``paths``, one per method x model x benchmark x seed (the newest ``created_at`` wins).

    Files that are not run JSONs are skipped, except those in ``strict_paths`` (given by the user with --merge),
    which raise :class:`EvalError`; a run JSON with missing keys always raises, naming the file and the keys.
    """
    strict = {os.path.abspath(path) for path in strict_paths}
    chosen: dict[tuple[str, str, str, Any], dict[str, Any]] = {}
    for path in dict.fromkeys(os.path.abspath(p) for p in paths):
        try:
            with open(path) as handle:
                payload = json.load(handle)
        except (OSError, ValueError) as error:
            if path in strict:
                raise EvalError(f"{path}: not a readable JSON file ({error}). Pass run JSONs from runs/.") from error
            continue
        if not isinstance(payload, dict) or payload.get("schema") != RUN_SCHEMA:
            if path in strict:
                raise EvalError(
                    f"{path}: not a run JSON (its 'schema' is not {RUN_SCHEMA!r}). Pass files from an evaluation's "
                    "runs/ directory."
                )
            continue
        missing = [key for key in RUN_REQUIRED_KEYS if key not in payload]
        if missing:
            raise EvalError(f"{path}: run JSON without {missing}. Re-run the evaluation that wrote it, or delete it.")
        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise EvalError(f"{path}: 'seed' is {seed!r}, not an integer or null. Fix it, or re-run the evaluation.")
        payload["_path"] = path
        key = (payload["method"], payload["model_name"], payload["benchmark"], payload.get("seed"))
        previous = chosen.get(key)
        if previous is None or str(payload.get("created_at", "")) >= str(previous.get("created_at", "")):
            if previous is not None:
                logger.warning("%s replaces the older run %s of %s", path, previous["_path"], key)
            chosen[key] = payload
        else:
            logger.warning("%s is older than %s for %s; ignored", path, previous["_path"], key)
    return list(chosen.values())
