"""A short check of the GPU path on one GPU, after the README's GPU install (under 8 minutes with a ~0.5B model).

    python benchmarks/gpu_check.py --model /models/Qwen2.5-0.5B-Instruct [--workdir /tmp/ccrl_gpu_check]
    python benchmarks/gpu_check.py --model ... --bypass     # also vllm_ccrl with rollout_correction.bypass_mode

Runs, each for ``--steps`` GRPO steps through verl's vLLM rollout on 64 offline GSM-Symbolic problems
(``data_prep``, template teacher, no network):

- ``ccrl``: ``python -m verl_ccrl.main_ppo`` as the recipes run it: stock ``vllm`` rollout, ``ccrl.entropy_source=actor``.
- ``outcome``: ``python -m verl.trainer.main_ppo`` with verl's naive reward manager (GSM8K score): the same rollout
  without the CCRL reward, for the throughput comparison.
- ``vllm_ccrl`` (``--bypass``): the opt-in rollout with its top-k entropies and verl's bypass mode.

Prints the ``ccrl/*`` metrics of the last step and, per run, the rollout's generation time per step and tokens per
second (``timing_s/gen``, ``perf/throughput``); logs stay under ``--workdir``. Any extra arguments are Hydra
overrides added to every run (e.g. ``+actor_rollout_ref.model.override_config.attn_implementation=sdpa`` without
flash-attn). Not run in CI: it needs a GPU.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

RUNS = {
    "ccrl": ["-m", "verl_ccrl.main_ppo"],
    "outcome": [
        "-m",
        "verl.trainer.main_ppo",
        "reward.reward_manager.name=naive",
        f"reward.custom_reward_function.path={os.path.abspath(__file__)}",
        "reward.custom_reward_function.name=outcome_score",
    ],
    "vllm_ccrl": [
        "-m",
        "verl_ccrl.main_ppo",
        "actor_rollout_ref.rollout.name=vllm_ccrl",
        "ccrl.entropy_source=rollout",
        "algorithm.rollout_correction.bypass_mode=True",
    ],
}
SHOWN = ("timing_s/gen", "timing_per_token_ms/gen", "perf/throughput", "response_length/mean", "timing_s/step")


def outcome_score(data_source, solution_str, ground_truth, extra_info=None) -> float:
    """verl's own GSM8K check ("#### x"), for the run without the CCRL reward (verl does not know data_prep's
    data_source names)."""
    from verl.utils.reward_score import gsm8k

    return float(gsm8k.compute_score(solution_str, ground_truth))


def common_overrides(model: str, data_dir: str, run_dir: str, steps: int) -> list[str]:
    return [
        "algorithm.adv_estimator=grpo",
        "algorithm.use_kl_in_reward=False",
        f"data.train_files={data_dir}/rl_train.parquet",
        f"data.val_files={data_dir}/rl_train.parquet",
        "data.train_batch_size=16",
        "data.max_prompt_length=512",
        "data.max_response_length=256",
        f"actor_rollout_ref.model.path={model}",
        "actor_rollout_ref.actor.optim.lr=1e-6",
        "actor_rollout_ref.actor.ppo_mini_batch_size=16",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.5",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8",
        "trainer.n_gpus_per_node=1",
        "trainer.nnodes=1",
        "trainer.logger=[console]",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        f"trainer.total_training_steps={steps}",
        "trainer.project_name=ccrl_gpu_check",
        f"trainer.default_local_dir={run_dir}/checkpoints",
    ]


def last_step_metrics(log_text: str) -> dict[str, float]:
    lines = [line for line in log_text.splitlines() if re.search(r"\bstep:\d+ - ", line)]
    if not lines:
        return {}
    pairs = re.findall(r"([\w/@.]+):(?:np\.float\d+\()?([-+0-9.eE]+|nan)", lines[-1])
    return {name: float(value) for name, value in pairs}


def prepare_data(model: str, data_dir: str) -> None:
    if os.path.exists(os.path.join(data_dir, "rl_train.parquet")):
        return
    command = [sys.executable, "-m", "data_prep", "build", "--source", "gsm_symbolic", "--limit", "64",
               "--teacher", "template", "--student-tokenizer", model, "--no-progress", "--out-dir", data_dir]  # fmt: skip
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local Hugging Face checkpoint (a ~0.5B model keeps it short)")
    parser.add_argument("--workdir", default="/tmp/ccrl_gpu_check")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--bypass", action="store_true", help="also run vllm_ccrl with bypass_mode")
    args, extra = parser.parse_known_args(argv)
    data_dir = os.path.join(args.workdir, "data")
    prepare_data(args.model, data_dir)
    names = ["ccrl", "outcome"] + (["vllm_ccrl"] if args.bypass else [])
    results = {}
    for name in names:
        run_dir = os.path.join(args.workdir, name)
        os.makedirs(run_dir, exist_ok=True)
        command = [sys.executable, *RUNS[name][:2], *common_overrides(args.model, data_dir, run_dir, args.steps),
                   *RUNS[name][2:], f"trainer.experiment_name={name}", *extra]  # fmt: skip
        log_path = os.path.join(run_dir, "train.log")
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        text = open(log_path, encoding="utf-8").read()
        results[name] = (code, time.monotonic() - started, last_step_metrics(text))
        print(f"[{name}] exit {code} in {results[name][1]:.0f} s; log {log_path}", flush=True)
    print("\nrun         " + "  ".join(f"{key:>24}" for key in SHOWN))
    for name, (_, _, metrics) in results.items():
        print(f"{name:<11} " + "  ".join(f"{metrics.get(key, float('nan')):>24.4g}" for key in SHOWN))
    ccrl_metrics = {k: v for k, v in results["ccrl"][2].items() if k.startswith("ccrl/")}
    print("\nccrl/* of the last step (run 'ccrl'):")
    for key in sorted(ccrl_metrics):
        print(f"  {key} = {ccrl_metrics[key]:.4g}")
    return 0 if all(code == 0 for code, _, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
