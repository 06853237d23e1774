"""``python -m verl_ccrl.main_ppo``: verl's PPO entry point with CCRL selected (``config/ccrl_trainer.yaml``).

The same Hydra overrides as ``python -m verl.trainer.main_ppo`` apply; the differences are the ``ccrl:`` block
(validated here, before Ray starts) and a task runner that registers the ``ccrl`` trainer in its own process.

``VERL_CCRL_CPU=1`` switches on the CPU debugging mode (:mod:`verl_ccrl.integration.cpu`): the environment every
process needs and the CPU overrides are added before the user's own, which still win.
"""

from __future__ import annotations

import os
import sys

import hydra
import ray
from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
from verl.trainer.ppo.utils import need_critic, need_reference_policy
from verl.utils.config import validate_config
from verl.utils.device import auto_set_device

from verl_ccrl.config import CCRLConfig


@ray.remote(num_cpus=1)
class CCRLTaskRunner(TaskRunnerV1.__ray_actor_class__):
    def run(self, config):
        import verl_ccrl.integration.trainer  # noqa: F401  (registers trainer_mode "ccrl" in this process)

        return super().run(config)


def check_ccrl_config(config) -> CCRLConfig:
    """Start-up checks that need no Ray: the ``ccrl:`` block, the trainer flavour and the entropy channel."""
    from verl_ccrl.integration.trainer import check_entropy_channel

    ccrl_config = CCRLConfig.from_mapping(config.get("ccrl"))
    if not config.trainer.get("use_v1", True):
        raise ValueError(
            "verl_ccrl.main_ppo runs verl's V1 trainer (trainer.use_v1=True); the legacy trainer has no "
            "trainer_mode to plug CCRL's metrics and token rewards into. Remove trainer.use_v1=False."
        )
    check_entropy_channel(config)
    return ccrl_config


@hydra.main(config_path="config", config_name="ccrl_trainer", version_base=None)
def main(config):
    check_ccrl_config(config)
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
