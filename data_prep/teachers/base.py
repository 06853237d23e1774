"""What every teacher backend shares: the interface, its sampling parameters, its output and its failure.

Every teacher has ``name`` (its identity in the result-store key), ``concurrency`` (how many ``generate`` calls may be
in flight at once) and ``batch_size`` (how many conversations one call takes), and::

    await teacher.start()                                   # load the model / resolve the served model name
    generations = await teacher.generate(messages_batch, sampling)   # one TeacherReply per conversation
    await teacher.close()

A network teacher takes one conversation per call and many calls at once (``concurrency`` = in-flight requests);
an in-process engine takes large batches one call at a time. ``generate`` raises :class:`TeacherError` when a
request fails for good (after retries); the caller stores nothing for it and a rerun sends it again.

Example::

    >>> SamplingParams(temperature=0.0).as_dict()
    {'temperature': 0.0, 'top_p': 0.95, 'max_tokens': 512, 'seed': None}
    >>> SamplingParams(top_p=0)
    Traceback (most recent call last):
    ...
    ValueError: SamplingParams.top_p=0 must be in (0, 1]. Fix: use 1.0 to disable.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["TeacherReply", "InProcessTeacher", "Messages", "SamplingParams", "Teacher", "TeacherError"]

Messages = list[dict[str, str]]


class TeacherError(RuntimeError):
    """A request that failed for good (after retries); ``retryable`` says whether a rerun may succeed."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SamplingParams:
    """Sampling of the teacher; part of the store key, so changing any field starts a fresh set of requests."""

    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (0 = greedy). >= 0."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass in (0, 1]."})
    max_tokens: int = field(default=512, metadata={"help": "Most tokens one meta-thought may take. >= 1."})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed passed to the backend, or None."})

    def __post_init__(self):
        if not isinstance(self.temperature, int | float) or self.temperature < 0:
            raise ValueError(f"SamplingParams.temperature={self.temperature!r} must be a number >= 0 (0 is greedy).")
        if not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p={self.top_p!r} must be in (0, 1]. Fix: use 1.0 to disable.")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(f"SamplingParams.max_tokens={self.max_tokens!r} must be an int >= 1 (e.g. 512).")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TeacherReply:
    """One teacher output: text, why it stopped (``"stop"``, ``"length"``...) and its token count when known."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int | None = None


@runtime_checkable
class Teacher(Protocol):
    name: str
    concurrency: int
    batch_size: int

    async def start(self) -> None: ...

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[TeacherReply]: ...

    async def close(self) -> None: ...


class InProcessTeacher:
    """A model engine in this process: one call at a time, large batches, run in a worker thread.

    Subclasses load the engine in ``start`` and implement ``_loaded`` and ``_generate_sync``.
    """

    concurrency = 1

    def _loaded(self) -> bool:
        raise NotImplementedError

    def _generate_sync(self, messages_batch: list[Messages], sampling: SamplingParams) -> list[TeacherReply]:
        raise NotImplementedError

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[TeacherReply]:
        sampling = sampling or SamplingParams()
        if not self._loaded():
            name = type(self).__name__
            raise RuntimeError(f"{name}.generate before start(). Fix: await teacher.start() first.")
        # The engine blocks; a thread keeps the event loop (progress, store appends) responsive.
        return await asyncio.to_thread(self._generate_sync, messages_batch, sampling)
