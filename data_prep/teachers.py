"""Teacher backends behind one interface: an OpenAI-compatible endpoint, vLLM offline, transformers, a demo teacher.

Every teacher has ``name`` (its identity in the result-store key), ``concurrency`` (how many ``generate`` calls may be
in flight at once) and ``batch_size`` (how many conversations one call takes), and::

    await teacher.start()                                   # load the model / resolve the served model name
    generations = await teacher.generate(messages_batch, sampling)   # one Generation per conversation
    await teacher.close()

A network teacher takes one conversation per call and many calls at once (``concurrency`` = in-flight requests);
an in-process engine takes large batches one call at a time. ``generate`` raises :class:`TeacherError` when a
request fails for good (after retries); the caller stores nothing for it and a rerun sends it again.

Backends:

- :class:`OpenAITeacher`: any OpenAI-compatible chat endpoint (``vllm serve``, SGLang, hosted APIs) through the
  ``openai`` client; spreads requests over several base URLs (least in-flight first), retries 429/5xx/connection
  errors/timeouts with exponential backoff and jitter (honouring ``Retry-After``), reads the API key from an
  environment variable.
- :class:`VLLMTeacher`: vLLM's offline ``LLM.chat`` on a GPU node (``vllm`` imported only when started).
- :class:`TransformersTeacher`: ``generate`` of a local transformers model on CPU/GPU; for small models and the demo.
- :class:`TemplateTeacher`: **a deterministic test/demo teacher, not a model.** It finds the reference solution in
  the CoMT prompt and replaces every computed number with a variable name (``result_1``...), so its output passes
  validation. Use it to test the pipeline offline; never to build training data.

Example::

    >>> import asyncio
    >>> from data_prep.prompts import comt_template
    >>> messages = comt_template().render("Ann has 3 bags of 4 pears. How many pears?", "3 * 4 = 12 pears.\\n#### 12")
    >>> teacher = TemplateTeacher()
    >>> print(asyncio.run(teacher.generate([messages], SamplingParams()))[0].text)
    Step 1: 3 * 4 = result_1 pears.
    The answer is result_1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from data_prep.prompts import ANSWER_MARKER, PROBLEM_MARKER, REFERENCE_MARKER
from verl_ccrl import analyze_response

__all__ = [
    "Generation",
    "OpenAITeacher",
    "SamplingParams",
    "Teacher",
    "TeacherError",
    "TemplateTeacher",
    "TransformersTeacher",
    "VLLMTeacher",
    "make_teacher",
]

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]


class TeacherError(RuntimeError):
    """A request that failed for good (after retries); ``retryable`` says whether a rerun may succeed."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SamplingParams:
    """Sampling of the teacher; part of the store key, so changing any field starts a fresh set of requests."""

    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (0 = greedy). >= 0."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass in (0, 1]."})
    max_tokens: int = field(default=512, metadata={"help": "Most tokens one meta-thought may take. >= 1."})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed passed to the backend, or None."})

    def __post_init__(self):
        if not isinstance(self.temperature, int | float) or self.temperature < 0:
            raise ValueError(f"SamplingParams.temperature={self.temperature!r} must be a number >= 0 (0 is greedy).")
        if not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p={self.top_p!r} must be in (0, 1]. Fix: use 1.0 to disable.")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(f"SamplingParams.max_tokens={self.max_tokens!r} must be an int >= 1 (e.g. 512).")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    """One teacher output: text, why it stopped (``"stop"``, ``"length"``...) and its token count when known."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int | None = None


@runtime_checkable
class Teacher(Protocol):
    name: str
    concurrency: int
    batch_size: int

    async def start(self) -> None: ...

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[Generation]: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------ template


def _section(text: str, start_marker: str, end_marker: str) -> str | None:
    start = text.find(start_marker)
    if start < 0:
        return None
    start += len(start_marker)
    end = text.find(end_marker, start)
    return text[start:] if end < 0 else text[start:end]


_LIST_MARKER = re.compile(r"^(?:[-*•]\s+|\d{1,2}[.)]\s+)+")


def template_meta_thought(question: str, reference: str) -> str:
    """The demo teacher's rewrite: the reference's steps with every computed number replaced by ``result_k``.

    >>> print(template_meta_thought("A box holds 12 eggs. Tom buys 7 boxes.", "7 * 12 = 84 eggs\\n#### 84"))
    Step 1: 7 * 12 = result_1 eggs
    The answer is result_1.
    """
    names: dict[Any, str] = {}
    steps: list[str] = []
    answer_name = None
    for line in reference.strip().splitlines():
        line = _LIST_MARKER.sub("", line.strip())
        if not line or line.endswith(":") and not any(ch.isdigit() for ch in line):
            continue  # drop headings ("Let's solve this step by step:"): they carry no step
        if line.startswith("####"):
            answer = analyze_response(question, line)
            for mention in answer:
                answer_name = names.get(mention.value) or answer_name
            continue
        pieces, last = [], 0
        for mention in analyze_response(question, line):
            if mention.kind != "computed":
                continue
            name = names.setdefault(mention.value, f"result_{len(names) + 1}")
            pieces.append(line[last : mention.start])
            pieces.append(name)
            last = mention.end
        pieces.append(line[last:])
        steps.append(f"Step {len(steps) + 1}: " + "".join(pieces))
    answer_name = answer_name or (list(names.values())[-1] if names else "the quantity asked for")
    return "\n".join(steps + [f"The answer is {answer_name}."])


class TemplateTeacher:
    """Deterministic demo/test teacher (no model): see the module docstring. ``delay_s`` sleeps per call."""

    def __init__(self, *, batch_size: int = 64, delay_s: float = 0.0):
        self.name = "template-v1"
        self.concurrency = 1
        self.batch_size = batch_size
        self.delay_s = delay_s
        self.calls = 0

    async def start(self) -> None:
        return None

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        sampling = sampling or SamplingParams()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.calls += len(messages_batch)
        outputs = []
        for messages in messages_batch:
            user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
            question = _section(user, PROBLEM_MARKER, "\n\n" + REFERENCE_MARKER) or user
            reference = _section(user, REFERENCE_MARKER, ANSWER_MARKER) or ""
            outputs.append(Generation(template_meta_thought(question, reference), "stop"))
        return outputs

    async def close(self) -> None:
        return None


# ------------------------------------------------------------------------------------------- OpenAI API


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
    flight over all servers. ``timeout_s``: per request. ``max_retries``: per request, on 429, 5xx, connection
    errors and timeouts (other 4xx fail at once: they are configuration errors); waits
    ``min(backoff_max_s, backoff_base_s * 2**k)`` times a random factor in [0.5, 1], or the server's
    ``Retry-After`` when given. ``stats`` counts requests, retries by cause and failures.
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

    @property
    def name(self) -> str:
        if self.model is None:
            raise RuntimeError("OpenAITeacher.name is known after start() resolves the served model.")
        return f"openai:{self.model}"

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
        header = None
        if response is not None:
            header = response.headers.get("retry-after")
        if header:
            try:
                return min(float(header), 120.0)
            except ValueError:
                pass
        return min(self.backoff_max_s, self.backoff_base_s * 2**retry) * random.uniform(0.5, 1.0)

    async def _one(self, messages: Messages, sampling: SamplingParams) -> Generation:
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
        for retry in range(self.max_retries + 1):
            server = self._pick(avoid=server if retry else None)
            client = server.client
            server.in_flight += 1
            server.sent += 1
            self.stats["requests"] += 1
            try:
                # The raw response skips the client's model construction (a few ms per request at high concurrency).
                raw = await client.chat.completions.with_raw_response.create(**kwargs)
                data = json.loads(raw.http_response.content)
            except openai.APIStatusError as error:
                cause = f"http_{error.status_code}"
                if error.status_code not in self.RETRY_STATUSES:
                    self.stats["failed_" + cause] += 1
                    raise TeacherError(
                        f"{server.url}: HTTP {error.status_code}: {error.message}. Not retried: fix the request "
                        "(model name, API key, prompt length).",
                        retryable=False,
                    ) from error
                last: Exception = error
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
                    return Generation(text, choice.get("finish_reason"), usage.get("completion_tokens"))
            finally:
                server.in_flight -= 1
            self.stats["retry_" + cause] += 1
            if retry < self.max_retries:
                await asyncio.sleep(self._delay(retry, last))
        self.stats["failed"] += 1
        raise TeacherError(f"gave up after {self.max_retries + 1} tries; last error: {last}")

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        sampling = sampling or SamplingParams()
        return list(await asyncio.gather(*(self._one(messages, sampling) for messages in messages_batch)))

    async def close(self) -> None:
        for server in self._servers:
            for client in server.clients:
                await client.close()
        self._servers = []


# ------------------------------------------------------------------------------------------ vLLM offline


class VLLMTeacher:
    """vLLM's offline engine (``LLM.chat``) on a GPU node; large batches, one call at a time.

    ``engine_kwargs`` go to ``vllm.LLM`` (e.g. ``tensor_parallel_size=8``, ``max_model_len=4096``). ``vllm`` is
    imported in :meth:`start` only, so CPU installs never need it.
    """

    def __init__(self, model: str, *, batch_size: int = 512, **engine_kwargs: Any):
        self.model = model
        self.name = f"vllm:{model}"
        self.concurrency = 1
        self.batch_size = batch_size
        self.engine_kwargs = engine_kwargs
        self._llm = None

    async def start(self) -> None:
        try:
            import vllm
        except ImportError as error:
            raise TeacherError(
                "teacher 'vllm' needs the vllm package on a GPU node. Fix: pip install 'verl-ccrl[gpu]', or serve the "
                "model with `vllm serve` and use --teacher openai.",
                retryable=False,
            ) from error
        self._vllm = vllm
        self._llm = await asyncio.to_thread(vllm.LLM, model=self.model, **self.engine_kwargs)

    def _generate_sync(self, messages_batch: list[Messages], sampling: SamplingParams) -> list[Generation]:
        params = self._vllm.SamplingParams(
            temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens, seed=sampling.seed
        )
        outputs = self._llm.chat(messages_batch, params, use_tqdm=False)
        return [
            Generation(output.outputs[0].text, output.outputs[0].finish_reason, len(output.outputs[0].token_ids))
            for output in outputs
        ]

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        sampling = sampling or SamplingParams()
        if self._llm is None:
            raise RuntimeError("VLLMTeacher.generate before start(). Fix: await teacher.start() first.")
        return await asyncio.to_thread(self._generate_sync, messages_batch, sampling)

    async def close(self) -> None:
        self._llm = None


# ---------------------------------------------------------------------------------------- transformers


class TransformersTeacher:
    """Batched ``model.generate`` of a local transformers causal LM (CPU by default); for small models and demos.

    ``model``: a local path or hub id (offline machines: a local path). The tokenizer's chat template renders the
    conversation; left padding batches prompts. ``device``: ``"cpu"``, ``"cuda"``... ``dtype``: torch dtype name.
    """

    def __init__(self, model: str, *, batch_size: int = 8, device: str = "cpu", dtype: str = "float32", seed: int = 0):
        self.model_path = model
        self.name = f"transformers:{os.path.basename(os.path.normpath(model)) if os.path.isdir(model) else model}"
        self.concurrency = 1
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.seed = seed
        self._model = None
        self._tokenizer = None
        self._warned_truncation = False

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype))
        self._model.to(self.device).eval()

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _generate_sync(self, messages_batch: list[Messages], sampling: SamplingParams) -> list[Generation]:
        torch = self._torch
        tokenizer = self._tokenizer
        prompts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages_batch]
        encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
        limit = getattr(self._model.config, "max_position_embeddings", None)
        max_new = sampling.max_tokens
        if limit and max(map(len, encoded)) + max_new > limit:
            # A small model's context cannot hold the prompt: keep its end (problem, reference, answer cue).
            max_new = min(max_new, limit // 2)
            keep = limit - max_new
            if not self._warned_truncation:
                self._warned_truncation = True
                logger.warning(
                    "prompts longer than the model's %d-token context: keeping their last %d tokens and "
                    "generating at most %d.",
                    limit,
                    keep,
                    max_new,
                )
            encoded = [ids[-keep:] for ids in encoded]
        inputs = tokenizer.pad({"input_ids": encoded}, return_tensors="pt", padding=True).to(self.device)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        do_sample = sampling.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": do_sample,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
        with torch.no_grad():
            output = self._model.generate(**inputs, **kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        generations = []
        eos = tokenizer.eos_token_id
        for row in new_tokens.tolist():
            row = [token for token in row if token != tokenizer.pad_token_id or token == eos]
            stopped = eos in row
            if stopped:
                row = row[: row.index(eos)]
            text = tokenizer.decode(row, skip_special_tokens=True)
            generations.append(Generation(text, "stop" if stopped else "length", len(row)))
        return generations

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        sampling = sampling or SamplingParams()
        if self._model is None:
            raise RuntimeError("TransformersTeacher.generate before start(). Fix: await teacher.start() first.")
        return await asyncio.to_thread(self._generate_sync, messages_batch, sampling)

    async def close(self) -> None:
        self._model = None


TEACHERS = ("openai", "vllm", "transformers", "template")


def make_teacher(kind: str, *, model: str | None = None, base_urls: list[str] | None = None, **kwargs: Any) -> Any:
    """A teacher by kind name (the CLI's ``--teacher``): ``openai``, ``vllm``, ``transformers`` or ``template``."""
    started = time.perf_counter()
    if kind == "openai":
        teacher = OpenAITeacher(base_urls or [], model, **kwargs)
    elif kind in ("vllm", "transformers"):
        if not model:
            raise ValueError(f"teacher {kind!r} needs --model (a local path or hub id of the teacher model).")
        teacher = VLLMTeacher(model, **kwargs) if kind == "vllm" else TransformersTeacher(model, **kwargs)
    elif kind == "template":
        teacher = TemplateTeacher(**kwargs)
    else:
        raise ValueError(f"teacher={kind!r} is unknown. Choose one of: {', '.join(TEACHERS)}.")
    logger.debug("made teacher %s in %.3fs", kind, time.perf_counter() - started)
    return teacher
