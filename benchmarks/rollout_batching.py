"""What the hf_cpu rollout's batching and a second agent-loop worker buy: the toy world's GRPO steps side by side.

    python benchmarks/rollout_batching.py [--steps 6] [--batch 8] [--samples 8] [--runs ...] [--start DIR]
                                          [--workdir DIR] [--reuse]

The runs are ``recipes/toy_world.sh`` RL from ``--start`` (``SFT_MODEL``, no SFT): the committed toy base model by
default, or the study's own start, its CoMT-SFT checkpoint (the two generate differently); one seed,
``--batch`` prompts x ``--samples`` samples a step, with ``rollout.full_determinism``: ``one-at-a-time`` sets
``ROLLOUT_BATCH=1`` (the server decodes each request alone, as hf_cpu did before batching), ``batched`` decodes a
step's requests together, ``2-agent-workers`` also splits the step's samples between two agent-loop workers and two
reward workers (``AGENT_WORKERS=2``; it must change no training number). The times are verl's own per-step timings
from its file logger (``timing_s/gen``, ``timing_s/update_actor``, ``timing_s/step``); the first step (warm-up) is
left out of the means.
Prints the runs side by side, each column's ratio to the previous one, and gen / update_actor. ``--reuse`` reads
the runs already in ``--workdir`` again instead of running them.
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


def training_numbers(log_path: Path) -> list[dict[str, float]]:
    """Each step's logged numbers without the ones that measure time or memory."""
    steps = []
    for line in log_path.read_text().splitlines():
        data = json.loads(line).get("data", {})
        steps.append({key: value for key, value in data.items() if not key.startswith(("timing", "perf/"))
                      and "/perf/" not in key and "time" not in key})  # fmt: skip
    return steps


def study_log(workdir: Path, label: str) -> Path:
    """The file-logger JSONL of the run ``label`` under ``workdir``."""
    return workdir / label / "logs" / "toy_ccrl_seed1.jsonl"


def run_study(
    workdir: Path, label: str, start: str, steps: int, batch: int, samples: int, settings: dict[str, str]
) -> Path:
    out_dir = workdir / label
    env = {
        **os.environ,
        "SFT_MODEL": start,
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
    env.update(settings)
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / f"{label}.log", "w") as log:
        subprocess.run(["bash", str(ROOT / "recipes" / "toy_world.sh")], env=env, stdout=log, stderr=log, check=True)
    return study_log(workdir, label)


RUNS = {
    "one-at-a-time": {"ROLLOUT_BATCH": "1", "AGENT_WORKERS": "1"},
    "batched": {"AGENT_WORKERS": "1"},
    "2-agent-workers": {"AGENT_WORKERS": "2"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps per run (the first is warm-up)")
    parser.add_argument("--batch", type=int, default=8, help="prompts per step (TRAIN_BATCH_SIZE)")
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt (ROLLOUT_N)")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS), help="settings, in this order")
    parser.add_argument("--start", default=str(ROOT / "toy_world" / "checkpoints" / "base"),
                        help="the model RL starts from (default: the committed base)")  # fmt: skip
    parser.add_argument("--workdir", default="/tmp/ccrl_rollout_batching")
    parser.add_argument("--reuse", action="store_true", help="read the runs already in --workdir, run nothing")
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be at least 3: the first step is warm-up and one step is no mean")

    means, logs = {}, {}
    for label in args.runs:
        logs[label] = (
            study_log(Path(args.workdir), label) if args.reuse
            else run_study(Path(args.workdir), label, args.start, args.steps, args.batch, args.samples, RUNS[label])
        )  # fmt: skip
        timings = step_timings(logs[label])[1:]
        means[label] = {phase: statistics.fmean(step[phase] for step in timings) for phase in PHASES}

    print(f"toy world GRPO from {args.start}, {args.batch} prompts x {args.samples} samples, steps 2-{args.steps}"
          " (seconds per step)")  # fmt: skip
    print(f"{'phase':<14}" + "".join(f"{label:>17}" for label in means) + "   ratios to the previous column")
    for phase in PHASES:
        values = [means[label][phase] for label in args.runs]
        ratios = "".join(f"{before / after:>8.2f}x" for before, after in zip(values, values[1:]))
        print(f"{phase:<14}" + "".join(f"{value:>17.2f}" for value in values) + ratios)
    for label, phases in means.items():
        print(f"gen / update_actor ({label}): {phases['gen'] / phases['update_actor']:.2f}")
    # One request at a time decodes in another matrix shape, so its samples may differ in the last bits.
    batched = [label for label in args.runs if label != "one-at-a-time"]
    if len(batched) > 1:
        same = len({json.dumps(training_numbers(logs[label])) for label in batched}) == 1
        print(f"every step's training numbers (rewards, losses, lengths) the same in {', '.join(batched)}: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
