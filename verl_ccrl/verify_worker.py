"""The math-verify worker: a child process that runs math-verify, so any thread can stop a call at a deadline.

math-verify (sympy) can run for ever (``9^{9^{9}}``) and its own timeouts use ``signal.alarm``, which only works in
a main thread; verl's reward loop calls scorers from executor threads. So :func:`verify` sends the pair to one
long-lived child process over a pipe and waits for the answer with ``select`` (which works in any thread); past
the deadline it kills the child and answers "undecided". The next call starts a fresh child (one is started at
once, in the background, so its import cost overlaps with the caller's work).

Cost, measured on a 2-core CPU box (``benchmarks/fuzz_long.py`` prints it): about 0.2 ms of pipe round trip on
top of math-verify's own 5-50 ms; the start of a child (importing sympy and math-verify, one warm-up call) about
1.5 s, once per process and once after each killed call. Plain-number answers never reach the worker
(``answer.py`` decides them exactly in microseconds).

Not handled: a process that cannot start children (no ``fork``/``exec``, non-POSIX): math-verify then runs in the
calling thread with the input screen of ``answer.verify_screen`` as the only bound, and a warning says so once.

Protocol: one JSON object per line. Child to parent: ``{"ready": true}`` once, then ``{"id": n, "ok": bool}`` per
request ``{"id": n, "gold": str, "pred": str, "soft_s": float}``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import warnings

from verl_ccrl.bounds import ANSWER_CHECK_TIMEOUT_S, VERIFY_WORKER_START_TIMEOUT_S

__all__ = ["start_verify_worker", "stop_verify_worker", "verify"]

VERIFY_WORKER_MEMORY_BYTES = 4 << 30
"""Address-space limit of the worker: a runaway sympy expansion raises MemoryError there instead of swapping."""

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Worker:
    """One child process and the bytes it has sent that are not yet a full line."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "verl_ccrl.verify_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True,
        )  # fmt: skip
        self.buffer = b""
        self.ready = False
        self.next_id = 0

    def read_line(self, deadline: float) -> dict | None:
        """The next JSON line from the child, or None at the deadline or when the child is gone."""
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                return None
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


_lock = threading.Lock()
_worker: _Worker | None = None
_unavailable: str | None = None  # why children cannot be used in this process (then math-verify runs in-thread)


def _reset_after_fork() -> None:
    # A forked child shares the parent's pipes: it must never talk to the parent's worker, nor inherit its lock.
    global _lock, _worker
    _lock, _worker = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def start_verify_worker() -> None:
    """Start the worker now (it otherwise starts on the first answer that needs math-verify) and wait until it
    is ready, so that no scored response pays the start. Idempotent."""
    with _lock:
        _ready_worker(time.monotonic() + VERIFY_WORKER_START_TIMEOUT_S)


def stop_verify_worker() -> None:
    """Stop the worker (tests; it also stops by itself when this process exits, on end of input)."""
    global _worker
    with _lock:
        if _worker is not None:
            _worker.kill()
            _worker = None


def _spawn() -> None:
    global _worker, _unavailable
    if os.name != "posix":
        _unavailable = "not a POSIX system"
        return
    try:
        _worker = _Worker()
    except OSError as error:
        _unavailable = f"cannot start a child process ({error})"


def _ready_worker(deadline: float) -> _Worker | None:
    """The running, ready worker (started if needed), or None if none can run. Call with ``_lock`` held."""
    global _worker, _unavailable
    if _worker is None and _unavailable is None:
        _spawn()
    if _worker is None:
        return None
    if not _worker.ready:
        message = _worker.read_line(deadline)
        if not message or not message.get("ready"):
            _worker.kill()
            _worker = None
            _unavailable = "the worker did not start within VERIFY_WORKER_START_TIMEOUT_S"
            return None
        _worker.ready = True
    return _worker


def verify(answer: str, truth: str, timeout_s: float = ANSWER_CHECK_TIMEOUT_S) -> tuple[bool, str | None]:
    """math-verify's verdict on ``answer`` against ``truth``: (correct, None), or (False, why) when it gave none
    within ``timeout_s`` seconds of its own time. Safe to call from any thread; calls are served one at a time.

    >>> verify("\\\\frac{1}{2}", "0.5")
    (True, None)
    """
    global _worker
    with _lock:
        worker = _ready_worker(time.monotonic() + VERIFY_WORKER_START_TIMEOUT_S)
        if worker is None:
            return _verify_in_thread(answer, truth)
        worker.next_id += 1
        request = {"id": worker.next_id, "gold": truth, "pred": answer, "soft_s": timeout_s * 0.8}
        try:
            worker.process.stdin.write(json.dumps(request).encode() + b"\n")
            worker.process.stdin.flush()
            reply = worker.read_line(time.monotonic() + timeout_s)
        except (OSError, ValueError):
            reply = None
        if reply is None or reply.get("id") != request["id"]:
            worker.kill()
            _spawn()  # start the next one now: its import overlaps with the caller's work
            return False, f"math-verify gave no verdict within {timeout_s:g} s"
        if reply.get("timeout"):
            return False, f"math-verify gave no verdict within {timeout_s:g} s"
        return bool(reply.get("ok")), None


def _verify_in_thread(answer: str, truth: str) -> tuple[bool, str | None]:
    warnings.warn(
        f"verl_ccrl: math-verify runs without a deadline ({_unavailable}); only the input screen bounds it.",
        RuntimeWarning,
        stacklevel=3,
    )
    return _math_verify(answer, truth), None


def _math_verify(answer: str, truth: str) -> bool:
    from math_verify import parse, verify as math_verify

    try:
        gold = parse(f"${truth}$" if "$" not in truth else truth, parsing_timeout=None)
        predicted = parse(f"${answer}$" if "$" not in answer else answer, parsing_timeout=None)
        if not gold or not predicted:
            return False
        return bool(math_verify(gold, predicted, timeout_seconds=None))
    except Exception:  # math-verify raises on malformed LaTeX; malformed means not correct
        return False


class _SoftTimeout(BaseException):  # not Exception: math-verify catches those
    pass


def _serve() -> None:
    """The child's loop: read requests from stdin until it closes, answer each on stdout."""
    import resource
    import signal

    try:
        resource.setrlimit(resource.RLIMIT_AS, (VERIFY_WORKER_MEMORY_BYTES, VERIFY_WORKER_MEMORY_BYTES))
    except (ValueError, OSError):
        pass

    def on_alarm(signum, frame):
        raise _SoftTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    _math_verify("1", "1")  # import and warm up sympy and the LaTeX grammar before saying ready
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        reply = {"id": request["id"]}
        # The soft deadline (a main-thread alarm) ends Python-level work and keeps this process; C-level work
        # that ignores it is ended by the parent's kill.
        signal.setitimer(signal.ITIMER_REAL, float(request["soft_s"]))
        try:
            reply["ok"] = _math_verify(request["pred"], request["gold"])
        except (_SoftTimeout, MemoryError, RecursionError):
            reply["timeout"] = True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve()
