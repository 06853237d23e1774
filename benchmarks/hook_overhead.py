"""Per-step cost of CCRL inside verl: the same tiny CPU GRPO run with plain GRPO and with CCRL.

    python benchmarks/hook_overhead.py [--steps 8] [--workdir /tmp/ccrl_hook_overhead]

plain: ``python -m verl.trainer.main_ppo``, verl's naive reward manager (a digit-share score), sync trainer.
ccrl:  ``python -m verl_ccrl.main_ppo``: CCRL reward manager, ``ccrl`` trainer (metrics, token placement).
Both use the ``hf_cpu`` rollout on the same tiny model, data and seeds. Step time is verl's ``timing_s/step``;
the first step (warm-up) is left out of the mean. Prints the per-phase times, the model passes per step of each
run, and the ratio ccrl / plain.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys

from verl_ccrl.integration.cpu.run_smoke import run_smoke

# verl's timing keys for the phases that run the model (trainer_base.py _step_once); "gen" is the rollout.
MODEL_PHASES = ("gen", "old_log_prob", "ref", "values", "update_critic", "update_actor")


def step_timings(log_text: str) -> list[dict[str, float]]:
    """verl's per-step timing metrics from its console log, one dict per step."""
    steps = []
    for line in log_text.splitlines():
        if re.search(r"\bstep:\d+ -", line):
            steps.append({key: float(value) for key, value in re.findall(r"timing_s/([a-z_]+):([0-9.eE+-]+)", line)})
    return [step for step in steps if "step" in step]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8, help="training steps per run (the first is warm-up)")
    parser.add_argument("--workdir", default="/tmp/ccrl_hook_overhead")
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be at least 3: the first step is warm-up and one step is no mean")

    results = {}
    for label, method in (("plain", "naive"), ("ccrl", "ccrl")):
        result = run_smoke(args.workdir, estimator="grpo", steps=args.steps, method=method)
        with open(result.log_path, encoding="utf-8") as log_file:
            timings = step_timings(log_file.read())
        if result.returncode != 0 or len(timings) != args.steps:
            print(f"{label}: run failed (exit {result.returncode}); see {result.log_path}", file=sys.stderr)
            return 1
        results[label] = timings[1:]

    print(f"GRPO on the tiny CPU model, {args.steps} steps per run, step 1 excluded (warm-up)")
    for label, timings in results.items():
        phases = [phase for phase in MODEL_PHASES if phase in timings[0]]
        means = ", ".join(f"{phase} {statistics.mean(t[phase] for t in timings):.2f}s" for phase in phases)
        print(f"{label:5s}: step {statistics.mean(t['step'] for t in timings):.2f}s  ({means})")
        print(f"       model passes per step: {len(phases)} phases ({', '.join(phases)})")
    ratio = statistics.mean(t["step"] for t in results["ccrl"]) / statistics.mean(t["step"] for t in results["plain"])
    print(f"ratio ccrl/plain per step: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
