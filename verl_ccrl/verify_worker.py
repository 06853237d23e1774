"""The math-verify worker: a child process that runs math-verify, so any thread can stop a call at a deadline.

math-verify (sympy) can run for ever (``9^{9^{9}}``) and its own timeouts use ``signal.alarm``, which only works in
a main thread; verl's reward loop calls scorers from executor threads. So :func:`verify` sends the pair to one
long-lived child process over a pipe and waits for the answer with ``select`` (which works in any thread). The
child stops a call itself once the call has used the deadline's CPU time (a profiling timer in its main thread, so
a loaded machine does not change the verdict) and answers "undecided"; a call stuck in C code that ignores the
timer is ended by the caller killing the child ``VERIFY_KILL_GRACE_S`` of wall time later. A warm spare
child is kept, so a kill costs no restart wait: the spare takes over and a new spare starts in the background.

Cost, measured on a 2-core CPU box: about 0.2 ms of pipe round trip on top of math-verify's own 5-70 ms; the start
of a child (importing sympy and math-verify, warm-up calls over the usual answer forms, whose first use costs up
to 0.4 s each) about 2 s, once per process (:func:`start_verify_worker` pays it up front); about 60 MB per child,
two children. Plain-number answers never reach the worker (``answer.py`` decides them exactly in microseconds).

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

from verl_ccrl.bounds import ANSWER_CHECK_TIMEOUT_S, VERIFY_KILL_GRACE_S, VERIFY_WORKER_START_TIMEOUT_S

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
_spare: _Worker | None = None  # started and warming while _worker serves; takes over when _worker is killed
_unavailable: str | None = None  # why children cannot be used in this process (then math-verify runs in-thread)


def _reset_after_fork() -> None:
    # A forked child shares the parent's pipes: it must never talk to the parent's worker, nor inherit its lock.
    global _lock, _worker, _spare
    _lock, _worker, _spare = threading.Lock(), None, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def start_verify_worker() -> None:
    """Start the worker now (it otherwise starts on the first answer that needs math-verify) and wait until it
    is ready, so that no scored response pays the start. Idempotent."""
    with _lock:
        _ready_worker(time.monotonic() + VERIFY_WORKER_START_TIMEOUT_S)


def stop_verify_worker() -> None:
    """Stop the worker (tests; it also stops by itself when this process exits, on end of input)."""
    global _worker, _spare
    with _lock:
        for worker in (_worker, _spare):
            if worker is not None:
                worker.kill()
        _worker = _spare = None


def _spawn() -> _Worker | None:
    global _unavailable
    if os.name != "posix":
        _unavailable = "not a POSIX system"
        return None
    try:
        return _Worker()
    except OSError as error:
        _unavailable = f"cannot start a child process ({error})"
        return None


def _ready_worker(deadline: float) -> _Worker | None:
    """The running, ready worker (the spare or a new one if needed), or None if none can run. Hold ``_lock``."""
    global _worker, _spare, _unavailable
    if _worker is None and _unavailable is None:
        _worker, _spare = _spare or _spawn(), None
    if _worker is None:
        return None
    if not _worker.ready:
        message = _worker.read_line(deadline)
        if message is None and _worker.process.poll() is None:
            return _worker  # still starting (a loaded machine): the caller answers "undecided" and waits no longer
        if not message or not message.get("ready"):
            _worker.kill()
            _worker = None
            _unavailable = "the worker exited before it was ready"
            return None
        _worker.ready = True
    if _spare is None and _unavailable is None:
        _spare = _spawn()  # after the worker is ready, so the two warm-ups do not compete for the CPU
    return _worker


def verify(answer: str, truth: str, timeout_s: float = ANSWER_CHECK_TIMEOUT_S) -> tuple[bool, str | None]:
    """math-verify's verdict on ``answer`` against ``truth``: (correct, None), or (False, why) when it gave none
    within ``timeout_s`` seconds of the worker's CPU time (or, stuck, within ``timeout_s + VERIFY_KILL_GRACE_S`` of
    wall time). Safe to call from any thread; calls are served one at a time.

    >>> verify("\\\\frac{1}{2}", "0.5")
    (True, None)
    """
    global _worker
    with _lock:
        worker = _ready_worker(time.monotonic() + VERIFY_WORKER_START_TIMEOUT_S)
        if worker is None:
            return _verify_in_thread(answer, truth)
        if not worker.ready:
            return False, f"math-verify worker not ready within {VERIFY_WORKER_START_TIMEOUT_S:g} s"
        worker.next_id += 1
        request = {"id": worker.next_id, "gold": truth, "pred": answer, "soft_s": timeout_s}
        try:
            worker.process.stdin.write(json.dumps(request).encode() + b"\n")
            worker.process.stdin.flush()
            reply = worker.read_line(time.monotonic() + timeout_s + VERIFY_KILL_GRACE_S)
        except (OSError, ValueError):
            reply = None
        if reply is None or reply.get("id") != request["id"]:
            worker.kill()
            _worker = None  # the warm spare takes over on the next call
            return False, f"math-verify gave no verdict within {timeout_s + VERIFY_KILL_GRACE_S:g} s"
        if reply.get("timeout"):
            return False, f"math-verify gave no verdict within {timeout_s:g} s of CPU time"
        return bool(reply.get("ok")), None


def _verify_in_thread(answer: str, truth: str) -> tuple[bool, str | None]:
    warnings.warn(
        f"verl_ccrl: math-verify runs without a deadline ({_unavailable}); only the input screen bounds it.",
        RuntimeWarning,
        stacklevel=3,
    )
    return _math_verify(answer, truth), None


def _math_verify(answer: str, truth: str) -> bool:
    from math_verify import parse
    from math_verify import verify as math_verify

    try:
        gold = parse(f"${truth}$" if "$" not in truth else truth, parsing_timeout=None)
        predicted = parse(f"${answer}$" if "$" not in answer else answer, parsing_timeout=None)
        if not gold or not predicted:
            return False
        return bool(math_verify(gold, predicted, timeout_seconds=None))
    except Exception:  # math-verify raises on malformed LaTeX; malformed means not correct
        return False


_WARM_UP = [
    ("1", "1"), ("x^2", "{1, 2}"), ("4!", "3/4/2024"), ("\\sqrt{6561}", "81"), ("1e100", "0 2/2"), ("x+1", "1+x"),
    ("\\frac{3}{4}", "0.75"), ("(1, 2]", "[1, 2)"), ("2\\pi", "6.28"), ("\\{1,2\\}", "\\{2,1\\}"), ("a=5", "5"),
    ("50\\%", "0.5"), ("375/45", "{1, 2}"), ("x2", "81"), ("\\infty", "-\\infty"), ("3 \\text{ dollars}", "3"),
]  # fmt: skip


class _SoftTimeout(BaseException):  # not Exception: math-verify catches those
    pass


def _verify_within(cpu_s: float, answer: str, truth: str) -> bool | None:
    """In the child: math-verify's verdict, or None once the call has used ``cpu_s`` seconds of this process's CPU
    time (or ran out of memory or recursion). ITIMER_PROF counts CPU time (user and system), so a verdict does not
    depend on how many other processes share the machine's cores. The timer ends Python-level work and keeps this
    process; C-level work that ignores it is ended by the parent's kill. Needs :func:`_serve`'s SIGPROF handler."""
    import signal

    signal.setitimer(signal.ITIMER_PROF, cpu_s)
    try:
        return _math_verify(answer, truth)
    except (_SoftTimeout, MemoryError, RecursionError):
        return None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


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

    signal.signal(signal.SIGPROF, on_alarm)
    for answer, truth in _WARM_UP:  # the first use of each sympy path costs up to 0.4 s: pay it before "ready"
        _verify_within(5.0, answer, truth)
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        verdict = _verify_within(float(request["soft_s"]), request["pred"], request["gold"])
        reply = {"id": request["id"], "timeout": True} if verdict is None else {"id": request["id"], "ok": verdict}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve()
