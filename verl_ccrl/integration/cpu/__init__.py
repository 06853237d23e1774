"""CPU mode of verl-ccrl: run verl 0.9.1's real PPO/GRPO trainer on a machine without an accelerator.

A debugging and CI backend, not a training setup. Importing this package registers, idempotently:

- a ``cpu`` platform in verl's ``PlatformRegistry`` (selected only with ``VERL_PLATFORM=cpu``; see
  :mod:`verl_ccrl.integration.cpu.platform`), and, when it is selected, wrappers of the two verl functions that
  cannot run on CPU (plain ``gloo`` process groups, critic loading without flash-attention; see
  :mod:`verl_ccrl.integration.cpu.verl_patches`);
- the ``hf_cpu`` rollout (transformers ``generate`` on CPU, exact per-token entropy) in both of verl's rollout
  registries, by import path only: :mod:`verl_ccrl.integration.cpu.hf_rollout` is imported when a run selects
  ``actor_rollout_ref.rollout.name=hf_cpu``, never on GPU runs.

verl imports the modules named in ``VERL_USE_EXTERNAL_MODULES`` at ``import verl`` in every process
(``verl/__init__.py:49``), so ``VERL_USE_EXTERNAL_MODULES=verl_ccrl.integration.cpu`` registers all of this in the
driver, the TaskRunner, the FSDP workers, the rollout servers and the agent-loop/reward workers, provided the variable
reaches Ray workers: :func:`ray_env_vars` lists what a run must forward through ``ray_kwargs.ray_init.runtime_env``.

Importing this package registers only when that variable names it: any other import (pytest collecting doctests,
a test building the tiny model, a script preparing a run) leaves verl's registries untouched. Call
:func:`register` to register explicitly.
"""

from __future__ import annotations

import os

from verl_ccrl.integration.cpu.platform import PLATFORM_ENV_VAR, PLATFORM_NAME, cpu_platform_selected

EXTERNAL_MODULES_ENV_VAR = "VERL_USE_EXTERNAL_MODULES"
THIS_MODULE = "verl_ccrl.integration.cpu"
# verl picks its engine class by device name and has none registered for "cpu" (verl/workers/engine/base.py:426);
# the FSDP engine registered for "cuda" runs on CPU once the platform says "cpu".
ENGINE_DEVICE_ENV_VAR = "VERL_ENGINE_DEVICE"
HF_CPU_ROLLOUT_NAME = "hf_cpu"
HF_ROLLOUT_MODULE = "verl_ccrl.integration.cpu.hf_rollout"


def register() -> None:
    """Register the cpu platform and the ``hf_cpu`` rollout with verl (idempotent, cheap)."""
    from verl_ccrl.integration.cpu.platform import register_platform

    register_platform()
    register_rollout()
    if cpu_platform_selected():
        from verl_ccrl.integration.cpu.verl_patches import install_verl_patches

        install_verl_patches()


def register_rollout() -> None:
    """Register ``hf_cpu`` in verl's rollout registries by import path, without importing the rollout module.

    ``_ROLLOUT_REGISTRY`` (``verl/workers/rollout/base.py:89``) maps ``(name, mode)`` to the class the FSDP worker
    builds (``verl/workers/engine_workers.py:667``); ``RolloutReplicaRegistry``
    (``verl/workers/rollout/replica.py:388``) maps the name to a loader of the replica the trainer launches
    (``verl/workers/rollout/llm_server.py:393``).
    """
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    _ROLLOUT_REGISTRY[(HF_CPU_ROLLOUT_NAME, "async")] = f"{HF_ROLLOUT_MODULE}.HFCPUServerAdapter"
    RolloutReplicaRegistry.register(HF_CPU_ROLLOUT_NAME, _load_hf_cpu_replica)


def _load_hf_cpu_replica():
    from verl_ccrl.integration.cpu.hf_rollout import HFCPUReplica

    return HFCPUReplica


def ray_env_vars() -> dict[str, str]:
    """Environment a CPU run needs in every process: set it for the driver and forward it to Ray workers through
    ``ray_kwargs.ray_init.runtime_env.env_vars`` (a cluster started elsewhere would not inherit the driver's)."""
    modules = [m for m in os.environ.get(EXTERNAL_MODULES_ENV_VAR, "").split(",") if m]
    if THIS_MODULE not in modules:
        modules.append(THIS_MODULE)
    return {
        PLATFORM_ENV_VAR: PLATFORM_NAME,
        ENGINE_DEVICE_ENV_VAR: "cuda",
        EXTERNAL_MODULES_ENV_VAR: ",".join(modules),
    }


def _named_in_verl_external_modules() -> bool:
    return THIS_MODULE in [m.strip() for m in os.environ.get(EXTERNAL_MODULES_ENV_VAR, "").split(",")]


if _named_in_verl_external_modules():
    register()

__all__ = ["HF_CPU_ROLLOUT_NAME", "ray_env_vars", "register", "register_rollout"]
