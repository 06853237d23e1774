"""Run JSONs: one file per method x model x benchmark, written atomically and merged by the newest.

A *run* is one method x model x benchmark: ``runs/<method>__<model>__<benchmark>-<hash>.json``. The file name is a
function of the three labels, so re-evaluating the same triple overwrites its file, and the merge additionally keeps
only the newest file per triple (files copied from elsewhere can carry other names). Each run JSON holds the
benchmark's metrics and its calibration points (confidence, correct) of computed numbers, so the table
(``verl_ccrl.eval.table``) can pool calibration over a row's benchmarks without the sample files.
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

__all__ = ["RUN_SCHEMA", "find_run_files", "load_runs", "now_iso", "run_file_name", "write_json"]

logger = logging.getLogger(__name__)

RUN_SCHEMA = "verl_ccrl.eval/run"
RUN_REQUIRED_KEYS = ("method", "model_name", "benchmark", "metrics")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def run_file_name(method: str, model_name: str, benchmark: str) -> str:
    """File name of a run, stable in its three labels (the hash keeps 'CoT SFT' and 'CoT-SFT' apart).

    >>> run_file_name("CoMT+CCRL", "Qwen2.5-1.5B", "gsm8k")
    'CoMT-CCRL__Qwen2.5-1.5B__gsm8k-f190d7d0.json'
    """
    digest = hashlib.sha1(json.dumps([method, model_name, benchmark]).encode()).hexdigest()[:8]
    return f"{_slug(method)}__{_slug(model_name)}__{_slug(benchmark)}-{digest}.json"


def _finite_or_none(value: Any) -> Any:
    """NaN is not JSON; undefined metrics (e.g. no wrong number) are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def write_json(path: str, payload: dict[str, Any]) -> str:
    """Write atomically (temporary file + rename): a table merge never reads half a run."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as handle:
        json.dump(_finite_or_none(payload), handle, indent=1, allow_nan=False)
        handle.write("\n")
    os.replace(temporary, path)
    return path


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def find_run_files(runs_dir: str) -> list[str]:
    """Every ``*.json`` under ``runs_dir`` (recursively); :func:`load_runs` keeps the run JSONs among them."""
    return sorted(glob.glob(os.path.join(runs_dir, "**", "*.json"), recursive=True))


def load_runs(paths: Iterable[str], *, strict_paths: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The run JSONs among ``paths``, one per method x model x benchmark (the newest ``created_at`` wins).

    Files that are not run JSONs are skipped, except those in ``strict_paths`` (given by the user with --merge),
    which raise :class:`EvalError`; a run JSON with missing keys always raises, naming the file and the keys.
    """
    strict = {os.path.abspath(path) for path in strict_paths}
    chosen: dict[tuple[str, str, str], dict[str, Any]] = {}
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
        payload["_path"] = path
        key = (payload["method"], payload["model_name"], payload["benchmark"])
        previous = chosen.get(key)
        if previous is None or str(payload.get("created_at", "")) >= str(previous.get("created_at", "")):
            if previous is not None:
                logger.warning("%s replaces the older run %s of %s", path, previous["_path"], key)
            chosen[key] = payload
        else:
            logger.warning("%s is older than %s for %s; ignored", path, previous["_path"], key)
    return list(chosen.values())
