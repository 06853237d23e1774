"""The OpenAI-compatible teacher against a real HTTP server on loopback (the real ``openai`` client, no patching).

The server (tests/fake_server.py) speaks the chat-completions wire format and injects latency, 429s and 500s.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from fake_server import FakeOpenAIServer

from data_prep.comt import ComtConfig, generate_comt
from data_prep.records import Record
from data_prep.store import ResultStore
from data_prep.teachers import OpenAITeacher, SamplingParams, TeacherError

pytest.importorskip("openai")
pytest.importorskip("aiohttp")

MESSAGES = [{"role": "user", "content": "Describe the strategy."}]


def _run(coro):
    return asyncio.run(coro)


async def _generate(teacher: OpenAITeacher, n: int):
    await teacher.start()
    try:
        return await asyncio.gather(*(teacher.generate([MESSAGES], SamplingParams()) for _ in range(n)))
    finally:
        await teacher.close()


def test_requests_run_concurrently_up_to_the_concurrency_limit():
    with FakeOpenAIServer(latency_s=0.2) as server:
        teacher = OpenAITeacher([server.base_url], concurrency=8)

        async def drive():
            await teacher.start()
            semaphore = asyncio.Semaphore(teacher.concurrency)

            async def one():
                async with semaphore:
                    return await teacher.generate([MESSAGES], SamplingParams())

            try:
                return await asyncio.gather(*(one() for _ in range(16)))
            finally:
                await teacher.close()

        started = time.perf_counter()
        results = _run(drive())
        elapsed = time.perf_counter() - started
    assert len(results) == 16 and all(r[0].text for r in results)
    assert server.max_in_flight == 8
    assert elapsed < 1.5  # 2 waves of 0.2 s, not 16 * 0.2 s


def test_429_and_500_are_retried_with_backoff_until_success():
    with FakeOpenAIServer(script=[429, 500, 429, 503], retry_after=0.05) as server:
        teacher = OpenAITeacher([server.base_url], model="fake-teacher", max_retries=5, backoff_base_s=0.01)
        started = time.perf_counter()
        [[generation]] = _run(_generate(teacher, 1))
        elapsed = time.perf_counter() - started
    assert generation.text and generation.finish_reason == "stop"
    assert server.counts["429"] == 2 and server.counts["500"] == 1 and server.counts["503"] == 1
    assert server.counts["200"] == 1
    assert teacher.stats["retry_http_429"] == 2 and teacher.stats["retry_http_500"] == 1
    assert elapsed >= 0.1  # both 429s waited Retry-After (0.05 s)


def test_a_request_that_keeps_failing_raises_after_max_retries():
    with FakeOpenAIServer(rate_500=1.0) as server:
        teacher = OpenAITeacher([server.base_url], model="m", max_retries=2, backoff_base_s=0.01)
        with pytest.raises(TeacherError, match="gave up after 3 tries"):
            _run(_generate(teacher, 1))
    assert server.counts["500"] == 3


def test_client_errors_are_not_retried():
    with FakeOpenAIServer(script=[400]) as server:
        teacher = OpenAITeacher([server.base_url], model="m", max_retries=5)
        with pytest.raises(TeacherError, match="HTTP 400") as caught:
            _run(_generate(teacher, 1))
    assert server.counts["requests"] == 1 and caught.value.retryable is False


def test_requests_spread_over_several_servers_and_skip_a_dead_one():
    with FakeOpenAIServer(latency_s=0.05) as first, FakeOpenAIServer(latency_s=0.05) as second:
        teacher = OpenAITeacher([first.base_url, second.base_url], model="fake-teacher", concurrency=8)
        _run(_generate(teacher, 20))
        assert first.counts["200"] >= 5 and second.counts["200"] >= 5
        assert first.counts["200"] + second.counts["200"] == 20
        # A server that is down: connection errors are retried on the other server.
        alive = FakeOpenAIServer().start()
        try:
            teacher = OpenAITeacher(["http://127.0.0.1:9/v1", alive.base_url], model="m", backoff_base_s=0.01)
            results = _run(_generate(teacher, 6))
        finally:
            alive.stop()
        assert len(results) == 6 and alive.counts["200"] == 6 and teacher.stats["retry_connection"] >= 1


def test_model_name_is_read_from_the_server_when_not_given():
    with FakeOpenAIServer(model="served-name") as server:
        teacher = OpenAITeacher([server.base_url])
        _run(_generate(teacher, 1))
    assert teacher.name == "openai:served-name"


def test_api_key_is_read_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("MY_TEACHER_KEY", "secret-123")
    with FakeOpenAIServer() as server:
        _run(_generate(OpenAITeacher([server.base_url], model="m", api_key_env="MY_TEACHER_KEY"), 1))
        assert server.last_authorization == "Bearer secret-123"
        monkeypatch.delenv("MY_TEACHER_KEY")
        _run(_generate(OpenAITeacher([server.base_url], model="m", api_key_env="MY_TEACHER_KEY"), 1))
        assert server.last_authorization == "Bearer EMPTY"


def test_comt_generation_through_a_flaky_server_stores_each_problem_once(tmp_path):
    records = [
        Record(
            str(i),
            "demo",
            "train",
            f"Sam packs {i + 2} boxes of {i + 5} cups. How many cups?",
            str((i + 2) * (i + 5)),
            f"{i + 2} * {i + 5} = {(i + 2) * (i + 5)} cups\n#### {(i + 2) * (i + 5)}",
        )
        for i in range(30)
    ]
    with FakeOpenAIServer(latency_s=0.02, rate_429=0.15, rate_500=0.1, seed=3) as server:
        teacher = OpenAITeacher([server.base_url], concurrency=8, backoff_base_s=0.01, max_retries=10)
        with ResultStore(tmp_path / "s.jsonl") as store:
            run = generate_comt(records, teacher, store, ComtConfig(max_attempts=1), progress=False)
            assert len(store) == 30
    assert run.accepted == 30 and run.teacher_calls == 30
    assert server.counts["200"] == 30 and server.counts["429"] + server.counts["500"] > 0
