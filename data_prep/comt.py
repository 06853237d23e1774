"""Chain-of-Meta-Thought generation: ask the teacher, validate, regenerate, and store every result.

A meta-thought is valid when it is not empty, fits the length cap, was not cut off at ``max_tokens``, and contains
no *computed* number: every numeral in it must be a value the problem gives (the core's
:func:`verl_ccrl.analyze_response`, kind ``"computed"``; written-out problem numbers such as "twice" count as given).
An invalid one is regenerated, up to ``max_attempts`` teacher calls per problem; each rejected attempt is stored
with the reasons it failed (``computed_numbers: 36, 53``, ``empty``, ``too_long: 2400 chars > 2000``,
``truncated``, ``unreadable: ...`` when the number reader gives up on the text).

Every attempt goes to the :class:`~data_prep.store.ResultStore` before it is counted; problems already finished
in the store (a valid attempt, or ``max_attempts`` rejected ones) are skipped, and a problem with rejected attempts
resumes at its next attempt.

Example (the demo teacher; no model)::

    >>> import os, tempfile
    >>> from data_prep.records import Record
    >>> from data_prep.store import ResultStore
    >>> from data_prep.teachers import TemplateTeacher
    >>> record = Record("1", "demo", "train", "A box holds 12 eggs. Tom buys 7 boxes. How many eggs?", "84",
    ...                 "7 * 12 = <<7*12=84>>84 eggs\\n#### 84", ("84",))
    >>> with ResultStore(os.path.join(tempfile.mkdtemp(), "s.jsonl")) as store:
    ...     run = generate_comt([record], TemplateTeacher(), store, progress=False)
    >>> run.accepted, run.rejected, run.teacher_calls
    (1, 0, 1)
    >>> print(run.meta_thoughts[record.key])
    Step 1: 7 * 12 = result_1 eggs
    The answer is result_1.
    >>> validate_meta_thought("Tom buys 7 boxes of 12.", "total = 7 * 12 = 84")
    ['computed_numbers: 84']
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from data_prep.prompts import ComtTemplate, comt_template
from data_prep.records import Record
from data_prep.store import ResultStore, request_key
from data_prep.teachers import SamplingParams, TeacherError, TeacherReply
from verl_ccrl import analyze_response

__all__ = [
    "ComtConfig",
    "ComtRun",
    "clean_meta_thought",
    "generate_comt",
    "generate_comt_async",
    "validate_meta_thought",
]

logger = logging.getLogger(__name__)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_LABEL = re.compile(r"^\s*(?:\*\*)?meta[- ]thought(?:\*\*)?\s*:\s*", re.IGNORECASE)


@dataclass
class ComtConfig:
    """How CoMT generation validates and retries (the CLI's flags of the same names)."""

    max_attempts: int = field(
        default=3,
        metadata={
            "help": "Teacher calls per problem at most: the first plus up to max_attempts-1 regenerations of "
            "rejected meta-thoughts. >= 1."
        },
    )
    max_chars: int = field(
        default=2000,
        metadata={
            "help": "Length cap of a meta-thought in characters (the paper's targets average ~133 tokens, "
            "~600 characters). >= 1."
        },
    )
    sampling: SamplingParams = field(
        default_factory=SamplingParams,
        metadata={
            "help": "Teacher sampling; part of the store key. Use temperature > 0 when max_attempts > 1, "
            "or regenerations repeat the same output."
        },
    )
    max_consecutive_failures: int = field(
        default=20,
        metadata={
            "help": "Abort after this many teacher failures in a row (after the backend's own retries): "
            "the servers are down. >= 1."
        },
    )

    def __post_init__(self):
        for name in ("max_attempts", "max_chars", "max_consecutive_failures"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ComtConfig.{name}={value!r} must be an int >= 1. Fix: see its help text.")
        if not isinstance(self.sampling, SamplingParams):
            raise TypeError(f"ComtConfig.sampling must be a SamplingParams, got {type(self.sampling).__name__}.")
        if self.max_attempts > 1 and self.sampling.temperature == 0:
            logger.warning(
                "max_attempts=%d with temperature 0: a regeneration repeats the rejected output.", self.max_attempts
            )


def clean_meta_thought(text: str) -> str:
    """The teacher's text without ``<think>`` blocks, a leading ``Meta-thought:`` label and outer whitespace."""
    return _LABEL.sub("", _THINK.sub("", text or "")).strip()


def validate_meta_thought(
    question: str, text: str, *, max_chars: int = 2000, finish_reason: str | None = None
) -> list[str]:
    """Why ``text`` is not a valid meta-thought for ``question`` (an empty list when it is valid)."""
    reasons = []
    if not text.strip():
        return ["empty"]
    if finish_reason == "length":
        reasons.append("truncated")
    if len(text) > max_chars:
        reasons.append(f"too_long: {len(text)} chars > {max_chars}")
    computed = [m.text for m in analyze_response(question, text) if m.kind == "computed"]
    if computed:
        shown = list(dict.fromkeys(computed))
        reasons.append("computed_numbers: " + ", ".join(shown[:8]) + (" ..." if len(shown) > 8 else ""))
    return reasons


def _checked(record: Record, text: str, max_chars: int, finish_reason: str | None) -> list[str]:
    """``validate_meta_thought``, where text the number reader gives up on is a rejected attempt, not a crash: a
    deterministic teacher would otherwise stop every rerun at the same output."""
    try:
        return validate_meta_thought(record.question, text, max_chars=max_chars, finish_reason=finish_reason)
    except (ValueError, ArithmeticError, RecursionError) as error:
        return [f"unreadable: {type(error).__name__}: {str(error)[:200]}"]


def reason_class(reason: str) -> str:
    """``computed_numbers: 36, 53`` -> ``computed_numbers``: the tally key of a rejection reason."""
    return reason.split(":", 1)[0]


@dataclass
class ComtRun:
    """What a CoMT run did. Counts cover the problems given; ``meta_thoughts`` maps record key -> accepted text
    (including problems finished in earlier runs)."""

    total: int = 0
    accepted: int = 0
    rejected: int = 0  # problems that used every attempt without a valid meta-thought
    unfinished: int = 0  # problems whose requests failed (not stored): a rerun sends them again
    skipped_done: int = 0  # problems already finished in the store before this run
    teacher_calls: int = 0  # results stored by this run
    failed_calls: int = 0
    rejection_reasons: Counter = field(default_factory=Counter)  # per rejected attempt, over the store
    attempts_histogram: Counter = field(default_factory=Counter)  # accepted problems by attempts used
    elapsed_s: float = 0.0
    teacher: str = ""
    prompt_version: str = ""
    meta_thoughts: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "prompt_version": self.prompt_version,
            "problems": self.total,
            "accepted": self.accepted,
            "rejected_after_max_attempts": self.rejected,
            "unfinished_failed_requests": self.unfinished,
            "already_done_in_store": self.skipped_done,
            "teacher_calls_this_run": self.teacher_calls,
            "failed_calls_this_run": self.failed_calls,
            "acceptance_rate": round(self.accepted / self.total, 4) if self.total else 0.0,
            "rejection_reasons": dict(self.rejection_reasons),
            "attempts_of_accepted": {str(k): v for k, v in sorted(self.attempts_histogram.items())},
            "elapsed_s": round(self.elapsed_s, 2),
            "calls_per_s": round(self.teacher_calls / self.elapsed_s, 2) if self.elapsed_s else 0.0,
        }


class _Abort(TeacherError):
    """The run stopped: the teacher failed for good or too often in a row. Rerunning resumes."""


async def generate_comt_async(
    records: list[Record],
    teacher: Any,
    store: ResultStore,
    config: ComtConfig | None = None,
    template: ComtTemplate | None = None,
    *,
    progress: bool = True,
    started: bool = False,
) -> ComtRun:
    """Generate (or resume) meta-thoughts for ``records``; see the module docstring. The teacher is started and
    closed here unless ``started`` (then the caller owns its lifecycle)."""
    config = config or ComtConfig()
    template = template or comt_template()
    began = time.perf_counter()
    if not started:
        await teacher.start()
    try:
        return await _run(records, teacher, store, config, template, progress, began)
    finally:
        if not started:
            await teacher.close()


async def _run(records, teacher, store, config, template, progress, began) -> ComtRun:
    from tqdm.auto import tqdm

    sampling = config.sampling.as_dict()
    run = ComtRun(total=len(records), teacher=teacher.name, prompt_version=template.version)
    keys = {record.key: request_key(record.key, template.version, teacher.name, sampling) for record in records}
    queue: asyncio.Queue = asyncio.Queue()
    for record in records:
        attempts = store.attempts(keys[record.key])
        if any(entry.get("valid") for entry in attempts) or len(attempts) >= config.max_attempts:
            run.skipped_done += 1
        else:
            queue.put_nowait((record, len(attempts)))
    bar = tqdm(
        total=len(records),
        initial=run.skipped_done,
        unit="problem",
        desc=f"CoMT {teacher.name}",
        disable=not progress,
        dynamic_ncols=True,
    )
    consecutive_failures = 0

    def finish_one() -> None:
        bar.update(1)
        bar.set_postfix(calls=run.teacher_calls, failed=run.failed_calls, refresh=False)

    async def worker() -> None:
        nonlocal consecutive_failures
        while True:
            first = await queue.get()
            batch = [first]
            while len(batch) < teacher.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                messages = [template.render(record.question, record.reference) for record, _ in batch]
                try:
                    generations: list[TeacherReply] = await teacher.generate(messages, config.sampling)
                except TeacherError as error:
                    run.failed_calls += len(batch)
                    run.unfinished += len(batch)
                    consecutive_failures += len(batch)
                    logger.warning("teacher failed for %d request(s): %s", len(batch), error)
                    for _ in batch:
                        finish_one()
                    if not error.retryable or consecutive_failures >= config.max_consecutive_failures:
                        raise _Abort(
                            f"stopping CoMT generation: {error} ({consecutive_failures} failures in a row). Results so "
                            "far are in the store; rerun the same command to resume.",
                            retryable=False,
                        ) from error
                    continue
                consecutive_failures = 0
                for (record, attempt), generation in zip(batch, generations):
                    text = clean_meta_thought(generation.text)
                    reasons = _checked(record, text, config.max_chars, generation.finish_reason)
                    store.append(
                        {
                            "key": keys[record.key],
                            "attempt": attempt,
                            "record": record.key,
                            "prompt_version": template.version,
                            "teacher": teacher.name,
                            "sampling": sampling,
                            "text": text,
                            "raw": generation.text if generation.text != text else None,
                            "finish_reason": generation.finish_reason,
                            "completion_tokens": generation.completion_tokens,
                            "valid": not reasons,
                            "reasons": reasons,
                        }
                    )
                    run.teacher_calls += 1
                    if reasons and attempt + 1 < config.max_attempts:
                        queue.put_nowait((record, attempt + 1))
                    else:
                        finish_one()
            finally:
                for _ in batch:
                    queue.task_done()

    workers = [asyncio.create_task(worker()) for _ in range(max(1, teacher.concurrency))]
    joined = asyncio.create_task(queue.join())
    try:
        done, _ = await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not joined and task.exception() is not None:
                raise task.exception()
    finally:
        for task in [joined, *workers]:
            task.cancel()
        await asyncio.gather(joined, *workers, return_exceptions=True)
        bar.close()

    # Tally from the store: this run's results and earlier runs' alike.
    for record in records:
        attempts = store.attempts(keys[record.key])
        valid = next((entry for entry in attempts if entry.get("valid")), None)
        for entry in attempts:
            for reason in entry.get("reasons") or ():
                run.rejection_reasons[reason_class(reason)] += 1
        if valid is not None:
            run.accepted += 1
            run.meta_thoughts[record.key] = valid["text"]
            run.attempts_histogram[int(valid["attempt"]) + 1] += 1
        elif len(attempts) >= config.max_attempts:
            run.rejected += 1
    run.unfinished = run.total - run.accepted - run.rejected
    run.elapsed_s = time.perf_counter() - began
    return run


def generate_comt(*args: Any, **kwargs: Any) -> ComtRun:
    """Synchronous :func:`generate_comt_async` (runs its own event loop); the same arguments."""
    return asyncio.run(generate_comt_async(*args, **kwargs))
