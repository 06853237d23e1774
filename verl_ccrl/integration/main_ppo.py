"""``python -m verl_ccrl.main_ppo``: verl's PPO entry point with CCRL selected (``config/ccrl_trainer.yaml``).

The same Hydra overrides as ``python -m verl.trainer.main_ppo`` apply; the differences are the ``ccrl:`` block
(validated here, before Ray starts) and a task runner that registers the ``ccrl`` trainer in its own process.

``VERL_CCRL_CPU=1`` switches on the CPU debugging mode (:mod:`verl_ccrl.integration.cpu`): the environment every
process needs and the CPU overrides are added before the user's own, which still win.
"""

from __future__ import annotations

import importlib
import os
import sys

import hydra
import ray
from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils.config import validate_config
from verl.utils.device import auto_set_device

from verl_ccrl.config import CCRLConfig
from verl_ccrl.integration.agent_loop import SEEDED_AGENT_LOOP, use_seeded_agent_loop
from verl_ccrl.integration.vllm_rollout import VLLM_CCRL, check_vllm_ccrl_config


@ray.remote(num_cpus=1)
class CCRLTaskRunner(TaskRunnerV1.__ray_actor_class__):
    def run(self, config):
        import verl_ccrl.integration.trainer  # noqa: F401  (registers trainer_mode "ccrl" in this process)

        return super().run(config)


def check_ccrl_config(config) -> CCRLConfig:
    """Start-up checks that need no Ray: the ``ccrl:`` block, the trainer flavour, the entropy channel, the
    rollout and MASA's switches (the ``masa:`` block, verl's group filter)."""
    from verl_ccrl.integration.masa import check_masa_config
    from verl_ccrl.integration.trainer import check_entropy_channel

    ccrl_config = CCRLConfig.from_mapping(config.get("ccrl"))
    if not config.trainer.get("use_v1", True):
        raise ValueError(
            "verl_ccrl.main_ppo runs verl's V1 trainer (trainer.use_v1=True); the legacy trainer has no "
            "trainer_mode to plug CCRL's metrics and token rewards into. Remove trainer.use_v1=False."
        )
    check_entropy_channel(config)
    check_rollout(config, ccrl_config)
    check_masa_config(config)
    return ccrl_config


# Rollouts that put per-token entropies into extra_fields; ccrl.entropy_source=rollout needs one of them.
ROLLOUTS_WITH_ENTROPIES = (VLLM_CCRL, "hf_cpu")


def check_rollout(config, ccrl_config: CCRLConfig) -> None:
    """The rollout can deliver what ``ccrl.entropy_source`` reads, and ``vllm_ccrl``'s own checks pass."""
    name = config.actor_rollout_ref.rollout.name
    if ccrl_config.entropy_source == "rollout" and name not in ROLLOUTS_WITH_ENTROPIES:
        raise ValueError(
            f"ccrl.entropy_source=rollout reads per-token entropies from the rollout, and "
            f"actor_rollout_ref.rollout.name={name!r} returns none. Use ccrl.entropy_source=actor (the default: "
            f"exact entropies from verl's actor pass), or a rollout that returns them: {VLLM_CCRL} (vLLM, for "
            "algorithm.rollout_correction.bypass_mode=True) or hf_cpu (CPU mode)."
        )
    check_vllm_ccrl_config(config)


PLUGIN_MODULE = "verl_ccrl.integration.plugin"
PLUGIN_POLICY_ENV_VAR = "VERL_USE_EXTERNAL_PLUGINS"


def check_plugin(environ=os.environ) -> None:
    """Fail before Ray starts where verl would not register verl-ccrl's pieces in its worker processes.

    verl loads ``verl.plugins`` entry points at ``import verl`` and logs a failure only at DEBUG
    (``verl/__init__.py:55-76``); the run would then die in a Ray worker with "Unknown reward manager: ccrl"."""
    from importlib.metadata import entry_points

    ours = [point for point in entry_points(group="verl.plugins") if point.value == PLUGIN_MODULE]
    if not ours:
        raise RuntimeError(
            f"verl-ccrl's verl plugin is not installed in this Python environment (no 'verl.plugins' entry point "
            f"for {PLUGIN_MODULE}), so verl's Ray workers would not know reward manager 'ccrl' or rollout "
            f"'{VLLM_CCRL}'. Install the project into this environment: pip install -e . (from its checkout)."
        )
    policy = environ.get(PLUGIN_POLICY_ENV_VAR, "auto").strip().lower()
    if policy != "auto" and ours[0].name not in {name.strip() for name in policy.split(",")}:
        raise RuntimeError(
            f"{PLUGIN_POLICY_ENV_VAR}={policy!r} keeps verl from loading verl-ccrl's plugin (entry point "
            f"'{ours[0].name}') in its processes. Unset {PLUGIN_POLICY_ENV_VAR} or add {ours[0].name} to it."
        )
    importlib.import_module(PLUGIN_MODULE)  # raises here, in the driver, what every worker would hit


@hydra.main(config_path="config", config_name="ccrl_trainer", version_base=None)
def main(config):
    check_plugin()
    check_ccrl_config(config)
    if use_seeded_agent_loop(config):
        print(f"verl_ccrl: rollout.full_determinism: one sampling seed per sample ({SEEDED_AGENT_LOOP} agent loop)")
    auto_set_device(config)
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    run_ppo(config, task_runner_class=CCRLTaskRunner)


CPU_SWITCH = "VERL_CCRL_CPU"


def with_cpu_mode(argv: list[str], environ) -> list[str]:
    """``argv`` with the CPU overrides inserted after the program name when ``VERL_CCRL_CPU=1`` (``environ`` gets
    the CPU variables); unchanged otherwise."""
    if environ.get(CPU_SWITCH) != "1":
        return argv
    from verl_ccrl.integration.cpu.overrides import cpu_overrides, worker_env_vars

    environ.update(worker_env_vars())
    return [argv[0], *cpu_overrides(), *argv[1:]]


if __name__ == "__main__":
    sys.argv = with_cpu_mode(sys.argv, os.environ)
    main()
