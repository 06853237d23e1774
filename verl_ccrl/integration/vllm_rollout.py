"""``vllm_ccrl``: verl's vLLM rollout server plus per-token entropies, for runs that skip verl's actor pass.

When to use it: the default GPU path is verl's stock ``vllm`` rollout with ``ccrl.entropy_source=actor`` (exact
entropies from verl's old-log-prob pass, at no cost). ``vllm_ccrl`` with ``ccrl.entropy_source=rollout`` is for
``algorithm.rollout_correction.bypass_mode=True``, where verl skips that pass (docs/training.md, "Entropy modes: when
each is right", has the measured per-token costs).

How: verl 0.9.1's ``vLLMHttpServer.generate`` (``workers/rollout/vllm_rollout/vllm_async_server.py:558``) forces
``logprobs=0`` (line 622) and streams from ``self.engine.generate`` (line 667). The subclass copies none of that
method. A proxy around ``self.engine`` asks, on a copy of the sampling params, for ``k`` log-probs in vLLM's flat
form without detokenisation; when a request finishes it computes the request's entropies in one vectorised step
and gives verl back only the log-probs verl asked for (the sampled token's, or none), so verl's own read (line 713)
costs what it costs with the stock rollout. The entropies go into ``TokenOutput.extra_fields["ccrl_entropies"]``,
which verl carries to the reward's ``extra_info``.

Which distribution: verl passes ``rollout.logprobs_mode`` (default ``processed_logprobs``) to vLLM for the whole
engine, and bypass mode uses those log-probs as the PPO old log-probs, so they stay as verl sets them. Processed
log-probs are of the sampling distribution: ``softmax(logits / temperature)`` after top-k/top-p masking (vLLM
``v1/sample/sampler.py``). :func:`check_vllm_ccrl_config` requires ``top_k=-1`` and ``top_p=1``, where that is the
policy at the rollout temperature over the whole vocabulary: the distribution verl's actor computes its entropy of
(``trainer/ppo/v1/trainer_base.py:1654``). ``tests/vllm_cpu`` checks it against a transformers forward pass.

verl branches on ``rollout.name == "vllm"`` in places; for ``vllm_ccrl`` (:func:`check_vllm_ccrl_config` refuses
what would silently differ):

- server name: the worker-side adapter verl reuses for ``vllm_ccrl`` (``ServerAdapter``) finds the server as
  ``f"{rollout.name}_server_{replica}_{node}"`` (``vllm_rollout/vllm_rollout.py:153-167,321-323``); the replica
  names its server with that prefix (:meth:`CCRLvLLMReplica._get_server_name_prefix`).
- request priority is forwarded only for ``vllm`` (``workers/rollout/llm_server.py:148``): refused with
  ``rollout.scheduling_policy=priority``; with verl's default ``fcfs`` vLLM ignores priorities anyway.
- the vLLM LoRA-rank check runs only for ``vllm`` (``utils/config.py:212``): run here too.
- ``checkpoint_engine.backend=delta_sharded`` (``checkpoint_engine/base.py:327``), prefill/decode disaggregation
  (``workers/config/rollout.py:341``, ``replica.py:403-417``) and ``pipeline_model_parallel_size > 1`` (refused for
  ``vllm`` at ``workers/config/rollout.py:320``, not for other names): refused at start-up.
- Prometheus labels the servers ``VLLM_CCRL`` (``workers/rollout/utils.py:208``): cosmetic.

Registration is lazy (a name in verl's two rollout registries); vLLM is imported only when a run selects
``actor_rollout_ref.rollout.name=vllm_ccrl``. ``k`` comes from ``actor_rollout_ref.rollout.custom.ccrl_top_k``
(``python -m verl_ccrl.main_ppo`` sets it from ``ccrl.top_k``; default ``CCRLConfig.top_k``).
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_ccrl.config import CCRLConfig
from verl_ccrl.entropy import ENTROPY_FIELD, entropies_from_position_logprobs, entropy_from_logprobs

__all__ = [
    "ENTROPY_FIELD",
    "DEFAULT_TOP_K",
    "VLLM_CCRL",
    "check_vllm_ccrl_config",
    "entropies_from_flat_logprobs",
    "load_vllm_ccrl_replica",
]

VLLM_CCRL = "vllm_ccrl"
# Used only when a run selects vllm_ccrl without verl_ccrl's YAML (which sets custom.ccrl_top_k from ccrl.top_k).
DEFAULT_TOP_K = CCRLConfig().top_k
# vLLM's ModelConfig.max_logprobs default (vllm/config/model.py); -1 lifts the cap.
VLLM_DEFAULT_MAX_LOGPROBS = 20


def check_vllm_ccrl_config(config) -> None:
    """Start-up checks for ``actor_rollout_ref.rollout.name=vllm_ccrl`` (a no-op for other rollouts).

    Raises ValueError naming the setting, its value, why, and what to set instead. Needs no vLLM."""
    rollout = config.actor_rollout_ref.rollout
    if rollout.name != VLLM_CCRL:
        return
    top_k = _top_k(config)
    engine = (rollout.get("engine_kwargs") or {}).get("vllm") or {}
    max_logprobs = int(engine.get("max_logprobs", VLLM_DEFAULT_MAX_LOGPROBS))
    if max_logprobs != -1 and top_k > max_logprobs:
        raise ValueError(
            f"ccrl.top_k={top_k} is above vLLM's max_logprobs={max_logprobs}: every vllm_ccrl request would fail "
            f"with VLLMValidationError. Lower ccrl.top_k to {max_logprobs} or raise the engine's cap with "
            f"+actor_rollout_ref.rollout.engine_kwargs.vllm.max_logprobs={top_k}."
        )
    _check_sampled_distribution(config)
    _check_vllm_only_branches(config)


def _top_k(config) -> int:
    custom = config.actor_rollout_ref.rollout.get("custom") or {}
    value = custom.get("ccrl_top_k", (config.get("ccrl") or {}).get("top_k", DEFAULT_TOP_K))
    return int(value)


def _check_sampled_distribution(config) -> None:
    """The entropies are of what vLLM reports log-probs for; refuse settings where that is not the actor's policy."""
    rollout = config.actor_rollout_ref.rollout
    mode = rollout.get("logprobs_mode", "processed_logprobs")
    if mode != "processed_logprobs":
        raise ValueError(
            f"actor_rollout_ref.rollout.logprobs_mode={mode!r}: vllm_ccrl computes entropies from vLLM's "
            "processed log-probs (the policy at the rollout temperature, the distribution verl's actor and bypass "
            "mode use); other modes report logits or the temperature-1 distribution. Keep processed_logprobs."
        )
    top_k, top_p = rollout.get("top_k", -1), rollout.get("top_p", 1.0)
    if top_k not in (-1, 0, None) or (top_p is not None and float(top_p) < 1.0):
        raise ValueError(
            f"actor_rollout_ref.rollout.top_k={top_k}, top_p={top_p}: vLLM's processed log-probs are masked to the "
            "top-k/top-p tokens, so vllm_ccrl's entropies would be those of the truncated sampling distribution "
            "(measured: 0.04 nats where the policy's is 2.1). Set top_k=-1 and top_p=1.0, or use the stock vllm "
            "rollout with ccrl.entropy_source=actor."
        )


def _check_vllm_only_branches(config) -> None:
    """verl handles these only when rollout.name == 'vllm' (see the module docstring)."""
    rollout = config.actor_rollout_ref.rollout
    refused = {
        "scheduling_policy": (
            rollout.get("scheduling_policy", "fcfs") == "priority",
            "verl forwards request priorities only to a rollout named 'vllm' (workers/rollout/llm_server.py:148)",
            "fcfs",
        ),
        "checkpoint_engine.backend": (
            (rollout.get("checkpoint_engine") or {}).get("backend") == "delta_sharded",
            "verl's delta weight sync accepts only rollouts named 'vllm' or 'sglang' (checkpoint_engine/base.py:327)",
            "naive",
        ),
        "disaggregation.enabled": (
            bool((rollout.get("disaggregation") or {}).get("enabled", False)),
            "verl's prefill/decode split exists only for 'vllm' and 'sglang' (workers/config/rollout.py:341)",
            "False",
        ),
        "pipeline_model_parallel_size": (
            int(rollout.get("pipeline_model_parallel_size", 1) or 1) > 1,
            "verl's vLLM server does not implement pipeline parallelism (refused for 'vllm' at "
            "workers/config/rollout.py:320, not for other names)",
            "1",
        ),
    }
    for key, (bad, why, fix) in refused.items():
        if bad:
            value = rollout
            for part in key.split("."):
                value = value.get(part)
            raise ValueError(
                f"actor_rollout_ref.rollout.{key} is not supported with rollout.name=vllm_ccrl (got {value!r}): "
                f"{why}. Set actor_rollout_ref.rollout.{key}={fix}, or use rollout.name=vllm with "
                "ccrl.entropy_source=actor."
            )
    model = config.actor_rollout_ref.model
    lora = model.get("lora") or {}
    lora_rank = 0 if lora.get("merge", False) else int(lora.get("rank", 0) or model.get("lora_rank", 0) or 0)
    if lora_rank > 0:
        try:
            from verl.workers.rollout.vllm_rollout.utils import get_vllm_max_lora_rank
        except ImportError:  # no vLLM on this machine (a dry run): the server checks at launch
            return
        get_vllm_max_lora_rank(lora_rank)  # verl's own check, skipped by verl for names other than 'vllm'


def entropies_from_flat_logprobs(
    logprobs: Sequence[float],
    ranks: Sequence[int | None],
    start_indices: Sequence[int],
    end_indices: Sequence[int],
    top_k: int,
    vocab_size: int | None = None,
) -> list[float]:
    """Per-token entropies from the arrays of vLLM's ``FlatLogprobs``, in one vectorised step.

    Position ``i`` owns entries ``start_indices[i]:end_indices[i]``: the sampled token first (with its true rank),
    then the top k ranked 1..k (``vllm/logprobs.py``, ``append_logprobs_for_next_position``). Entries ranked
    1..top_k are placed by rank into a ``[positions, top_k]`` matrix, so the sampled token adds nothing: inside the
    top k it repeats an entry, outside it would break the bound of ``entropy_from_logprobs``. Equal, value for
    value, to ``entropies_from_position_logprobs`` on the same positions as dicts. A position without entries
    gives NaN (its number gets no confidence).

    >>> import math
    >>> half = math.log(0.5)
    >>> entropies_from_flat_logprobs([half, half, half, 0.0, 0.0], [2, 1, 2, 1, 1], [0, 3], [3, 5], top_k=2)
    [0.6931471824645996, 0.0]
    """
    import torch

    positions = len(start_indices)
    if positions == 0:
        return []
    starts = torch.as_tensor(start_indices, dtype=torch.long)
    counts = torch.as_tensor(end_indices, dtype=torch.long) - starts
    begin, end = int(starts[0]), int(starts[-1] + counts[-1])
    rows = torch.repeat_interleave(torch.arange(positions), counts)
    try:
        rank = torch.as_tensor(ranks[begin:end], dtype=torch.long)
    except (TypeError, RuntimeError):  # a None rank (never for sampled tokens in vLLM 0.24-0.27)
        rank = torch.as_tensor([0 if r is None else r for r in ranks[begin:end]], dtype=torch.long)
    values = torch.as_tensor(logprobs[begin:end], dtype=torch.float64)
    keep = (rank >= 1) & (rank <= top_k)
    matrix = torch.full((positions, top_k), float("-inf"), dtype=torch.float64)
    matrix[rows[keep], rank[keep] - 1] = values[keep]
    entropies = entropy_from_logprobs(matrix, vocab_size=vocab_size)
    entropies[~torch.isfinite(matrix).any(-1)] = float("nan")
    return entropies.tolist()


def _entropies(sample_logprobs, top_k: int, vocab_size: int | None) -> list[float]:
    if hasattr(sample_logprobs, "start_indices"):  # FlatLogprobs
        flat = sample_logprobs
        return entropies_from_flat_logprobs(
            flat.logprobs, flat.ranks, flat.start_indices, flat.end_indices, top_k, vocab_size
        )
    return entropies_from_position_logprobs(sample_logprobs, top_k, vocab_size)


def _as_requested(sample_logprobs, requested: int | None):
    """What verl would have received for its own ``logprobs`` request: nothing, or the sampled tokens only."""
    if requested is None:
        return None
    if requested > 0 or not hasattr(sample_logprobs, "start_indices"):
        return sample_logprobs
    flat = sample_logprobs
    firsts = flat.start_indices
    return type(flat)(
        start_indices=list(range(len(firsts))),
        end_indices=list(range(1, len(firsts) + 1)),
        token_ids=[flat.token_ids[i] for i in firsts],
        logprobs=[flat.logprobs[i] for i in firsts],
        ranks=[flat.ranks[i] for i in firsts],
        decoded_tokens=[None] * len(firsts),
    )


class _TopKLogprobEngine:
    """Proxy for vLLM's engine client: asks for ``top_k`` log-probs, remembers each request's final output and
    computes its entropies when it finishes."""

    def __init__(self, engine, top_k: int, vocab_size: int | None = None):
        self._engine = engine
        self._top_k = top_k
        self._vocab_size = vocab_size
        self.final_outputs: dict[str, object] = {}
        self.entropies: dict[str, list[float]] = {}

    def generate(self, *args, sampling_params, request_id, **kwargs):
        params = sampling_params.clone() if hasattr(sampling_params, "clone") else sampling_params
        params.logprobs = max(self._top_k, sampling_params.logprobs or 0)
        # Without these vLLM decodes each of the k+1 ids at every position (verl keeps the tokenizer,
        # vllm_async_server.py:328) and builds k+1 Logprob objects per position: measured 412 against 39 us of
        # front-end CPU per token. verl reads token ids only; stop strings need the text, so they keep it.
        params.flat_logprobs = True
        if not getattr(params, "stop", None):
            params.detokenize = False
        stream = self._engine.generate(*args, sampling_params=params, request_id=request_id, **kwargs)
        return self._remember(stream, request_id, sampling_params.logprobs)

    async def _remember(self, generator, request_id, requested):
        async for output in generator:
            if getattr(output, "finished", False) and output.outputs and output.outputs[0].logprobs is not None:
                completion = output.outputs[0]
                self.entropies[request_id] = _entropies(completion.logprobs, self._top_k, self._vocab_size)
                completion.logprobs = _as_requested(completion.logprobs, requested)
            self.final_outputs[request_id] = output
            yield output

    def forget(self, request_id) -> list[float] | None:
        """Drop a request's state; its entropies, if it finished with log-probs."""
        self.final_outputs.pop(request_id, None)
        return self.entropies.pop(request_id, None)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def load_vllm_ccrl_replica():
    """The replica class for ``vllm_ccrl`` (imports vLLM; called by verl's registry only when selected)."""
    import ray
    from verl.workers.rollout.vllm_rollout.vllm_async_server import vLLMHttpServer, vLLMReplica

    class CCRLvLLMHttpServer(vLLMHttpServer):
        """verl's vLLM server plus per-token entropies in ``extra_fields['ccrl_entropies']``."""

        @property
        def engine(self):
            return self.__dict__.get("_ccrl_engine")

        @engine.setter
        def engine(self, engine):
            if engine is None:
                self.__dict__["_ccrl_engine"] = None
                return
            custom = getattr(self.config, "custom", None) or {}
            vocab_size = getattr(getattr(self.model_config, "hf_config", None), "vocab_size", None)
            self.__dict__["_ccrl_engine"] = _TopKLogprobEngine(
                engine, int(custom.get("ccrl_top_k", DEFAULT_TOP_K)), vocab_size
            )

        async def generate(self, prompt_ids, sampling_params, request_id, *args, **kwargs):
            try:
                output = await super().generate(prompt_ids, sampling_params, request_id, *args, **kwargs)
            finally:  # a failed request must not leave its state behind
                entropies = self.engine.forget(request_id) if self.engine is not None else None
            if entropies is not None:
                output.extra_fields[ENTROPY_FIELD] = entropies
            return output

    class CCRLvLLMReplica(vLLMReplica):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.server_class = ray.remote(CCRLvLLMHttpServer)

        def _get_server_name_prefix(self) -> str:
            # verl's ServerAdapter, which vllm_ccrl reuses, looks servers up under f"{rollout.name}_".
            return f"{self.config.name}_"

    return CCRLvLLMReplica
