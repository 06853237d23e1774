"""``hf_cpu``: a token-in/token-out rollout on transformers ``generate``, for verl's agent loop, on CPU.

Debugging backend. It exists so that verl's real trainer (agent loop, reward loop, FSDP actor, weight sync) runs
end to end on a machine without a GPU, and so that tests can check the CCRL entropy channel with exact entropies.
It serves one request at a time, has no KV cache management, no sleep/wake and no LoRA. Never import it on GPU
runs: :mod:`verl_ccrl.integration.cpu` registers it by import path, so it is loaded only when a run selects
``actor_rollout_ref.rollout.name=hf_cpu``.

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
``experimental/reward_loop/reward_manager/naive.py:47``). Generation and entropies are
``verl_ccrl.eval.generation.generate_with_entropies``, shared with the eval's transformers backend.
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
from verl_ccrl.eval.generation import eos_token_id_list, generate_with_entropies
from verl_ccrl.integration.cpu import HF_CPU_ROLLOUT_NAME

logger = logging.getLogger(__name__)

SERVER_NAME_PREFIX = f"{HF_CPU_ROLLOUT_NAME}_server"


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
        torch.manual_seed(self.config.seed + replica_rank)
        # One request at a time: the CPU is saturated by one forward pass, and update_weights must not interleave.
        self._model_lock = asyncio.Lock()

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

    def _generate_blocking(self, prompt_ids: list[int], sampling_params: dict[str, Any]) -> dict[str, Any]:
        temperature = float(sampling_params.get("temperature", self.config.temperature))
        top_k = int(sampling_params.get("top_k", -1))
        top_p = float(sampling_params.get("top_p", 1.0))
        # As in verl's vLLM server, temperature alone decides: the agent loop sets 0 for greedy/validation.
        greedy = temperature == 0
        if int(sampling_params.get("n", 1)) != 1:
            raise ValueError("hf_cpu serves one sample per request; verl expands rollout.n into separate requests")
        if "seed" in sampling_params:
            torch.manual_seed(int(sampling_params["seed"]))

        generate_kwargs: dict[str, Any] = dict(
            max_new_tokens=self._max_new_tokens(len(prompt_ids), sampling_params),
            do_sample=not greedy,
            repetition_penalty=float(sampling_params.get("repetition_penalty", 1.0)),
        )
        if not greedy:
            # top_k=0 disables the warper; leaving it unset would mean transformers' default of 50.
            generate_kwargs.update(top_k=max(top_k, 0), top_p=top_p)
        if sampling_params.get("ignore_eos", self.config.ignore_eos):
            generate_kwargs["eos_token_id"] = []
        if generate_kwargs["repetition_penalty"] != 1.0:
            logger.warning("hf_cpu: repetition_penalty is applied when sampling but not in the reported entropies")

        input_ids = torch.tensor([prompt_ids], dtype=torch.long)
        # Entropies and log-probs of logits / temperature, as the actor scores them (sampling_distribution_logits).
        new_tokens, entropies, log_probs = generate_with_entropies(
            self.model, input_ids, torch.ones_like(input_ids), temperature=temperature, **generate_kwargs
        )
        return {"token_ids": new_tokens[0], "log_probs": log_probs[0].tolist(), "entropies": entropies[0].tolist()}

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Any = None,
        video_data: Any = None,
        **unused: Any,
    ):
        """verl's token-in/token-out call; returns a ``TokenOutput`` carrying ``extra_fields["ccrl_entropies"]``."""
        from verl.workers.rollout.replica import TokenOutput

        if image_data is not None or video_data is not None:
            raise NotImplementedError("hf_cpu is text-only")
        prompt_ids = [int(token_id) for token_id in prompt_ids]
        sampling_params = dict(sampling_params)
        want_log_probs = bool(sampling_params.pop("logprobs", False))
        async with self._model_lock:
            result = await asyncio.to_thread(self._generate_blocking, prompt_ids, sampling_params)
        return TokenOutput(
            token_ids=result["token_ids"],
            log_probs=result["log_probs"] if want_log_probs else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps, ENTROPY_FIELD: result["entropies"]},
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
        async with self._model_lock:
            return None

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
