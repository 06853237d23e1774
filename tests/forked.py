"""Run one call in a forked child with a wall-clock bound, so a hang or a crash is a result, not a stuck test.

Used by ``test_bounds.py`` (rows that hung before their fix) and ``benchmarks/fuzz_long.py``. POSIX only (fork).
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ForkedResult", "call_in_fork", "process_cpu_s"]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far, from ``/proc`` (0.0 when it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass(frozen=True)
class ForkedResult:
    """What one forked call did: ``status`` is "ok", "raised" (``error`` holds the traceback), "timeout" or
    "died" (the child exited without answering, e.g. killed for memory). ``seconds`` is the call's own time
    as measured in the child (the bound's wall time on a timeout), ``cpu_seconds`` its CPU time (what a loaded
    machine does not inflate); ``max_rss_kb`` the child's peak memory."""

    status: str
    value: Any = None
    error: str = ""
    seconds: float = 0.0
    max_rss_kb: int = 0
    cpu_seconds: float = 0.0


def call_in_fork(function: Callable, *args: Any, timeout_s: float = 10.0, **kwargs: Any) -> ForkedResult:
    """``function(*args, **kwargs)`` in a forked child, killed after ``timeout_s`` seconds.

    >>> call_in_fork(sum, [1, 2, 3]).value
    6
    >>> call_in_fork(time.sleep, 5, timeout_s=0.2).status
    'timeout'
    """
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller's stack
        os.close(read_end)
        # The parent's heap is shared copy-on-write: a full collection in the child would walk (and so copy) all of
        # it, charging the parent's size to the call (1.2 s of CPU for a 0.1 s call under a 650 MB test process).
        gc.freeze()
        try:
            begin, begin_cpu = time.perf_counter(), time.process_time()
            try:
                payload = ("ok", function(*args, **kwargs), "", time.perf_counter() - begin)
            except BaseException:  # noqa: BLE001 - every failure is the result being measured
                payload = ("raised", None, traceback.format_exc(), time.perf_counter() - begin)
            rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - begin_cpu)
            try:
                data = pickle.dumps((*payload, rss))
            except Exception:  # noqa: BLE001 - an unpicklable value still counts as a return
                data = pickle.dumps((payload[0], repr(payload[1]), payload[2], payload[3], rss))  # rss: (kb, cpu)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, deadline = [], started + timeout_s
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return ForkedResult("timeout", seconds=time.perf_counter() - started)
            ready, _, _ = select.select([pipe], [], [], remaining)
            if ready:
                chunk = os.read(pipe.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    os.waitpid(pid, 0)
    if not chunks:
        return ForkedResult("died", seconds=time.perf_counter() - started)
    status, value, error, seconds, (rss, cpu_seconds) = pickle.loads(b"".join(chunks))
    return ForkedResult(status, value, error, seconds, rss, cpu_seconds)
