"""``hf_cpu``: a token-in/token-out rollout on a transformers model, for verl's agent loop, on CPU.

Debugging and study backend. It exists so that verl's real trainer (agent loop, reward loop, FSDP actor, weight
sync) runs end to end on a machine without a GPU, so that tests can check the CCRL entropy channel with exact
entropies, and so that the toy-world study's RL is fast and reproducible. Concurrent requests are coalesced into
one batch (:mod:`verl_ccrl.integration.cpu.batch_decode`); there is no sleep/wake and no LoRA. Never import it on GPU
runs: :mod:`verl_ccrl.integration.cpu` registers it by import path, so it is loaded only when a run selects
``actor_rollout_ref.rollout.name=hf_cpu``.

Reproducibility: a request with a ``seed`` in its sampling params (vLLM's per-request seed; verl_ccrl's agent loop
sets one per sample under ``actor_rollout_ref.rollout.full_determinism=True``, :mod:`verl_ccrl.integration.agent_loop`)
is sampled from its own stream, and under ``full_determinism`` batches are decoded in one fixed shape
(``rollout.max_num_seqs`` rows by ``rollout.prompt_length``), so neither arrival order nor batch composition
changes a response. A request without a seed draws one from the server's RNG, in arrival order.

The pieces mirror verl's vLLM backend (``verl/workers/rollout/vllm_rollout/``):

- :class:`HFCPURolloutServer`, a Ray actor holding the model, answers ``generate(prompt_ids, sampling_params,
  request_id, ...) -> TokenOutput`` (called by ``LLMServerClient.generate``, ``verl/workers/rollout/llm_server.py:150``)
  and the replica control calls (``sleep``, ``wake_up``, ``clear_kv_cache``, ...) as no-ops;
- :class:`HFCPUReplica` launches one server per replica (``RolloutReplica.launch_servers``,
  ``verl/workers/rollout/replica.py:242``);
- :class:`HFCPUServerAdapter` lives in each FSDP worker (built at ``verl/workers/engine_workers.py:667``) and
  pushes the actor's full weights to its replica's server (naive sync, ``engine_workers.py:804``).

Every response carries ``TokenOutput.extra_fields["ccrl_entropies"]``: one exact entropy (nats) per generated token,
which verl forwards to the reward's ``extra_info`` (``single_turn_agent_loop.py:109`` ->
``experimental/reward_loop/reward_manager/naive.py:47``), computed as the eval's transformers backend computes
them (``verl_ccrl.eval.generation.sampling_distribution_logits``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica

from verl_ccrl.entropy import ENTROPY_FIELD
from verl_ccrl.eval.generation import eos_token_id_list
from verl_ccrl.integration.cpu import HF_CPU_ROLLOUT_NAME
from verl_ccrl.integration.cpu.batch_decode import DecodeRow, decode_batch

logger = logging.getLogger(__name__)

SERVER_NAME_PREFIX = f"{HF_CPU_ROLLOUT_NAME}_server"
# A batch starts once no request has arrived for COALESCE_SECONDS (or it is full, or COALESCE_MAX_SECONDS passed):
# verl's agent loop worker sends a step's requests one after another, a few milliseconds apart but over seconds in
# all (256 requests: about 2 s on 2 cores, each built through hydra and sent through Ray). A fixed wait after the
# first request split a step into several batches, and under full determinism every batch costs a full
# max_num_seqs-row decode. A request that misses a batch waits for the next one; it is never lost.
COALESCE_SECONDS = 0.05
COALESCE_MAX_SECONDS = 10.0
# Rows decoded together at most (also capped by rollout.max_num_seqs; 1 serves one request at a time).
MAX_BATCH_ROWS = 256
# Intra-op threads of the server's decoding. The models served here are tiny: a second thread made a 256-row decode
# 1.18x faster alone, 2.1x slower beside one busy process, and 1.6x slower with OMP_WAIT_POLICY=PASSIVE (no bit of the
# output changed; python benchmarks/hf_cpu_decode.py).
DECODE_THREADS = 1


def _server_actor_name(replica_rank: int, node_rank: int = 0) -> str:
    return f"{SERVER_NAME_PREFIX}_{replica_rank}_{node_rank}"


class HFCPURolloutServer:
    """Ray actor: one model on CPU answering verl's token-in/token-out ``generate``. Debugging backend."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int) -> None:
        from transformers import AutoModelForCausalLM, GenerationConfig
        from verl.utils.config import omega_conf_to_dataclass
        from verl.workers.config import HFModelConfig

        self.config = omega_conf_to_dataclass(config)
        self.model_config: HFModelConfig = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.replica_rank = replica_rank
        self.global_steps: int | None = None

        # float32 whatever rollout.dtype says: entropies must be exact, and CPUs are slow at bf16 matmuls anyway.
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_config.local_path,
            dtype=torch.float32,
            attn_implementation="sdpa",
            trust_remote_code=self.model_config.trust_remote_code,
        )
        self.model.eval()
        self.eos_token_ids = self._eos_token_ids()
        pad_token_id = self.model_config.tokenizer.pad_token_id if self.model_config.tokenizer is not None else None
        # A checkpoint's generation_config.json (top_k=20, repetition_penalty=1.05, ...) would otherwise fill every
        # sampling field a request leaves unset; only verl's sampling params may shape the distribution.
        self.model.generation_config = GenerationConfig(
            eos_token_id=self.eos_token_ids, pad_token_id=pad_token_id if pad_token_id is not None else 0
        )
        self.max_model_len = self.config.max_model_len or getattr(
            self.model.config, "max_position_embeddings", self.config.prompt_length + self.config.response_length
        )
        torch.set_num_threads(DECODE_THREADS)
        # Only requests without a seed draw from this.
        torch.manual_seed(self.config.seed + replica_rank)
        self.pad_token_id = pad_token_id if pad_token_id is not None else 0
        # One batch at a time, and update_weights never interleaves with a batch.
        self._model_lock = asyncio.Lock()
        self._pending: list[tuple[DecodeRow, asyncio.Future]] = []
        self._server_task: asyncio.Task | None = None
        self.batches_served = 0
        self._max_rows = int(self.config.max_num_seqs)
        if self.config.full_determinism and self._max_rows > MAX_BATCH_ROWS:
            logger.warning(
                "hf_cpu: full_determinism decodes batches of exactly rollout.max_num_seqs=%d rows; set "
                "actor_rollout_ref.rollout.max_num_seqs to data.train_batch_size * rollout.n (idle rows cost time)",
                self._max_rows,
            )

    def _eos_token_ids(self) -> list[int]:
        generation_config = self.model.generation_config
        configured = getattr(generation_config, "eos_token_id", None) if generation_config is not None else None
        return eos_token_id_list(configured, getattr(self.model_config.tokenizer, "eos_token_id", None))

    def _max_new_tokens(self, prompt_length: int, sampling_params: dict[str, Any]) -> int:
        # Same budget rule as verl's vLLM server (vllm_async_server.py:589-617), so responses fit the trainer's tensors.
        room = self.max_model_len - prompt_length
        if room < 1:
            raise ValueError(
                f"prompt of {prompt_length} tokens leaves no room within max_model_len={self.max_model_len}"
            )
        requested = sampling_params.get("max_tokens", sampling_params.get("max_new_tokens"))
        if requested is None:
            requested = min(
                self.config.response_length, self.config.prompt_length + self.config.response_length - prompt_length
            )
        return max(1, min(int(requested), room))

    def _decode_row(self, prompt_ids: list[int], sampling_params: dict[str, Any]) -> DecodeRow:
        """One request as a :class:`DecodeRow`: verl's sampling params and, when given, its seed."""
        temperature = float(sampling_params.get("temperature", self.config.temperature))
        if int(sampling_params.get("n", 1)) != 1:
            raise ValueError("hf_cpu serves one sample per request; verl expands rollout.n into separate requests")
        repetition_penalty = float(sampling_params.get("repetition_penalty", 1.0))
        if repetition_penalty != 1.0:
            logger.warning("hf_cpu: repetition_penalty is applied when sampling but not in the reported entropies")
        # vLLM's per-request seed (verl_ccrl's agent loop sets one per sample under full determinism).
        seed = int(sampling_params["seed"]) if sampling_params.get("seed") is not None else None
        ignore_eos = sampling_params.get("ignore_eos", self.config.ignore_eos)
        return DecodeRow(
            prompt_ids=prompt_ids,
            max_new_tokens=self._max_new_tokens(len(prompt_ids), sampling_params),
            # As in verl's vLLM server, temperature alone decides: the agent loop sets 0 for greedy/validation.
            temperature=temperature,
            top_k=int(sampling_params.get("top_k", -1)),
            top_p=float(sampling_params.get("top_p", 1.0)),
            repetition_penalty=repetition_penalty,
            stop_ids=frozenset() if ignore_eos else frozenset(self.eos_token_ids),
            seed=seed,
        )

    def _batch_shape(self, rows: list[DecodeRow]) -> tuple[int, int] | None:
        """The fixed decode shape under ``rollout.full_determinism``, else None (the batch as it came)."""
        if not self.config.full_determinism:
            return None
        # Requests join batches by arrival time; a fixed shape keeps each row's arithmetic the same whatever joined.
        return self._max_rows, max(self.config.prompt_length, *(len(row.prompt_ids) for row in rows))

    async def _serve_pending(self) -> None:
        """Decode the queued requests in batches until none is left; requests that arrive meanwhile wait for the
        next batch."""
        limit = self._max_rows if self.config.full_determinism else min(self._max_rows, MAX_BATCH_ROWS)
        loop = asyncio.get_running_loop()
        while self._pending:
            deadline, queued = loop.time() + COALESCE_MAX_SECONDS, -1
            while queued != len(self._pending) and len(self._pending) < limit and loop.time() < deadline:
                queued = len(self._pending)
                await asyncio.sleep(COALESCE_SECONDS)
            batch, self._pending = self._pending[:limit], self._pending[limit:]
            rows = [row for row, _ in batch]
            try:
                async with self._model_lock:
                    results = await asyncio.to_thread(
                        decode_batch, self.model, rows, pad_token_id=self.pad_token_id, shape=self._batch_shape(rows)
                    )
            except Exception as error:  # every waiting request learns why, none hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches_served += 1
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Any = None,
        video_data: Any = None,
        **unused: Any,
    ):
        """verl's token-in/token-out call; returns a ``TokenOutput`` carrying ``extra_fields["ccrl_entropies"]``.

        Concurrent calls are decoded together (:func:`decode_batch`); each keeps its own sampling params and seed.
        """
        from verl.workers.rollout.replica import TokenOutput

        if image_data is not None or video_data is not None:
            raise NotImplementedError("hf_cpu is text-only")
        sampling_params = dict(sampling_params)
        want_log_probs = bool(sampling_params.pop("logprobs", False))
        row = self._decode_row([int(token_id) for token_id in prompt_ids], sampling_params)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._server_task is None or self._server_task.done():
            self._server_task = asyncio.create_task(self._serve_pending())
        result = await future
        return TokenOutput(
            token_ids=result.token_ids,
            log_probs=result.log_probs if want_log_probs else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps, ENTROPY_FIELD: result.entropies},
        )

    async def update_weights(self, named_tensors: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        """Copy full (unsharded, HF-named) tensors into the model; returns how many were copied."""
        async with self._model_lock:
            own_state = self.model.state_dict()
            unknown = sorted(set(named_tensors) - set(own_state))
            if unknown:
                raise KeyError(f"hf_cpu update_weights: names not in the rollout model: {unknown[:5]}")
            with torch.no_grad():
                for name, tensor in named_tensors.items():
                    own_state[name].copy_(tensor)
        if global_steps is not None:
            self.global_steps = global_steps
        return len(named_tensors)

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    def get_rollout_config(self):
        return self.config

    # Replica control calls (RolloutReplica, verl/workers/rollout/replica.py:265-310): nothing to free or pause here.
    async def wake_up(self, tags: list[str] | None = None) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def wait_for_requests_to_drain(self) -> None:
        while self._server_task is not None and not self._server_task.done():
            await asyncio.sleep(COALESCE_SECONDS)

    async def abort_all_requests(self, reject_request: bool = False, **unused: Any) -> dict[str, Any]:
        return {"aborted_count": 0, "request_ids": []}

    async def abort_request(self, request_id: str, **unused: Any) -> dict[str, Any]:
        return {"aborted": False, "request_id": request_id}

    async def resume_generation(self) -> None:
        return None

    async def start_profile(self, **unused: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class HFCPUReplica(RolloutReplica):
    """One ``hf_cpu`` server per replica, on the node of the replica's first worker. Debugging backend."""

    async def launch_servers(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if self.nnodes != 1:
            raise NotImplementedError("hf_cpu runs one server per replica on a single node")
        options: dict[str, Any] = {
            "name": _server_actor_name(self.replica_rank),
            "max_concurrency": self.max_concurrency,
            # The server shares the workers' cores; it must not wait for a free logical CPU.
            "num_cpus": 0,
        }
        if self.workers:
            node_id = await self.workers[0].__ray_call__.remote(lambda worker: ray.get_runtime_context().get_node_id())
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
        server = (
            ray.remote(HFCPURolloutServer)
            .options(**options)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        # The constructor loads the model; wait for it so a bad checkpoint fails here, not on the first request.
        await server.get_rollout_config.remote()
        self.servers = [server]
        self._server_handle = server
        # verl keys its load balancer by address; there is no HTTP endpoint behind this one.
        self._server_address = f"{HF_CPU_ROLLOUT_NAME}-replica-{self.replica_rank}@{ray.util.get_node_ip_address()}"


class HFCPUServerAdapter(BaseRollout):
    """Lives in each FSDP worker; sends the actor's weights to its replica's server (naive sync). Debugging backend."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ["RANK"])
        rollout_world_size = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // rollout_world_size if replica_rank == -1 else replica_rank
        # The replica's first rank talks to the server, as in verl's vLLM ServerAdapter (vllm_rollout.py:123).
        self._owns_server = rank % rollout_world_size == 0
        self._server = None

    def _server_handle(self):
        if self._server is None:
            self._server = ray.get_actor(_server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(
        self,
        weights: Iterable[tuple[str, torch.Tensor]],
        wire_format: str = "named_tensors",
        global_steps: int | None = None,
        peft_config: Any = None,
        **unused: Any,
    ) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(f"hf_cpu receives full named tensors only, got wire_format={wire_format!r}")
        if peft_config is not None:
            raise NotImplementedError("hf_cpu does not serve LoRA adapters; merge them (model.lora.merge=True)")
        named_tensors: dict[str, torch.Tensor] = {}
        # Every rank drains the generator: gathering a sharded parameter (DTensor.full_tensor) is a collective.
        for name, tensor in weights:
            if self._owns_server:
                named_tensors[name] = tensor.detach().to("cpu", copy=True)
        if self._owns_server:
            await self._server_handle().update_weights.remote(named_tensors, global_steps)
