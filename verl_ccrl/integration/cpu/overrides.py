"""Hydra overrides that run verl 0.9.1's trainers on CPU, printable for shell recipes.

    python -m verl_ccrl.integration.cpu.overrides ppo    # one override per line, for verl_ccrl.main_ppo / verl's
    python -m verl_ccrl.integration.cpu.overrides sft    # for torchrun -m verl.trainer.sft_trainer
    python -m verl_ccrl.integration.cpu.overrides env    # KEY=VALUE lines every process needs (export them)

One source of truth for ``verl_ccrl.integration.cpu.run_smoke``, the tests and ``recipes/`` (``DEVICE=cpu``).
"""

from __future__ import annotations

import sys

from verl_ccrl.integration.cpu import ray_env_vars


def worker_env_vars() -> dict[str, str]:
    """Environment of every process of a CPU run (driver, torchrun ranks, Ray workers)."""
    return {**ray_env_vars(), "TOKENIZERS_PARALLELISM": "false"}


def cpu_overrides(env_vars: dict[str, str] | None = None) -> list[str]:
    """Hydra overrides that let verl 0.9.1's trainer run on CPU, whatever the model and algorithm."""
    env_vars = worker_env_vars() if env_vars is None else env_vars
    overrides = [
        # Resource pools ask Ray for GPUs (verl/single_controller/ray/base.py:210): declare one logical GPU, and
        # enough logical CPUs for the ~10 single-CPU actors verl starts (the real cores are shared).
        "+ray_kwargs.ray_init.num_gpus=1",
        "ray_kwargs.ray_init.num_cpus=16",
        # V1 trainer: each TransferQueue storage unit asks for a CPU.
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        "trainer.n_gpus_per_node=1",
        "trainer.nnodes=1",
        "trainer.device=cpu",
        # FSDP1 needs an accelerator (workers/engine/fsdp/transformer_impl.py:441).
        "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.ref.strategy=fsdp2",
        # flash-attention is the default (workers/config/model.py:185) and needs CUDA.
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
        "actor_rollout_ref.model.use_remove_padding=False",
        "actor_rollout_ref.rollout.name=hf_cpu",
        "actor_rollout_ref.rollout.mode=async",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        # No sleep/wake on CPU: the rollout keeps its weights between steps.
        "actor_rollout_ref.rollout.free_cache_engine=False",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "reward.num_workers=1",
        # Two cores: dataloader worker processes only compete with the trainer.
        "data.dataloader_num_workers=0",
    ]
    # Forwarded to every Ray process: the external-module import at `import verl` registers the cpu platform and
    # the hf_cpu rollout there (verl/__init__.py:49).
    overrides += [f"+ray_kwargs.ray_init.runtime_env.env_vars.{key}='{value}'" for key, value in env_vars.items()]
    return overrides


def sft_overrides() -> list[str]:
    """Overrides for verl's SFT trainer on CPU (torchrun, no Ray); the gloo seam comes from the environment."""
    return [
        # FSDP1 needs an accelerator; flash-attention is the default and needs CUDA.
        "engine.strategy=fsdp2",
        "+model.override_config.attn_implementation=sdpa",
        "model.use_remove_padding=False",
        "trainer.device=cpu",
        "data.num_workers=0",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["ppo"], ["sft"], ["env"]):
        print("usage: python -m verl_ccrl.integration.cpu.overrides ppo|sft|env", file=sys.stderr)
        return 2
    if argv == ["env"]:
        lines = [f"{key}={value}" for key, value in worker_env_vars().items()]
    else:
        lines = cpu_overrides() if argv == ["ppo"] else sft_overrides()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
