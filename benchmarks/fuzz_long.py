"""The long fuzz run of issue 13: many Hypothesis inputs, each call in a forked executor process with a bound.

    python benchmarks/fuzz_long.py --examples 20000            # about 10 minutes on 2 CPU cores

Every input (``tests/fuzz_strategies.score_inputs``: problem, response, ground truth, reference, token spans,
entropies) is scored with ``score_response``, and also goes through one other entry point in turn (the final
answer check, the number reader, the statement verdicts, ``explain``). Calls run in a forked executor that
serves them one at a time; a call that passes ``--timeout-s`` kills the executor (counted as a hang) and a fresh
one takes over. Prints inputs tried, calls per entry point, exceptions, hangs, calls over ``--bound-s``, the
slowest call, p50/p99 per entry point, bounded responses, math-verify deadline kills and peak memory (VmHWM)
of the executor and of its math-verify worker. Exit status 1 when any call raised, hung or broke the bound.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forked import process_cpu_s  # noqa: E402

from verl_ccrl import verify_worker  # noqa: E402
from verl_ccrl.analysis import analyze_response, read_within_bounds  # noqa: E402
from verl_ccrl.answer import check_answer, extract_final_answer  # noqa: E402
from verl_ccrl.arithmetic import find_arithmetic_checks  # noqa: E402
from verl_ccrl.cli import explain  # noqa: E402
from verl_ccrl.config import CCRLConfig  # noqa: E402
from verl_ccrl.number_mentions import read_numbers  # noqa: E402
from verl_ccrl.reward import score_response  # noqa: E402

_CONFIG = CCRLConfig()


def _score(inputs: dict) -> dict:
    score = score_response(**inputs)
    invariants = math.isfinite(score.total) and (
        _CONFIG.wrong_reward - _CONFIG.beta - 1e-9 <= score.total <= _CONFIG.correct_reward + _CONFIG.alpha + 1e-9
    )
    if score.token_rewards is not None:
        invariants = invariants and math.isclose(sum(score.token_rewards), score.total, abs_tol=1e-9)
    invariants = invariants and all(m.confidence is None or 0 <= m.confidence <= 1 for m in score.mentions)
    return {"invariants": invariants, "bounded": score.bounded, "reason": score.bounded_reason}


def _answer(inputs: dict) -> dict:
    check = check_answer(extract_final_answer(inputs["response"], fallback_last_number=True), inputs["ground_truth"])
    return {"invariants": isinstance(check.correct, bool), "bounded": bool(check.undecided), "reason": check.undecided}


def _reader(inputs: dict) -> dict:
    reading = read_numbers(inputs["response"])
    ordered = all(a.end <= b.start for a, b in zip(reading.mentions, reading.mentions[1:]))
    return {"invariants": ordered, "bounded": bool(reading.oversized), "reason": ""}


def _verdicts(inputs: dict) -> dict:
    mentions, bound = read_within_bounds(inputs["problem"], inputs["response"], inputs["reference"])
    if mentions is None:
        return {"invariants": bool(bound), "bounded": True, "reason": bound}
    find_arithmetic_checks(inputs["response"], mentions)
    analyzed = analyze_response(inputs["problem"], inputs["response"], inputs["reference"], mentions=mentions)
    return {"invariants": len(analyzed) == len(mentions), "bounded": False, "reason": ""}


def _explain(inputs: dict) -> dict:
    args = argparse.Namespace(
        problem=inputs["problem"], response=inputs["response"], reference=inputs["reference"],
        ground_truth=str(inputs["ground_truth"]),
    )  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        status = explain(args)
    return {"invariants": status == 0, "bounded": False, "reason": ""}


ENTRY_POINTS = {"score_response": _score, "final_answer": _answer, "reader": _reader, "verdicts": _verdicts,
                "explain": _explain}  # fmt: skip
_OTHERS = ["final_answer", "reader", "verdicts", "explain"]


def _peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _send(descriptor: int, payload) -> None:
    data = pickle.dumps(payload)
    os.write(descriptor, struct.pack("<Q", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _receive(descriptor: int, deadline: float | None):
    def read_exactly(count: int) -> bytes | None:
        chunks, remaining = [], count
        while remaining:
            if deadline is not None:
                left = deadline - time.perf_counter()
                if left <= 0 or not select.select([descriptor], [], [], left)[0]:
                    return None
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    header = read_exactly(8)
    if header is None:
        return None
    body = read_exactly(struct.unpack("<Q", header)[0])
    return None if body is None else pickle.loads(body)


class Executor:
    """A forked child that runs entry points on request; replaced when a call passes its time limit."""

    def __init__(self) -> None:
        to_child, self.request = os.pipe()
        self.reply, from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.request)
            os.close(self.reply)
            self._serve(to_child, from_child)
            os._exit(0)
        os.close(to_child)
        os.close(from_child)
        ready = _receive(self.reply, time.perf_counter() + 120)
        if ready != "ready":
            raise RuntimeError("the executor did not start")

    @staticmethod
    def _serve(requests: int, replies: int) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        verify_worker.start_verify_worker()  # its start is not a call's cost
        _send(replies, "ready")
        while True:
            message = _receive(requests, None)
            if message is None:
                return
            name, inputs = message
            worker = verify_worker._worker
            worker_pid = worker.process.pid if worker is not None else 0
            worker_cpu = process_cpu_s(worker_pid) if worker_pid else 0.0
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                outcome = ENTRY_POINTS[name](inputs)
                status, error = "ok", ""
            except BaseException:  # noqa: BLE001 - the exception is the finding
                outcome, status, error = {}, "raised", traceback.format_exc()
            seconds = time.perf_counter() - started
            # CPU of the call: this process plus the math-verify worker it waited on (on a loaded machine the
            # wall time measures the other tenants as much as the call).
            cpu = time.process_time() - started_cpu + (process_cpu_s(worker_pid) - worker_cpu if worker_pid else 0.0)
            outcome["cpu_s"] = max(0.0, cpu)
            worker = verify_worker._worker
            worker_kb = _peak_kb(worker.process.pid) if worker is not None else 0
            _send(replies, (status, seconds, error, outcome, _peak_kb(os.getpid()), worker_kb))

    def call(self, name: str, inputs: dict, timeout_s: float):
        _send(self.request, (name, inputs))
        return _receive(self.reply, time.perf_counter() + timeout_s)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        for descriptor in (self.request, self.reply):
            with contextlib.suppress(OSError):
                os.close(descriptor)


def generate(count: int, seed: int) -> list[dict]:
    """``count`` inputs from ``score_inputs``, reproducibly for a given seed."""
    from fuzz_strategies import score_inputs
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    inputs: list[dict] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(score_inputs())
    def collect(example):
        inputs.append(example)

    collect()
    return inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=20000, help="Inputs to generate (each scored, and sent "
                        "through one more entry point).")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (the same seed, the same inputs).")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="A call past this is killed: a hang.")
    parser.add_argument("--bound-s", type=float, default=1.0, help="The per-call time bound being checked.")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    inputs = generate(args.examples, args.seed)
    print(f"generated {len(inputs)} inputs in {time.perf_counter() - started:.0f} s", flush=True)

    executor = Executor()
    times: dict[str, list[float]] = defaultdict(list)
    cpu_times: dict[str, list[float]] = defaultdict(list)
    load_before = os.getloadavg()[0]
    statuses: Counter = Counter()
    broken, raised, hangs, over, slowest = [], [], [], [], (0.0, "", "")
    bounded, deadline_kills, peak_kb, worker_peak_kb, restarts = 0, 0, 0, 0, 0
    for number, example in enumerate(inputs):
        for name in ("score_response", _OTHERS[number % len(_OTHERS)]):
            reply = executor.call(name, example, args.timeout_s)
            if reply is None:
                hangs.append((name, repr(example)[:300]))
                statuses[(name, "hang")] += 1
                executor.kill()
                executor, restarts = Executor(), restarts + 1
                continue
            status, seconds, error, outcome, executor_kb, worker_kb = reply
            statuses[(name, status)] += 1
            times[name].append(seconds)
            cpu_times[name].append(outcome.get("cpu_s", 0.0))
            peak_kb, worker_peak_kb = max(peak_kb, executor_kb), max(worker_peak_kb, worker_kb)
            if status == "raised":
                raised.append((name, error[-1500:], repr(example)[:300]))
                continue
            if not outcome["invariants"]:
                broken.append((name, repr(example)[:300]))
            if name == "score_response" and outcome["bounded"]:
                bounded += 1
                deadline_kills += "gave no verdict within" in outcome["reason"]
            if seconds > args.bound_s:
                over.append((name, seconds, repr(example)[:200]))
            if seconds > slowest[0]:
                slowest = (seconds, name, repr(example)[:200])
        if (number + 1) % 2000 == 0:
            print(f"  {number + 1} inputs, {time.perf_counter() - started:.0f} s", flush=True)
    executor.kill()

    calls = sum(len(v) for v in times.values()) + len(hangs)
    print(f"\ninputs tried: {len(inputs)}; calls: {calls} in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    print(f"load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, values in times.items():
        values, cpu = sorted(values), sorted(cpu_times[name])
        p50, p99 = values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"  {name:15s} calls {len(values):6d}  wall p50 {p50 * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms  "
              f"max {values[-1] * 1e3:7.1f} ms  |  CPU p99 {cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))] * 1e3:7.2f} ms"
              f"  max {cpu[-1] * 1e3:7.1f} ms")  # fmt: skip
    cpu_over = sum(value > args.bound_s for values in cpu_times.values() for value in values)
    print(f"calls over {args.bound_s:g} s of CPU: {cpu_over}")
    print(f"exceptions: {len(raised)}; hangs (> {args.timeout_s:g} s): {len(hangs)}; calls over {args.bound_s:g} s: "
          f"{len(over)}; invariants broken: {len(broken)}")  # fmt: skip
    print(f"slowest call: {slowest[0] * 1e3:.1f} ms ({slowest[1]}) on {slowest[2]}")
    print(f"bounded responses: {bounded} of {len(times['score_response'])} scored; math-verify deadline kills: "
          f"{deadline_kills}; executor restarts: {restarts}")  # fmt: skip
    print(f"peak memory (VmHWM): executor {peak_kb / 1024:.0f} MiB, math-verify worker {worker_peak_kb / 1024:.0f} MiB")
    for title, rows in (("exceptions", raised), ("hangs", hangs), ("over the bound", over), ("broken", broken)):
        for row in rows[:5]:
            print(f"--- {title}: {row}")
    return 1 if raised or hangs or over or broken else 0


if __name__ == "__main__":
    sys.exit(main())
