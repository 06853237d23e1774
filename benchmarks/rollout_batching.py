"""What the hf_cpu rollout's batching buys: the toy world's GRPO steps with one request at a time and batched.

    python benchmarks/rollout_batching.py [--steps 6] [--workdir /tmp/ccrl_rollout_batching]

Both runs are ``recipes/toy_world.sh`` RL from the committed toy base model (``SFT_MODEL``, no SFT), one seed, the
quick preset's batch (``TRAIN_BATCH_SIZE`` prompts x ``ROLLOUT_N`` samples), with ``rollout.full_determinism``:
``one-at-a-time`` sets ``ROLLOUT_BATCH=1`` (the server decodes each request alone, as hf_cpu did before batching),
``batched`` decodes a step's requests together. The times are verl's own per-step timings from its file logger
(``timing_s/gen``, ``timing_s/update_actor``, ``timing_s/step``); the first step (warm-up) is left out of the means.
Prints both runs side by side and the ratios gen / update_actor and one-at-a-time / batched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("gen", "old_log_prob", "update_actor", "step")


def step_timings(log_path: Path) -> list[dict[str, float]]:
    """verl's ``timing_s/*`` of each step from its file-logger JSONL."""
    steps = []
    for line in log_path.read_text().splitlines():
        data = json.loads(line).get("data", {})
        steps.append({key.split("/", 1)[1]: value for key, value in data.items() if key.startswith("timing_s/")})
    return steps


def run_study(workdir: Path, label: str, steps: int, batch: int, samples: int, rollout_batch: str | None) -> Path:
    out_dir = workdir / label
    env = {
        **os.environ,
        "SFT_MODEL": str(ROOT / "toy_world" / "checkpoints" / "base"),
        "SEEDS": "1",
        "VARIANTS": "ccrl",
        "RL_TOTAL_STEPS": str(steps),
        "TRAIN_BATCH_SIZE": str(batch),
        "ROLLOUT_N": str(samples),
        "N_EVAL": "4",
        "OUT_DIR": str(out_dir),
        "PYTHON": sys.executable,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if rollout_batch is not None:
        env["ROLLOUT_BATCH"] = rollout_batch
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / f"{label}.log", "w") as log:
        subprocess.run(["bash", str(ROOT / "recipes" / "toy_world.sh")], env=env, stdout=log, stderr=log, check=True)
    return out_dir / "logs" / "toy_ccrl_seed1.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps per run (the first is warm-up)")
    parser.add_argument("--batch", type=int, default=8, help="prompts per step (TRAIN_BATCH_SIZE)")
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt (ROLLOUT_N)")
    parser.add_argument("--workdir", default="/tmp/ccrl_rollout_batching")
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be at least 3: the first step is warm-up and one step is no mean")

    means = {}
    for label, rollout_batch in (("one-at-a-time", "1"), ("batched", None)):
        log = run_study(Path(args.workdir), label, args.steps, args.batch, args.samples, rollout_batch)
        timings = step_timings(log)[1:]
        means[label] = {phase: statistics.fmean(step[phase] for step in timings) for phase in PHASES}

    print(f"toy world GRPO, {args.batch} prompts x {args.samples} samples, steps 2-{args.steps} (seconds per step)")
    print(f"{'phase':<14}" + "".join(f"{label:>15}" for label in means) + f"{'ratio':>10}")
    for phase in PHASES:
        one, batched = means["one-at-a-time"][phase], means["batched"][phase]
        print(f"{phase:<14}{one:>15.2f}{batched:>15.2f}{one / batched:>9.2f}x")
    for label, phases in means.items():
        print(f"gen / update_actor ({label}): {phases['gen'] / phases['update_actor']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
