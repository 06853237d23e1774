"""GRPO steps of ``python -m verl_ccrl.main_ppo`` with verl's stock vLLM rollout on vllm-cpu and the actor's
entropies (the default GPU path, minus the GPU): rollout, reward, actor pass, CCRL rescoring, update, weight sync."""

from __future__ import annotations

import os
import re

import pytest

pytest.importorskip("vllm")
pytestmark = pytest.mark.vllm_cpu

STEPS = 2


def metric(log_text: str, name: str) -> list[float]:
    return [float(value) for value in re.findall(rf"{re.escape(name)}:([-+0-9.eE]+|nan)", log_text)]


def test_grpo_steps_run_on_the_stock_vllm_rollout_with_the_actors_entropies(tmp_path, peaked_model):
    from harness import vllm_cpu_env

    from verl_ccrl.integration.cpu.run_smoke import run_smoke, worker_env_vars

    env = vllm_cpu_env()
    saved = dict(os.environ)
    os.environ.update(env)
    # run_smoke forwards the CPU mode's variables to Ray's workers already; forward the rest (a second "+" of the
    # same key would be a Hydra error).
    already = worker_env_vars(record_dir="unused")
    forwarded = [
        f"+ray_kwargs.ray_init.runtime_env.env_vars.{key}='{value}'" for key, value in env.items() if key not in already
    ]
    try:
        result = run_smoke(
            str(tmp_path),
            steps=STEPS,
            method="ccrl",
            timeout=900,
            extra_overrides=[
                "actor_rollout_ref.rollout.name=vllm",
                "+actor_rollout_ref.rollout.enable_sleep_mode=False",  # vllm-cpu has no sleep mode
                "actor_rollout_ref.rollout.enforce_eager=True",
                f"actor_rollout_ref.model.path={peaked_model}",
                # A random model never answers right: judging unmatched numbers as wrong makes rewards vary.
                "ccrl.reference_mismatch_is_wrong=True",
                *forwarded,
            ],
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log_text = open(result.log_path, encoding="utf-8").read() if os.path.exists(result.log_path) else ""
    assert result.returncode == 0, log_text[-6000:]
    assert f"step:{STEPS} -" in log_text, log_text[-6000:]
    # Weight sync reached vLLM: after the first update the rollout's and the actor's token probabilities agree.
    assert all(value < 1e-2 for value in metric(log_text, "training/rollout_probs_diff_max")[1:])
    assert len(metric(log_text, "ccrl/actor/confidence_term_mean")) == STEPS
