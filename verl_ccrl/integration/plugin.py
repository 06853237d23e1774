"""verl plugin entry point: the one place that names CCRL's pieces in verl's registries, in every verl process.

verl 0.9.1 loads the ``verl.plugins`` entry points when ``verl`` is imported (``verl/__init__.py:58-73``), in the
driver and in every Ray worker, so installing verl-ccrl is enough for ``reward.reward_manager.name=ccrl`` and
``actor_rollout_ref.rollout.name=vllm_ccrl`` to resolve. Registration here is cheap: the rollout is registered
by name (vLLM is imported only if a run selects it). verl swallows a plugin's import error (DEBUG log), so a failure
here is logged at ERROR before it propagates, and ``python -m verl_ccrl.main_ppo`` checks at start-up that the
plugin is installed, allowed and registered (:func:`verl_ccrl.integration.main_ppo.check_plugin`).

Registered elsewhere, on purpose: the trainer (``trainer.v1.trainer_mode=ccrl``) imports verl's whole V1 trainer
stack, so it registers where it is needed, in ``python -m verl_ccrl.main_ppo``'s task runner
(:mod:`verl_ccrl.integration.trainer`); the CPU debugging mode (cpu platform, ``hf_cpu`` rollout) registers only
when ``VERL_USE_EXTERNAL_MODULES`` names :mod:`verl_ccrl.integration.cpu`.
"""

from __future__ import annotations

import logging

from verl_ccrl.integration.vllm_rollout import VLLM_CCRL  # needs neither verl nor vLLM

REWARD_MANAGER_NAME = "ccrl"


def register_reward_manager() -> None:
    """Register ``CCRLRewardManager`` as reward manager ``ccrl`` in verl's reward-loop registry (idempotent)."""
    from verl.experimental.reward_loop.reward_manager import register

    from verl_ccrl.integration.reward_manager import CCRLRewardManager

    register(REWARD_MANAGER_NAME)(CCRLRewardManager)


def register_rollouts() -> None:
    """Register ``vllm_ccrl`` in verl's two rollout registries (idempotent)."""
    from verl.workers.rollout import base, replica

    from verl_ccrl.integration.vllm_rollout import load_vllm_ccrl_replica

    # The worker-side adapter is verl's own: only the server differs.
    base._ROLLOUT_REGISTRY.setdefault((VLLM_CCRL, "async"), base._ROLLOUT_REGISTRY[("vllm", "async")])
    if VLLM_CCRL not in replica.RolloutReplicaRegistry._registry:
        replica.RolloutReplicaRegistry.register(VLLM_CCRL, load_vllm_ccrl_replica)


def register() -> None:
    """Everything the ``verl.plugins`` entry point registers (idempotent)."""
    register_reward_manager()
    register_rollouts()


try:
    register()
except Exception:
    # verl loads entry points inside a try and logs failures at DEBUG (verl/__init__.py:70-76): without this a
    # broken install shows only as "Unknown reward manager: ccrl" or an unknown rollout, in some other process.
    logging.getLogger(__name__).exception(
        "verl-ccrl: the verl plugin %s failed in this process, so reward manager %r and rollout %r are not "
        "registered here; runs that select them will fail. The cause:",
        __name__,
        REWARD_MANAGER_NAME,
        VLLM_CCRL,
    )
    raise
