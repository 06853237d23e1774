"""``vllm_ccrl``: verl's vLLM rollout server, asking vLLM for top-k log-probs and returning per-token entropies.

verl 0.9.1's ``vLLMHttpServer.generate`` (``workers/rollout/vllm_rollout/vllm_async_server.py:558``) forces
``logprobs=0`` (line 622) and streams from ``self.engine.generate`` (line 667). The subclass here copies none of
that method: it puts a thin proxy around ``self.engine`` that requests ``k`` log-probs on a copy of the sampling
params and keeps the final ``RequestOutput``; after verl's ``generate`` returns, the entropies computed from it go
into ``TokenOutput.extra_fields["ccrl_entropies"]``, which verl carries to the reward's ``extra_info``. verl's own
log-prob read (line 713) still finds the sampled token in the top-k dict.

Entropies are of the distribution vLLM reports log-probs for: with vLLM's default ``logprobs_mode=raw_logprobs``
that is the model's own distribution before temperature and top-p, i.e. the policy at temperature 1.

Registration is lazy (a name in verl's two rollout registries); vLLM is imported only when a run selects
``actor_rollout_ref.rollout.name=vllm_ccrl``. ``k`` comes from ``actor_rollout_ref.rollout.custom.ccrl_top_k``
(``python -m verl_ccrl.main_ppo`` sets it from ``ccrl.top_k``; default ``CCRLConfig.top_k``).
"""

from __future__ import annotations

from verl_ccrl.config import CCRLConfig
from verl_ccrl.entropy import ENTROPY_FIELD, entropies_from_position_logprobs

__all__ = ["ENTROPY_FIELD", "DEFAULT_TOP_K", "load_vllm_ccrl_replica"]

# Used only when a run selects vllm_ccrl without verl_ccrl's YAML (which sets custom.ccrl_top_k from ccrl.top_k).
DEFAULT_TOP_K = CCRLConfig().top_k


class _TopKLogprobEngine:
    """Proxy for vLLM's engine client: asks for ``top_k`` log-probs and remembers each request's final output."""

    def __init__(self, engine, top_k: int):
        self._engine = engine
        self._top_k = top_k
        self.final_outputs: dict[str, object] = {}

    def generate(self, *args, sampling_params, request_id, **kwargs):
        params = sampling_params.clone() if hasattr(sampling_params, "clone") else sampling_params
        params.logprobs = max(self._top_k, sampling_params.logprobs or 0)
        return self._remember(
            self._engine.generate(*args, sampling_params=params, request_id=request_id, **kwargs), request_id
        )

    async def _remember(self, generator, request_id):
        async for output in generator:
            self.final_outputs[request_id] = output
            yield output

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
            self.__dict__["_ccrl_engine"] = _TopKLogprobEngine(engine, int(custom.get("ccrl_top_k", DEFAULT_TOP_K)))

        async def generate(self, prompt_ids, sampling_params, request_id, *args, **kwargs):
            try:
                output = await super().generate(prompt_ids, sampling_params, request_id, *args, **kwargs)
            finally:  # a failed request must not leave its output behind
                final = self.engine.final_outputs.pop(request_id, None) if self.engine is not None else None
            if final is not None and final.outputs and final.outputs[0].logprobs is not None:
                vocab_size = getattr(getattr(self.model_config, "hf_config", None), "vocab_size", None)
                output.extra_fields[ENTROPY_FIELD] = entropies_from_position_logprobs(
                    final.outputs[0].logprobs, self.engine._top_k, vocab_size
                )
            return output

    class CCRLvLLMReplica(vLLMReplica):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.server_class = ray.remote(CCRLvLLMHttpServer)

    return CCRLvLLMReplica
