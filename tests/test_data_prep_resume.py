"""Never lose work: ``kill -9`` a running CoMT generation, rerun it, and count every teacher call.

The generation runs as a real ``python -m data_prep comt`` process talking to a loopback OpenAI-compatible server
owned by this test, so the server counts every answered request: after the kill, the requests answered but not
stored are at most the ones in flight (``--concurrency``); the rerun sends exactly the rest, and the store ends with
every problem once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from fake_server import FakeOpenAIServer

pytest.importorskip("openai")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBLEMS = 60
CONCURRENCY = 4


def _command(base_url: str, out_dir: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "data_prep",
        "comt",
        "--source",
        "reasoning_gym_gsm",
        "--limit",
        str(PROBLEMS),
        "--teacher",
        "openai",
        "--base-url",
        base_url,
        "--concurrency",
        str(CONCURRENCY),
        "--max-attempts",
        "1",
        "--out-dir",
        out_dir,
        "--no-progress",
    ]


def _lines(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.endswith("\n")]


def test_kill_9_mid_run_loses_only_in_flight_requests_and_rerun_completes_without_duplicates(tmp_path):
    out_dir = str(tmp_path / "out")
    store = os.path.join(out_dir, "teacher_results.jsonl")
    with FakeOpenAIServer(latency_s=0.15) as server:
        process = subprocess.Popen(
            _command(server.base_url, out_dir),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while len(_lines(store)) < 12:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "generation did not start"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stderr.close()
        assert process.returncode == -signal.SIGKILL
        time.sleep(0.4)  # let the server finish the requests that were in flight at the kill
        stored_before = len(_lines(store))
        answered_before = server.counts["200"]
        assert stored_before < PROBLEMS, "the run finished before the kill; make the server slower"
        assert 0 <= answered_before - stored_before <= CONCURRENCY

        rerun = subprocess.run(
            _command(server.base_url, out_dir), cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        answered_by_rerun = server.counts["200"] - answered_before
        print(f"kill -9 after {stored_before} stored, {answered_before} answered; rerun sent {answered_by_rerun}")

    entries = _lines(store)
    idents = [(entry["key"], entry["attempt"]) for entry in entries]
    assert len(idents) == len(set(idents)) == PROBLEMS
    assert len({entry["record"] for entry in entries}) == PROBLEMS
    assert answered_by_rerun == PROBLEMS - stored_before
    report = json.loads(rerun.stdout)
    assert report["comt"]["already_done_in_store"] == stored_before
    assert report["comt"]["teacher_calls_this_run"] == PROBLEMS - stored_before
    assert report["store"]["duplicates_on_load"] == 0
    assert len(pd.read_parquet(os.path.join(out_dir, "comt_sft.parquet"))) == report["comt"]["accepted"]
