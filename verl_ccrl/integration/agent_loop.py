"""``ccrl_single_turn``: verl's single-turn agent loop, with one sampling seed per sample under full determinism.

With ``actor_rollout_ref.rollout.full_determinism=True`` verl 0.9.1 gives every request of a step the same seed:
its V1 agent loop runs the ``rollout.n`` samples of a prompt as sessions of one ``priority`` (0 unless the data has
one: ``trainer/ppo/v1/agent_loop_tq.py:122``), so they all become ``request_id="det-0"``
(``experimental/agent_loop/single_turn_agent_loop.py:69``), and its vLLM server seeds every request with
``replica_rank + rollout.seed`` (``workers/rollout/vllm_rollout/vllm_async_server.py:626-627``). Identical prompt,
identical seed: the samples of a GRPO group are one response repeated, every advantage is 0, and RL learns nothing
(measured on the toy world: every step's mean score a multiple of 1/8 with 8 samples per prompt).

This loop puts a seed into each request's sampling params before verl's own loop sends it: from ``rollout.seed``,
the training step, the dataset row (its ``index`` and prompt) and the session (which of the ``rollout.n`` samples),
so each sample has its own reproducible stream on any server that honours a per-request ``seed`` (vLLM's
``SamplingParams.seed``, the ``hf_cpu`` rollout). Without full determinism it changes nothing.

:func:`use_seeded_agent_loop` selects it through verl's own config seam (``rollout.agent.agent_loop_config_path``
and ``default_agent_loop``) when a run asks for full determinism and keeps verl's default loop: no registry of
verl's is touched at import.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from omegaconf import open_dict
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

__all__ = ["SEEDED_AGENT_LOOP", "SeededSingleTurnAgentLoop", "sample_seed", "use_seeded_agent_loop"]

SEEDED_AGENT_LOOP = "ccrl_single_turn"
VERL_DEFAULT_AGENT_LOOP = "single_turn_agent"
AGENT_LOOPS_YAML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config", "agent_loops.yaml")


def sample_seed(base_seed: int, global_step: int, index: Any, prompt: Any, session: int) -> int:
    """A sample's seed: the same inputs give the same seed in every process and run, any other input another.

    >>> sample_seed(1, 3, 7, "What is 2 + 3?", 0) == sample_seed(1, 3, 7, "What is 2 + 3?", 0)
    True
    >>> len({sample_seed(1, 3, 7, "What is 2 + 3?", session) for session in range(8)})
    8
    """
    key = json.dumps([int(base_seed), int(global_step), str(index), str(prompt), int(session)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % (2**63 - 1)


class SeededSingleTurnAgentLoop(SingleTurnAgentLoop):
    """verl's ``SingleTurnAgentLoop`` whose requests carry a per-sample ``seed`` under full determinism."""

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any):
        if getattr(self.rollout_config, "full_determinism", False) and "seed" not in sampling_params:
            seed = sample_seed(
                self.rollout_config.seed,
                int(kwargs.get("global_steps") or 0),
                kwargs.get("index"),
                kwargs.get("raw_prompt"),
                int(kwargs.get("session_id") or 0),
            )
            sampling_params = {**sampling_params, "seed": seed}
        return await super().run(sampling_params, **kwargs)


def use_seeded_agent_loop(config) -> bool:
    """Point a run's agent loop at ``ccrl_single_turn`` when it asks for full determinism and uses verl's default
    single-turn loop with no agent-loop file of its own; returns whether it did. Other loops are left alone."""
    rollout = config.actor_rollout_ref.rollout
    agent = rollout.agent
    if not rollout.get("full_determinism", False) or agent.get("agent_loop_config_path"):
        return False
    if agent.get("default_agent_loop", VERL_DEFAULT_AGENT_LOOP) != VERL_DEFAULT_AGENT_LOOP:
        return False
    with open_dict(config):
        agent.agent_loop_config_path = AGENT_LOOPS_YAML
        agent.default_agent_loop = SEEDED_AGENT_LOOP
    return True
