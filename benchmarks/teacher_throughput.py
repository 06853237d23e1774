"""Teacher throughput: how close the OpenAI-compatible teacher gets to the ideal concurrency / latency.

    python benchmarks/teacher_throughput.py [--concurrency 64] [--latency 0.5] [--requests 1024] [--servers 1]

A loopback OpenAI-compatible server (``tests/fake_server.py``, run in its own process so it does not share the
client's interpreter lock) answers every request after a fixed latency. With C requests in flight and latency L,
no client can beat C / L requests per second; the figure reported is achieved / (C / L) (target >= 0.9), for:

- ``teacher``: :class:`data_prep.teachers.OpenAITeacher` alone (the ``openai`` client, C concurrent requests);
- ``pipeline``: the whole CoMT path, ``generate_comt`` (prompt rendering, the request, validation of the
  meta-thought with the core's number analysis, one JSONL store append per result), with generated problems
  (reasoning-gym's ``gsm_symbolic`` generator, source ``reasoning_gym_gsm``, seeded).

``--servers N`` starts N server processes and spreads the load over them (the multi-URL path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests", "fake_server.py"), "--port", "0", "--latency", str(latency)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("serving "):
        process.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return process, line.split()[1]


async def bench_teacher(urls: list[str], concurrency: int, requests: int) -> float:
    from data_prep.teachers import OpenAITeacher, SamplingParams

    teacher = OpenAITeacher(urls, model="fake-teacher", concurrency=concurrency)
    await teacher.start()
    messages = [{"role": "user", "content": "Describe the strategy of a two-step word problem."}]
    sampling = SamplingParams()
    queue: asyncio.Queue = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(messages)

    async def worker():
        while not queue.empty():
            await teacher.generate([queue.get_nowait()], sampling)

    # Warm up the connection pool so connection set-up is not timed.
    await asyncio.gather(*(teacher.generate([messages], sampling) for _ in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await teacher.close()
    return requests / elapsed


def bench_pipeline(urls: list[str], concurrency: int, requests: int) -> tuple[float, dict]:
    from data_prep.comt import ComtConfig, generate_comt_async
    from data_prep.sources import load_source
    from data_prep.store import ResultStore
    from data_prep.teachers import OpenAITeacher

    records = load_source("reasoning_gym_gsm", "train", limit=requests, seed=123)
    teacher = OpenAITeacher(urls, model="fake-teacher", concurrency=concurrency)
    with tempfile.TemporaryDirectory() as directory, ResultStore(os.path.join(directory, "s.jsonl")) as store:
        run = asyncio.run(generate_comt_async(records, teacher, store, ComtConfig(max_attempts=1), progress=False))
    # generate_comt's elapsed includes client start-up (no warm-up), which slightly understates throughput.
    return run.teacher_calls / run.elapsed_s, run.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=64, help="Requests in flight.")
    parser.add_argument("--latency", type=float, default=0.5, help="Server latency per request, seconds.")
    parser.add_argument("--requests", type=int, default=1024, help="Requests per measurement.")
    parser.add_argument("--servers", type=int, default=1, help="Server processes to spread requests over.")
    args = parser.parse_args()
    servers = [start_server(args.latency) for _ in range(args.servers)]
    urls = [url for _, url in servers]
    ideal = args.concurrency / args.latency
    try:
        teacher_rate = asyncio.run(bench_teacher(urls, args.concurrency, args.requests))
        pipeline_rate, summary = bench_pipeline(urls, args.concurrency, args.requests)
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(10)
    print(
        f"concurrency {args.concurrency}, latency {args.latency}s, {args.requests} requests, "
        f"{args.servers} server(s); ideal {ideal:.1f} req/s"
    )
    print(f"teacher : {teacher_rate:7.1f} req/s  ratio {teacher_rate / ideal:.3f}")
    print(
        f"pipeline: {pipeline_rate:7.1f} req/s  ratio {pipeline_rate / ideal:.3f}  "
        f"(accepted {summary['accepted']}/{summary['problems']})"
    )


if __name__ == "__main__":
    main()
