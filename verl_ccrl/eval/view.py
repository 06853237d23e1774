"""The viewer: one self-contained HTML page showing every response the reward saw, every number in it marked.

``python -m verl_ccrl.eval view RESULTS_DIR [LABEL=RECORD_DIR ...] --out report.html [--tokenizer MODEL_DIR]``
(each input is an evaluation's out dir, or a record dir: one holding ``ccrl-rewards-*.jsonl``; LABEL names its
method, default the directory's name)

Inputs: an evaluation's output directory (its ``runs/*.json`` name the method, model, benchmark and seed of each
``samples/*.jsonl``), and directories of training records (``VERL_CCRL_RECORD_DIR`` of the ``ccrl`` reward
manager: ``ccrl-rewards-<pid>.jsonl``, one JSON line per scored response). Records hold token ids, not text: they
are decoded with ``--tokenizer`` (the policy's) and replayed with the default ``CCRLConfig`` through
:func:`verl_ccrl.eval.scoring.score_sample`, so a record and an evaluation sample become the same row; their
correctness and reward are the recorded ones. A record line's order in its file stands for its step (records carry
no step number).

Each number is marked (:func:`number_mark`): ``given`` (in the problem), ``correct``, ``wrong``, ``unverifiable``,
or ``restatement`` (it repeats an earlier computed value and is unverifiable for that reason). The reliability
diagram and overconfident-error rates per method come from :func:`verl_ccrl.eval.scoring.calibration_summary` and
:func:`verl_ccrl.eval.scoring.reliability_bins` (the project's one calibration function), and each calibration
point carries its bin (:func:`verl_ccrl.calibration.bin_index`) so a click on a bin lists its numbers.

The page (``view_page.html`` + ``view_page.js``, inlined) needs no server and no network. Model text is data: it
is embedded as JSON in a ``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, the page
renders it with ``textContent`` only, and a Content-Security-Policy allows no script but the page's own (by hash).
Unreadable JSONL lines are skipped and counted (a warning names the file; the page shows the count).

Example::

    >>> number_mark({"kind": "computed", "verdict": "unverifiable", "reason": "restates 84 at 9"})
    'restatement'
    >>> script_json({"text": "</script><b>&"})
    '{"text":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from verl_ccrl.calibration import bin_index
from verl_ccrl.eval.config import EvalError
from verl_ccrl.eval.data import EvalExample
from verl_ccrl.eval.results import find_run_files, finite_or_none, load_runs
from verl_ccrl.eval.scoring import (
    OVERCONFIDENCE_THRESHOLDS,
    RELIABILITY_BINS,
    calibration_summary,
    judged_points,
    reliability_bins,
)

__all__ = [
    "MARKS",
    "build_page",
    "is_record_dir",
    "number_mark",
    "page_data",
    "read_records",
    "read_results",
    "script_json",
    "write_page",
]

logger = logging.getLogger(__name__)

MARKS = ("given", "correct", "wrong", "unverifiable", "restatement")
RECORD_GLOB = "ccrl-rewards-*.jsonl"  # the ccrl reward manager's files (integration/reward_manager.py)


def number_mark(number: dict[str, Any]) -> str:
    """How the page marks a number of a sample record: one of :data:`MARKS`. A restatement is an unverifiable
    computed number whose reason is "restates ..." (``verl_ccrl.analysis``); with ``restatement_policy='inherit'``
    it has the earlier verdict and is marked by it."""
    if number["kind"] == "extracted":
        return "given"
    if number["verdict"] in ("correct", "wrong"):
        return number["verdict"]
    return "restatement" if str(number.get("reason") or "").startswith("restates ") else "unverifiable"


def _read_jsonl(path: str, skipped: dict[str, int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each JSON-object line; others are counted in ``skipped[path]``."""
    try:
        handle = open(path, encoding="utf-8", errors="replace")
    except OSError as error:
        raise EvalError(f"{path}: cannot be read ({error.strerror}). Check the path and its permissions.") from error
    with handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                yield line_number, payload
            else:
                skipped[path] = skipped.get(path, 0) + 1


def _is_sample(record: dict[str, Any]) -> bool:
    """Whether a samples line has what the page reads: the response and numbers with span, kind and verdict."""
    numbers = record.get("numbers")
    return (
        isinstance(record.get("response"), str)
        and isinstance(numbers, list)
        and all(
            isinstance(number, dict)
            and isinstance(number.get("start"), int)
            and isinstance(number.get("end"), int)
            and isinstance(number.get("kind"), str)
            and (number.get("confidence") is None or isinstance(number["confidence"], int | float))
            and "verdict" in number
            for number in numbers
        )
    )


def _require_directory(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise EvalError(f"{path}: no such directory. Pass {what}.")


def read_results(results_dir: str, skipped: dict[str, int]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(labels, sample record) of every response in the samples of the run JSONs under ``results_dir``."""
    _require_directory(results_dir, "an evaluation's --out-dir (it holds runs/ and samples/)")
    runs = load_runs(find_run_files(results_dir))
    if not runs:
        raise EvalError(
            f"{results_dir}: no run JSON under it. Pass the --out-dir of `python -m verl_ccrl.eval` (runs/*.json)."
        )
    samples = []
    for run in sorted(runs, key=lambda r: (r["method"], r["model_name"], r["benchmark"], str(r.get("seed")))):
        if not run.get("samples_file"):
            logger.warning("%s names no samples file; its responses are not shown", run["_path"])
            continue
        path = os.path.normpath(os.path.join(os.path.dirname(run["_path"]), run["samples_file"]))
        if not os.path.isfile(path):
            logger.warning("%s: missing (named by %s); its responses are not shown", path, run["_path"])
            skipped[path] = skipped.get(path, 0)
            continue
        labels = {"method": run["method"], "model": run["model_name"], "benchmark": run["benchmark"]}
        labels["seed"] = run.get("seed")
        for line_number, record in _read_jsonl(path, skipped):
            if not _is_sample(record):
                skipped[path] = skipped.get(path, 0) + 1
                continue
            samples.append(({**labels, "source": "eval", "where": f"{path}:{line_number}"}, record))
    return samples


def _load_tokenizer(path: str | None, record_dir: str):
    if not path:
        raise EvalError(
            f"{record_dir}: training records hold token ids, not text. Pass --tokenizer MODEL_DIR (the policy's "
            "tokenizer) to decode them."
        )
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise EvalError(
            f"--tokenizer {path}: no tokenizer loads from it ({error}). Pass the policy's model dir."
        ) from error


def read_records(
    record_dir: str, label: str, tokenizer_path: str | None, skipped: dict[str, int]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(labels, sample record) of every training record under ``record_dir``, replayed with ``score_sample``."""
    from verl_ccrl.alignment import TokenAligner
    from verl_ccrl.config import CCRLConfig
    from verl_ccrl.eval.scoring import score_sample

    _require_directory(record_dir, "the VERL_CCRL_RECORD_DIR of a training run")
    paths = sorted(glob.glob(os.path.join(record_dir, RECORD_GLOB)))
    if not paths:
        raise EvalError(
            f"{record_dir}: no {RECORD_GLOB} in it. Set VERL_CCRL_RECORD_DIR to a directory for a training run "
            "(the ccrl reward manager writes ccrl-rewards-<pid>.jsonl there) and pass that directory."
        )
    tokenizer = _load_tokenizer(tokenizer_path, record_dir)
    aligner, config = TokenAligner(tokenizer), CCRLConfig()
    samples = []
    for path in paths:
        for line_number, record in _read_jsonl(path, skipped):
            ids = record.get("response_ids")
            info = record.get("reward_extra_info") if isinstance(record.get("reward_extra_info"), dict) else {}
            if not isinstance(ids, list) or record.get("ground_truth") is None:
                skipped[path] = skipped.get(path, 0) + 1
                continue
            try:
                example = EvalExample(
                    label, line_number, [], str(record.get("problem") or ""), str(record["ground_truth"]),
                    record.get("reference"), tuple(record.get("reference_values") or ()), path, line_number,
                )  # fmt: skip
                text = tokenizer.decode(ids, skip_special_tokens=True)
                scored = score_sample(
                    example, text, token_spans=aligner.char_spans(ids, text), entropies=record.get("entropies"),
                    n_tokens=len(ids), finish_reason="", config=config,
                )  # fmt: skip
            except Exception as error:  # a torn field (ids, entropies): the line is skipped and counted
                logger.warning("%s:%d: not replayable (%r); skipped", path, line_number, error)
                skipped[path] = skipped.get(path, 0) + 1
                continue
            if "acc" in info:
                scored["correct"] = bool(info["acc"])
            scored["reward"] = record.get("reward")
            labels = {"method": label, "model": "", "benchmark": "training", "seed": None, "source": "train"}
            samples.append(({**labels, "step": line_number, "where": f"{path}:{line_number}"}, scored))
    return samples


def _page_numbers(record: dict[str, Any]) -> list[list[Any]]:
    """[start, end, mark, confidence, reason, mean entropy, first token, last token, bin] of each number."""
    numbers = []
    for number in record["numbers"]:
        mark = number_mark(number)
        confidence = number.get("confidence")
        tokens = number.get("tokens") or []
        in_calibration = mark in ("correct", "wrong") and confidence is not None
        numbers.append(
            [
                number["start"], number["end"], MARKS.index(mark), confidence, number.get("reason") or "",
                number.get("mean_entropy"), tokens[0] if tokens else None, tokens[-1] if tokens else None,
                bin_index(confidence, RELIABILITY_BINS) if in_calibration else -1,
            ]
        )  # fmt: skip
    return numbers


def _calibration(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    points = judged_points(records)
    return {"summary": calibration_summary(points), "bins": reliability_bins(points)}


def page_data(samples: Sequence[tuple[dict[str, Any], dict[str, Any]]], skipped: dict[str, int]) -> dict[str, Any]:
    """The page's JSON: problems (shared by the methods that answered them), rows, calibration per method."""
    problems: dict[tuple[str, str], int] = {}
    problem_list, rows, by_method = [], [], {}
    for labels, record in samples:
        key = (labels["benchmark"], str(record.get("question") or ""))
        if key not in problems:
            problems[key] = len(problem_list)
            problem_list.append([key[0], key[1], str(record.get("ground_truth") or "")])
        by_method.setdefault(labels["method"], []).append(record)
        rows.append(
            {
                "method": labels["method"], "model": labels["model"], "seed": labels["seed"],
                "source": labels["source"], "step": labels.get("step"), "where": labels["where"],
                "problem": problems[key], "response": record["response"], "answer": record.get("answer"),
                "correct": bool(record.get("correct")), "answer_confidence": record.get("answer_confidence"),
                "reward": record.get("reward"), "numbers": _page_numbers(record),
            }
        )  # fmt: skip
    return finite_or_none(
        {
            "marks": MARKS,
            "thresholds": list(OVERCONFIDENCE_THRESHOLDS),
            "n_bins": RELIABILITY_BINS,
            "problems": problem_list,
            "rows": rows,
            "calibration": {method: _calibration(records) for method, records in by_method.items()},
            "skipped": {path: count for path, count in skipped.items()},
        }
    )


def script_json(payload: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` (so no ``</script>``)."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("verl_ccrl.eval").joinpath(name).read_text(encoding="utf-8")


def build_page(data: dict[str, Any], title: str = "verl-ccrl: what the reward saw") -> str:
    """The self-contained HTML of ``data`` (:func:`page_data`)."""
    script = _asset("view_page.js")
    values = {
        "TITLE": title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        "SCRIPT_HASH": base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii"),
        "DATA": script_json(data),
        "SCRIPT": script,
    }
    # One pass over the template: a marker inside the data (a response may contain "{{SCRIPT}}") is not replaced.
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda match: values[match.group(1)], _asset("view_page.html"))


def is_record_dir(path: str) -> bool:
    """Whether ``path`` holds training records (``ccrl-rewards-*.jsonl``) rather than evaluation results."""
    return bool(glob.glob(os.path.join(path, RECORD_GLOB)))


def write_page(inputs: Sequence[str], out: str, tokenizer: str | None = None) -> dict[str, Any]:
    """Read every input (an evaluation's out dir, or ``[LABEL=]RECORD_DIR``), write the page to ``out``
    atomically; returns counts for the command's summary."""
    skipped: dict[str, int] = {}
    samples = []
    for argument in inputs:
        label, separator, path = argument.partition("=")
        if not separator or os.path.exists(argument):
            label, path = "", argument
        if is_record_dir(path):
            label = label or os.path.basename(os.path.normpath(path))
            samples.extend(read_records(path, label, tokenizer, skipped))
        else:
            samples.extend(read_results(path, skipped))
    for path, count in skipped.items():
        if count:
            logger.warning("%s: %d unreadable line(s) skipped", path, count)
    page = build_page(page_data(samples, skipped))
    temporary = f"{out}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temporary, out)
    except OSError as error:
        raise EvalError(f"--out {out}: cannot be written ({error.strerror}). Pass a writable path.") from error
    return {"responses": len(samples), "skipped_lines": sum(skipped.values()), "page": out}
