"""A loopback OpenAI-compatible chat server for tests and the throughput benchmark (not a model).

It speaks the real wire format (``POST /v1/chat/completions``, ``GET /v1/models``) over HTTP, so the real
``openai`` client is exercised end to end, and it injects what production servers do: a fixed per-request
latency, HTTP 429 (with ``Retry-After``) and 500 responses, either at random rates (seeded) or from a script for
the first requests. By default it answers like the demo teacher (the reference solution in the CoMT prompt with
computed numbers replaced by variable names); pass ``responder(messages, request_number) -> str`` to change that.

Test-only code: it lives under ``tests/`` (aiohttp is in the ``test`` extra). Tests import it as ``fake_server``
(``pythonpath`` in pyproject.toml). Run it standalone (e.g. to try the CLI against it)::

    python tests/fake_server.py --port 8011 --latency 0.2 --rate-429 0.05 --rate-500 0.05

Example::

    >>> import openai
    >>> with FakeOpenAIServer(latency_s=0.0, script=[429]) as server:
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=2)
    ...     reply = client.chat.completions.create(model=server.model, messages=[{"role": "user", "content": "hi"}])
    ...     client.close()
    >>> reply.choices[0].message.content, server.counts["429"], server.counts["200"]
    ('total = quantity_a * quantity_b', 1, 1)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

__all__ = ["FakeOpenAIServer", "default_responder"]

Responder = Callable[[list[dict[str, Any]], int], str]


def default_responder(messages: list[dict[str, Any]], request_number: int) -> str:
    """The demo teacher's answer for a CoMT prompt; a fixed number-free meta-thought for any other prompt."""
    from data_prep.teachers.template import prompt_sections, template_meta_thought

    question, reference = prompt_sections(messages)
    if not reference:
        return "total = quantity_a * quantity_b"
    return template_meta_thought(question, reference)


class FakeOpenAIServer:
    """An aiohttp server on ``host:port`` (0 = a free port) in a background thread; use as a context manager.

    ``latency_s``: sleep before every response (errors included). ``rate_429``/``rate_500``: probability of each
    error per request (seeded by ``seed``). ``script``: statuses for the first requests, in order (e.g.
    ``[429, 500]``), before the random rates apply. ``retry_after``: value of 429's ``Retry-After`` header
    (seconds or any text, or None for none). ``trickle_s``: send each 200 body in 20 pieces spread over this many
    seconds (a server that answers slowly but never goes silent for long). ``counts``: requests per status code (strings) plus ``"requests"``;
    ``max_in_flight``: the most requests handled at once; ``last_authorization``: the last ``Authorization`` header.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "fake-teacher",
        latency_s: float = 0.0,
        rate_429: float = 0.0,
        rate_500: float = 0.0,
        script: list[int] | None = None,
        retry_after: float | str | None = 0.05,
        trickle_s: float = 0.0,
        responder: Responder | None = None,
        seed: int = 0,
    ):
        self.host, self.port, self.model = host, port, model
        self.latency_s = latency_s
        self.rate_429, self.rate_500 = rate_429, rate_500
        self.script = list(script or [])
        self.retry_after = retry_after
        self.trickle_s = trickle_s
        self.responder = responder or default_responder
        self.random = random.Random(seed)
        self.counts: Counter = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_authorization: str | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------------------------------------- handlers
    def _status_for(self, number: int) -> int:
        with self._lock:
            if number < len(self.script):
                return self.script[number]
            draw = self.random.random()
        if draw < self.rate_429:
            return 429
        if draw < self.rate_429 + self.rate_500:
            return 500
        return 200

    async def _chat(self, request):
        from aiohttp import web

        with self._lock:
            number = self.counts["requests"]
            self.counts["requests"] += 1
            self.last_authorization = request.headers.get("Authorization")
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.json()
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            status = self._status_for(number)
            if status != 200:
                with self._lock:
                    self.counts[str(status)] += 1
                headers = (
                    {"retry-after": str(self.retry_after)} if status == 429 and self.retry_after is not None else {}
                )
                kind = "rate_limit_exceeded" if status == 429 else "server_error"
                return web.json_response(
                    {"error": {"message": f"injected {status}", "type": kind, "code": status}},
                    status=status,
                    headers=headers,
                )
            messages = body.get("messages") or []
            text = self.responder(messages, number)
            with self._lock:
                self.counts["200"] += 1
            words = len(text.split())
            response = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": words, "total_tokens": words + 1},
            }
            if not self.trickle_s:
                return web.json_response(response)
            return await self._trickle(request, json.dumps(response).encode())
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _trickle(self, request, data: bytes):
        from aiohttp import web

        stream = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(len(data))})
        await stream.prepare(request)
        pieces = 20
        step = -(-len(data) // pieces)
        for start in range(0, len(data), step):
            await stream.write(data[start : start + step])
            await asyncio.sleep(self.trickle_s / pieces)
        await stream.write_eof()
        return stream

    async def _models(self, request):
        from aiohttp import web

        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "data_prep"}]}
        )

    # ------------------------------------------------------------------------------------------ lifecycle
    async def _start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as error:  # noqa: BLE001 - surfaced in start()
            self._startup_error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._serve, name="fake-openai-server", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise RuntimeError(f"fake server failed to start: {self._startup_error}") from self._startup_error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python tests/fake_server.py", description=__doc__.split("\n\n")[0])
    # Each option's dest is the FakeOpenAIServer argument it sets.
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (loopback by default).")
    parser.add_argument("--port", type=int, default=8011, help="Port (0 = any free port).")
    parser.add_argument("--latency", dest="latency_s", type=float, default=0.0, help="Seconds before each response.")
    parser.add_argument("--rate-429", type=float, default=0.0, help="Probability of an injected 429 per request.")
    parser.add_argument("--rate-500", type=float, default=0.0, help="Probability of an injected 500 per request.")
    parser.add_argument("--model", default="fake-teacher", help="Model name served at /v1/models.")
    server = FakeOpenAIServer(**vars(parser.parse_args(argv))).start()
    print(f"serving {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
