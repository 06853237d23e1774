"""An append-only JSONL store of teacher results: paid-for calls are never lost and never duplicated.

Every teacher result is one JSON line, appended with a single ``write`` to a file opened with ``O_APPEND`` before the
run counts it. A request is keyed by (source/split/id, prompt version, teacher, sampling parameters); each attempt
of a request is one line ``(key, attempt)``. Rerunning reads the store and skips what is done, so after a
``kill -9`` only the requests in flight at that moment are sent again.

Crash safety: a process killed mid-``write`` can leave at most one partial last line; opening the store truncates
it (logged) before appending. A line is written whole before it is counted and the kernel keeps it when the
process dies; ``fsync=True`` also survives power loss, at a cost of a disk flush per result. An exclusive
``flock`` on ``<path>.lock`` stops two runs from appending to one store at the same time.

Example::

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "results.jsonl")
    >>> key = request_key("demo/train/1", "comt-v1", "template", {"temperature": 0.0})
    >>> with ResultStore(path) as store:
    ...     store.append({"key": key, "attempt": 0, "text": "total = a * b", "valid": True})
    >>> with ResultStore(path) as store:
    ...     [entry["text"] for entry in store.attempts(key)], len(store)
    (['total = a * b'], 1)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["ResultStore", "StoreLockedError", "StoreReadError", "request_key"]

logger = logging.getLogger(__name__)


class StoreLockedError(RuntimeError):
    """Another process holds the store's lock."""


class StoreReadError(ValueError):
    """The store cannot be read as it is (a path that is a directory, a line that is not UTF-8); the message says
    the file, the line and the fix."""


def request_key(record_key: str, prompt_version: str, teacher: str, sampling: dict[str, Any]) -> str:
    """A stable key for one teacher request: readable prefix plus a hash of everything that changes its output.

    >>> key = request_key("gsm8k/train/0", "comt-v1", "openai:llama", {"temperature": 0.7})
    >>> key.startswith("gsm8k/train/0|comt-v1|"), key == request_key("gsm8k/train/0", "comt-v1", "openai:llama",
    ...                                                              {"temperature": 1.0})
    (True, False)
    """
    identity = json.dumps(
        {"record": record_key, "prompt": prompt_version, "teacher": teacher, "sampling": sampling}, sort_keys=True
    )
    return f"{record_key}|{prompt_version}|{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


class ResultStore:
    """Append-only JSONL of teacher results, indexed by ``(key, attempt)``. Use as a context manager.

    ``repair`` (default) truncates a partial last line left by a killed writer; ``fsync`` flushes each line to disk.
    Loading keeps the first line of a duplicated ``(key, attempt)`` and counts the rest in ``duplicates`` (a store
    written only by this class has none). A line with bytes that are not UTF-8 (a disk or copy fault: this class
    writes UTF-8 only) raises :class:`StoreReadError` naming the file and line, unless ``skip_malformed``: then it
    is skipped, counted in ``undecodable_lines`` and its request is sent again, so the store resumes as it is.
    """

    def __init__(
        self, path: str, *, fsync: bool = False, lock: bool = True, repair: bool = True, skip_malformed: bool = False
    ):
        self.path = os.path.abspath(path)
        self.fsync = fsync
        self.lock = lock
        self.repair = repair
        self.skip_malformed = skip_malformed
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._count = 0
        self.duplicates = 0
        self.corrupt_lines = 0
        self.undecodable_lines = 0
        self.repaired_bytes = 0
        self.appended = 0

    # ------------------------------------------------------------------------------------------- lifecycle
    def open(self) -> ResultStore:
        if os.path.isdir(self.path):
            raise StoreReadError(
                f"store {self.path} is a directory. Fix: give --store a file path, e.g. "
                f"{os.path.join(self.path, 'teacher_results.jsonl')}."
            )
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        if self.lock:
            self._acquire_lock()
        try:
            if self.repair:
                self._repair_tail()
            self._load()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            self.close()  # a store that cannot be read must not stay locked
            raise
        return self

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> ResultStore:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _acquire_lock(self) -> None:
        import fcntl

        self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise StoreLockedError(
                f"store {self.path} is in use by another process (lock {self.path}.lock). Fix: wait for that run to "
                "finish, or give this run its own --store path."
            ) from error

    def _repair_tail(self) -> None:
        if not os.path.exists(self.path):
            return
        size = os.path.getsize(self.path)
        if size == 0:
            return
        with open(self.path, "rb+") as handle:
            handle.seek(max(0, size - 1))
            if handle.read(1) == b"\n":
                return
            # Find the last complete line and cut what follows it: a write interrupted by a kill.
            block, position = 65536, size
            cut = 0
            while position > 0:
                start = max(0, position - block)
                handle.seek(start)
                chunk = handle.read(position - start)
                index = chunk.rfind(b"\n")
                if index >= 0:
                    cut = start + index + 1
                    break
                position = start
            handle.truncate(cut)
        self.repaired_bytes = size - cut
        logger.warning(
            "%s: removed a partial last line (%d bytes) left by an interrupted write.", self.path, self.repaired_bytes
        )

    def _load(self) -> None:
        self._by_key.clear()
        self._count = 0
        if not os.path.exists(self.path):
            return
        seen: set[tuple[str, int]] = set()
        with open(self.path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                line = self._decode(raw, line_number)
                if line is None or not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    ident = (entry["key"], int(entry.get("attempt", 0)))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    self.corrupt_lines += 1
                    logger.warning("%s: line %d is not a store entry; ignored.", self.path, line_number)
                    continue
                if ident in seen:
                    self.duplicates += 1
                    continue
                seen.add(ident)
                self._by_key.setdefault(ident[0], []).append(entry)
                self._count += 1
        for entries in self._by_key.values():
            entries.sort(key=lambda entry: int(entry.get("attempt", 0)))

    def _decode(self, raw: bytes, line_number: int) -> str | None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            where = (
                f"{self.path}: line {line_number}, column {error.start + 1}: byte {raw[error.start]:#04x} is not UTF-8"
            )
            if not self.skip_malformed:
                raise StoreReadError(
                    f"{where}. Fix: rerun with --skip-malformed to skip the line (its request is sent again), or "
                    "delete that line."
                ) from None
            self.undecodable_lines += 1
            logger.warning("%s; skipped (--skip-malformed): its request is sent again.", where)
            return None

    # ------------------------------------------------------------------------------------------------ use
    def append(self, entry: dict[str, Any]) -> None:
        """Write one result (needs ``key``; ``attempt`` defaults to 0) as one line, then index it.

        Raises ``ValueError`` if that ``(key, attempt)`` is already stored: a caller bug that would duplicate work.
        """
        if self._fd is None:
            raise RuntimeError("ResultStore.append on a closed store. Fix: use `with ResultStore(path) as store:`.")
        if "key" not in entry:
            raise ValueError("ResultStore.append: entry has no 'key'.")
        entry = dict(entry)
        entry.setdefault("attempt", 0)
        entry.setdefault("time", round(time.time(), 3))
        attempts = self._by_key.get(entry["key"], [])
        if any(int(old.get("attempt", 0)) == int(entry["attempt"]) for old in attempts):
            raise ValueError(f"ResultStore.append: ({entry['key']!r}, attempt {entry['attempt']}) is already stored.")
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        written = 0
        while written < len(data):  # one write() in practice; loop only on a short write
            written += os.write(self._fd, data[written:])
        if self.fsync:
            os.fsync(self._fd)
        self._by_key.setdefault(entry["key"], []).append(entry)
        self._count += 1
        self.appended += 1

    def attempts(self, key: str) -> list[dict[str, Any]]:
        """Stored attempts of ``key``, by attempt number."""
        return list(self._by_key.get(key, ()))

    def first_valid(self, key: str) -> dict[str, Any] | None:
        return next((entry for entry in self._by_key.get(key, ()) if entry.get("valid")), None)

    def entries(self) -> Iterator[dict[str, Any]]:
        for entries in self._by_key.values():
            yield from entries

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: str) -> bool:
        return key in self._by_key
