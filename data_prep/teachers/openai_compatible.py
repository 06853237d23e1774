"""A teacher behind any OpenAI-compatible chat endpoint (``vllm serve``, SGLang, hosted APIs), via the ``openai`` client.

It spreads requests over several base URLs (least in-flight first), retries 429/5xx/connection errors/timeouts with
exponential backoff and jitter (honouring ``Retry-After``), and reads the API key from an environment variable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from data_prep.teachers.base import Messages, SamplingParams, TeacherError, TeacherReply

__all__ = ["OpenAITeacher"]

logger = logging.getLogger(__name__)


@dataclass
class _Server:
    url: str
    clients: list[Any]  # several clients = several small connection pools (httpx scans its pool per request)
    in_flight: int = 0
    sent: int = 0

    @property
    def client(self) -> Any:
        return self.clients[self.sent % len(self.clients)]


class OpenAITeacher:
    """Chat completions from one or more OpenAI-compatible servers, with async concurrency and retries.

    ``base_urls``: e.g. ``["http://node1:8000/v1", "http://node2:8000/v1"]``; each request goes to the server with
    the fewest requests in flight, and a retry prefers another server. ``model``: the served model name; None asks
    the first server's ``/models``. The API key is read from the environment variable ``api_key_env`` (a local
    ``vllm serve`` accepts any key: ``EMPTY`` is used when the variable is unset). ``concurrency``: requests in
    flight over all servers. ``timeout_s``: the deadline of one try, from sending to the last byte of the body (the
    client's own timeout is per read, which a server trickling its body never trips). ``max_retries``: per request,
    on 429, 5xx, connection errors and timeouts (other 4xx fail at once: they are configuration errors); waits
    ``min(backoff_max_s, backoff_base_s * 2**k)`` times a random factor in [0.5, 1], or the server's
    ``Retry-After`` capped at ``backoff_max_s`` (a server asking for an hour must not park a request for an hour).
    One request therefore takes at most ``(max_retries + 1) * timeout_s + max_retries * backoff_max_s``.
    ``stats`` counts requests, retries by cause and failures.
    """

    RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

    def __init__(
        self,
        base_urls: list[str] | str,
        model: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 64,
        timeout_s: float = 300.0,
        max_retries: int = 8,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        extra_body: dict[str, Any] | None = None,
        requests_per_client: int = 16,
    ):
        if isinstance(base_urls, str):
            base_urls = [base_urls]
        if not base_urls:
            raise ValueError(
                "OpenAITeacher: base_urls is empty. Fix: pass --base-url http://HOST:PORT/v1 (repeatable)."
            )
        for name, value, low in (("concurrency", concurrency, 1), ("max_retries", max_retries, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"OpenAITeacher: {name}={value!r} must be an int >= {low}.")
        if timeout_s <= 0:
            raise ValueError(f"OpenAITeacher: timeout_s={timeout_s!r} must be > 0 seconds.")
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.batch_size = 1
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.extra_body = extra_body or {}
        self.requests_per_client = requests_per_client
        self.stats: Counter = Counter()
        self._servers: list[_Server] = []
        self._rotation = 0

    @staticmethod
    def name_for(model: str | None) -> str | None:
        """Its store identity: ``openai:<served model>`` (None until the served model is known)."""
        return f"openai:{model}" if model else None

    @property
    def name(self) -> str:
        if self.model is None:
            raise RuntimeError("OpenAITeacher.name is known after start() resolves the served model.")
        return self.name_for(self.model)

    async def start(self) -> None:
        import openai

        api_key = os.environ.get(self.api_key_env) or "EMPTY"
        # httpx's connection pool does work linear in its size on every request; with hundreds of requests in flight
        # that cost adds to every request's latency, so each server gets one client per ~16 concurrent requests.
        per_server = -(-self.concurrency // len(self.base_urls))
        shards = max(1, min(64, -(-per_server // self.requests_per_client)))
        self._servers = [
            _Server(
                url,
                [
                    openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=self.timeout_s)
                    for _ in range(shards)
                ],
            )
            for url in self.base_urls
        ]
        if self.model is None:
            last_error: Exception | None = None
            for server in self._servers:
                try:
                    models = await server.clients[0].models.list()
                    self.model = models.data[0].id
                    break
                except Exception as error:  # noqa: BLE001 - reported below with the fix
                    last_error = error
            if self.model is None:
                raise TeacherError(
                    f"could not list models at {self.base_urls}: {last_error}. Fix: check the servers are up, or "
                    "pass --model NAME.",
                    retryable=False,
                )
        logger.info("OpenAI teacher %s over %d server(s): %s", self.model, len(self._servers), self.base_urls)

    def _pick(self, avoid: _Server | None) -> _Server:
        candidates = [s for s in self._servers if s is not avoid] or self._servers
        low = min(server.in_flight for server in candidates)
        tied = [server for server in candidates if server.in_flight == low]
        self._rotation += 1
        return tied[self._rotation % len(tied)]

    def _delay(self, retry: int, error: Exception) -> float:
        response = getattr(error, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            asked = float(header) if header else math.nan
        except ValueError:  # an HTTP date, or junk: back off as if none were given
            asked = math.nan
        if math.isfinite(asked) and asked >= 0:
            return min(asked, self.backoff_max_s)
        return min(self.backoff_max_s, self.backoff_base_s * 2**retry) * random.uniform(0.5, 1.0)

    async def _post(self, client: Any, kwargs: dict[str, Any]) -> Any:
        # The raw response skips the client's model construction (a few ms per request at high concurrency).
        raw = await client.chat.completions.with_raw_response.create(**kwargs)
        return json.loads(raw.http_response.content)

    async def _one(self, messages: Messages, sampling: SamplingParams) -> TeacherReply:
        import openai

        if not self._servers:
            raise RuntimeError("OpenAITeacher.generate before start(). Fix: await teacher.start() first.")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        server: _Server | None = None
        last: Exception | None = None
        for retry in range(self.max_retries + 1):
            server = self._pick(avoid=server if retry else None)
            client = server.client
            server.in_flight += 1
            server.sent += 1
            self.stats["requests"] += 1
            try:
                data = await asyncio.wait_for(self._post(client, kwargs), self.timeout_s)
            except asyncio.TimeoutError:
                cause, last = "timeout", TimeoutError(f"no complete response within {self.timeout_s} s (--timeout)")
            except openai.APIStatusError as error:
                cause = f"http_{error.status_code}"
                if error.status_code not in self.RETRY_STATUSES:
                    self.stats["failed_" + cause] += 1
                    raise TeacherError(
                        f"{server.url}: HTTP {error.status_code}: {error.message}. Not retried: fix the request "
                        "(model name, API key, prompt length).",
                        retryable=False,
                    ) from error
                last = error
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                cause = "timeout" if isinstance(error, openai.APITimeoutError) else "connection"
                last = error
            except (ValueError, KeyError, TypeError) as error:  # a 200 whose body is not a chat completion
                cause = "bad_response"
                last = error
            else:
                try:
                    choice = data["choices"][0]
                    text = (choice.get("message") or {}).get("content") or ""
                except (KeyError, IndexError, TypeError, AttributeError) as error:
                    cause, last = "bad_response", error
                else:
                    usage = data.get("usage") or {}
                    return TeacherReply(text, choice.get("finish_reason"), usage.get("completion_tokens"))
            finally:
                server.in_flight -= 1
            self.stats["retry_" + cause] += 1
            if retry < self.max_retries:
                await asyncio.sleep(self._delay(retry, last))
        self.stats["failed"] += 1
        raise TeacherError(f"gave up after {self.max_retries + 1} tries; last error: {last}")

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[TeacherReply]:
        sampling = sampling or SamplingParams()
        return list(await asyncio.gather(*(self._one(messages, sampling) for messages in messages_batch)))

    async def close(self) -> None:
        for server in self._servers:
            for client in server.clients:
                await client.close()
        self._servers = []
