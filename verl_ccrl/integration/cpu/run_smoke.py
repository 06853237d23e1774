"""Run verl's own PPO entry point (``python -m verl.trainer.main_ppo``) for a few steps on CPU with a tiny model.

    python -m verl_ccrl.integration.cpu.run_smoke --workdir /tmp/ccrl_smoke                 # 2 CCRL GRPO steps
    python -m verl_ccrl.integration.cpu.run_smoke --workdir /tmp/ccrl_smoke --estimator gae  # CCRL PPO, a critic
    python -m verl_ccrl.integration.cpu.run_smoke --method smoke ...                        # verl's entry, smoke

It builds the tiny model and parquet under ``--workdir`` (once), runs the trainer in a subprocess with the CPU
overrides below, writes its console output to ``<workdir>/<method>-<estimator>/train.log`` and prints where the
logs are and the wall time. Methods: ``ccrl`` runs ``python -m verl_ccrl.main_ppo`` (CCRL reward, trainer and
metrics); ``naive`` runs ``python -m verl.trainer.main_ppo`` with verl's naive reward manager on the smoke score
(plain GRPO/PPO, the baseline of ``benchmarks/hook_overhead.py``); ``smoke`` is verl's entry with the recording
smoke reward (:mod:`verl_ccrl.integration.cpu.smoke_reward`). A debugging/CI harness: on a random tiny model no
reward here is a meaningful training signal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from verl_ccrl.integration.cpu.overrides import cpu_overrides
from verl_ccrl.integration.cpu.overrides import worker_env_vars as cpu_env_vars

ESTIMATORS = ("grpo", "gae")
METHODS = ("ccrl", "naive", "smoke")
# Read in the reward workers: by integration.cpu.smoke_reward (smoke) and integration.reward_manager (ccrl).
RECORD_DIR_ENV_VAR = "CCRL_SMOKE_RECORD_DIR"
CCRL_RECORD_DIR_ENV_VAR = "VERL_CCRL_RECORD_DIR"


@dataclass(frozen=True)
class SmokeResult:
    returncode: int
    wall_seconds: float
    log_path: str
    run_dir: str


def worker_env_vars(record_dir: str | None = None) -> dict[str, str]:
    """Environment every process of a smoke run needs (driver, and Ray workers through ``runtime_env``)."""
    env = cpu_env_vars()
    if record_dir:
        env[RECORD_DIR_ENV_VAR] = record_dir
        env[CCRL_RECORD_DIR_ENV_VAR] = record_dir
    return env


def reward_overrides(method: str) -> list[str]:
    """How each method scores: CCRL's own config selects its reward; the others name verl's reward managers."""
    if method == "ccrl":
        return []  # verl_ccrl/integration/config/ccrl_trainer.yaml selects reward manager, trainer and ccrl block
    if method == "naive":
        return [
            "reward.reward_manager.name=naive",
            f"reward.custom_reward_function.path={os.path.join(os.path.dirname(__file__), 'smoke_reward.py')}",
            "reward.custom_reward_function.name=digit_share_score",
        ]
    return [
        "reward.reward_manager.source=importlib",
        "reward.reward_manager.module.path=pkg://verl_ccrl.integration.cpu.smoke_reward",
        "reward.reward_manager.name=SmokeRecordingRewardManager",
    ]


def smoke_overrides(
    model_path: str, train_file: str, run_dir: str, estimator: str = "grpo", steps: int = 2, method: str = "smoke"
) -> list[str]:
    """The full override list of a smoke run: CPU overrides plus a tiny problem size."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    overrides = [
        f"algorithm.adv_estimator={estimator}",
        "algorithm.use_kl_in_reward=False",
        f"data.train_files={train_file}",
        f"data.val_files={train_file}",
        "data.train_batch_size=4",
        "data.max_prompt_length=96",
        "data.max_response_length=32",
        "data.shuffle=False",
        f"actor_rollout_ref.model.path={model_path}",
        "actor_rollout_ref.model.enable_gradient_checkpointing=False",
        "actor_rollout_ref.actor.optim.lr=1e-3",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.actor.entropy_coeff=0",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
        f"actor_rollout_ref.rollout.n={4 if estimator == 'grpo' else 1}",
        *reward_overrides(method),
        "trainer.logger=[console]",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        f"trainer.total_training_steps={steps}",
        "trainer.project_name=ccrl_cpu_smoke",
        f"trainer.experiment_name={method}-{estimator}",
        f"trainer.default_local_dir={os.path.join(run_dir, 'checkpoints')}",
    ]
    if estimator == "gae":
        overrides += [
            "critic.enable=True",
            "critic.strategy=fsdp2",
            f"critic.model.path={model_path}",
            "+critic.model.override_config.attn_implementation=sdpa",
            "critic.model.use_remove_padding=False",
            "critic.model.enable_gradient_checkpointing=False",
            "critic.optim.lr=1e-3",
            "critic.ppo_micro_batch_size_per_gpu=4",
        ]
    return overrides


def prepare_fixtures(workdir: str, seed: int = 0) -> tuple[str, str]:
    """Build (once) the tiny model and the RL parquet under ``workdir``; returns their paths."""
    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model, build_tiny_rl_parquet

    model_path = os.path.join(workdir, "tiny_model")
    train_file = os.path.join(workdir, "train.parquet")
    if not os.path.exists(os.path.join(model_path, "config.json")):
        build_tiny_model(model_path, seed=seed)
    if not os.path.exists(train_file):
        build_tiny_rl_parquet(train_file, n=32, seed=seed)
    return model_path, train_file


def run_smoke(
    workdir: str,
    estimator: str = "grpo",
    steps: int = 2,
    extra_overrides: list[str] | None = None,
    timeout: float | None = None,
    method: str = "ccrl",
) -> SmokeResult:
    """Run the trainer in a subprocess; its console output goes to ``<workdir>/<method>-<estimator>/train.log``."""
    workdir = os.path.abspath(workdir)
    model_path, train_file = prepare_fixtures(workdir)
    run_dir = os.path.join(workdir, f"{method}-{estimator}")
    os.makedirs(run_dir, exist_ok=True)
    record_dir = os.path.join(run_dir, "reward_records")
    env_vars = worker_env_vars(record_dir=record_dir)
    command = [
        sys.executable,
        "-m",
        "verl_ccrl.main_ppo" if method == "ccrl" else "verl.trainer.main_ppo",
        *cpu_overrides(env_vars),
        *smoke_overrides(model_path, train_file, run_dir, estimator=estimator, steps=steps, method=method),
        *(extra_overrides or []),
    ]
    log_path = os.path.join(run_dir, "train.log")
    with open(os.path.join(run_dir, "command.txt"), "w", encoding="utf-8") as command_file:
        command_file.write(" ".join(command) + "\n")
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log_file:
        completed = subprocess.run(
            command,
            cwd=run_dir,
            env={**os.environ, **env_vars},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return SmokeResult(completed.returncode, time.monotonic() - start, log_path, run_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/ccrl_cpu_smoke")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="grpo", help="grpo, or gae (PPO with a critic)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--method", choices=METHODS, default="ccrl", help="ccrl (default), naive or smoke")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides passed to verl.trainer.main_ppo")
    args = parser.parse_args(argv)
    result = run_smoke(
        args.workdir, estimator=args.estimator, steps=args.steps, extra_overrides=args.overrides, method=args.method
    )
    status = "finished" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"{args.method}-{args.estimator}: {status} in {result.wall_seconds:.1f} s")
    print(f"log: {result.log_path}")
    print(f"command: {os.path.join(result.run_dir, 'command.txt')}")
    print(f"reward records: {os.path.join(result.run_dir, 'reward_records')}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
