"""MASA's switches measured in the toy world (#17): generated tokens and wall clock to reach the final ID accuracy
of the run without the switches, and each run's final accuracy and overconfident-error rate.

Each setting is one ``recipes/toy_world.sh`` output directory (same SEEDS, VARIANTS and sizes; only the switches
differ), with in-training validation on the ID split (``trainer.test_freq`` > 0) so that accuracy has a curve:

    python benchmarks/masa_toy.py plan --out-root outputs/masa     # prints the four toy_world.sh commands
    python benchmarks/masa_toy.py table --runs off=outputs/masa/off filter=outputs/masa/filter \\
        skip=outputs/masa/skip both=outputs/masa/both [--baseline off] [--out docs/masa_results.md]

Per run (setting x variant x seed) it reads verl's file-logger JSONL (``<dir>/logs/toy_<variant>_seed<seed>.jsonl``):
``masa/generated_tokens`` (every generated response's tokens, filtered and surplus groups included),
``timing_s/step`` and the first ``val-core/<source>/acc/mean@<n>`` metric; and the greedy evaluation's run JSON on
``toy_id`` (``<dir>/results``): final accuracy and ``overconfident_error_rate@<t>``. The target of a run is the
final validation accuracy of the baseline setting's run with the same variant and seed; "to target" is the cumulative
tokens (wall seconds) at the first validation that reaches it. The speed-up is baseline's tokens-to-target over the
run's. Goal (#17): >= 1.25x on the mean, fewer tokens to target than the baseline seed by seed beyond the 95 %
interval (so at least 2 seeds), and final accuracy no lower than the baseline's mean minus its seed sd.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

from verl_ccrl.eval.contrast import difference
from verl_ccrl.eval.results import find_run_files, load_runs

VARIANT_LABELS = {"ccrl": "CoMT+CCRL", "outcome": "CoMT+outcome-RL", "brier": "CoMT+CCRL-brier"}
SETTINGS = {  # name -> the recipe switches
    "off": {"ZERO_VARIANCE_FILTER": "off", "SKIP_PREDICTED_ZERO_VARIANCE": "0"},
    "filter": {"ZERO_VARIANCE_FILTER": "outcome", "SKIP_PREDICTED_ZERO_VARIANCE": "0"},
    "skip": {"ZERO_VARIANCE_FILTER": "off", "SKIP_PREDICTED_ZERO_VARIANCE": "1"},
    "both": {"ZERO_VARIANCE_FILTER": "outcome", "SKIP_PREDICTED_ZERO_VARIANCE": "1"},
}
# --regime: "short" is the regime of the first MASA measurements in docs/masa.md (40 steps at lr 2e-4, the quick
# preset's before the presets moved to lr 1e-4), pinned so that the documented commands keep reproducing them; there
# RL barely moves the model. "long" adds nothing to PRESET=long's own (96 steps at lr 1e-4), where it does.
REGIMES = {"short": "RL_TOTAL_STEPS=40 ACTOR_LR=2e-4 ", "long": ""}
# #17's goal: at least this many times fewer generated tokens to the baseline's final accuracy (on the mean, and
# fewer seed by seed beyond the 95 % interval), with final accuracy no lower than the baseline's mean minus its sd.
GOAL_SPEEDUP = 1.25
# --runner: the recipe that runs a setting (both write <OUT_DIR>/logs/toy_<variant>_seed<seed>.jsonl and results/).
RUNNERS = {"verl": "recipes/toy_world.sh", "plain": "recipes/toy_world_plain.sh"}
VAL_ACC = re.compile(r"^val-core/.+/acc/mean@\d+$")  # the data source may hold slashes (ccrl/toy_world)


def read_curve(path: Path) -> list[dict]:
    """Per logged step: cumulative generated tokens, wall seconds, prompts held back and groups filtered, and the
    validation accuracy where logged."""
    tokens = wall = skipped = filtered = 0.0
    curve = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        data = record.get("data", {})
        tokens += float(data.get("masa/generated_tokens", 0.0))
        wall += float(data.get("timing_s/step", 0.0))
        skipped += float(data.get("masa/skipped_prompts", 0.0))
        filtered += float(data.get("masa/filtered_groups", 0.0))
        accuracy = next((float(value) for key, value in data.items() if VAL_ACC.match(key)), None)
        curve.append(
            {"step": record.get("step"), "tokens": tokens, "wall": wall, "skipped": skipped, "filtered": filtered,
             "accuracy": accuracy}
        )  # fmt: skip
    return curve


def to_target(curve: list[dict], target: float) -> tuple[float, float] | None:
    """(tokens, wall seconds) at the first validation at or above ``target``; None if never reached."""
    for point in curve:
        if point["accuracy"] is not None and point["accuracy"] >= target - 1e-9:
            return point["tokens"], point["wall"]
    return None


def accuracy_within(curve: list[dict], tokens: float) -> float | None:
    """The last validation accuracy logged while the run had generated at most ``tokens`` (a run that spends more
    tokens a step, like the filter, compared with the baseline at the baseline's whole budget)."""
    values = [point["accuracy"] for point in curve if point["accuracy"] is not None and point["tokens"] <= tokens]
    return values[-1] if values else None


def final_accuracy(curve: list[dict]) -> float | None:
    return accuracy_within(curve, math.inf)


def eval_metrics(results_dir: Path, variant: str, seed: int, threshold: float) -> tuple[float | None, float | None]:
    """Greedy evaluation on toy_id: (accuracy in %, overconfident-error rate at ``threshold``, a fraction)."""
    for run in load_runs(find_run_files(str(results_dir))):
        if run["benchmark"] == "toy_id" and run.get("seed") == seed and run["method"] == VARIANT_LABELS[variant]:
            calibration = run["metrics"].get("calibration", {})
            return run["metrics"].get("accuracy"), calibration.get(f"overconfident_error_rate@{threshold:g}")
    return None, None


def runs_of(directory: Path) -> dict[tuple[str, int], Path]:
    found = {}
    for path in sorted((directory / "logs").glob("toy_*_seed*.jsonl")):
        match = re.fullmatch(r"toy_(\w+?)_seed(\d+)\.jsonl", path.name)
        if match:
            found[(match.group(1), int(match.group(2)))] = path
    return found


def _mean_sd(values: list[float]) -> str:
    values = [value for value in values if value is not None]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3g} +- {sd:.2g}"


def measure(settings: dict[str, Path], baseline: str, threshold: float) -> tuple[list[dict], str]:
    rows, base_runs = [], runs_of(settings[baseline])
    for setting, directory in settings.items():
        for (variant, seed), path in runs_of(directory).items():
            base_path = base_runs.get((variant, seed))
            curve = read_curve(path)
            base_curve = read_curve(base_path) if base_path else []
            target = final_accuracy(base_curve)
            mine = to_target(curve, target) if target is not None else None
            base = to_target(base_curve, target) if target is not None else None
            accuracy, overconfident = eval_metrics(directory / "results", variant, seed, threshold)
            rows.append(
                {"setting": setting, "variant": variant, "seed": seed, "target": target,
                 "seconds_per_step": curve[-1]["wall"] / len(curve) if curve else None,
                 "tokens_to_target": mine[0] if mine else None, "wall_to_target": mine[1] if mine else None,
                 "token_speedup": base[0] / mine[0] if mine and base and mine[0] else None,
                 "wall_speedup": base[1] / mine[1] if mine and base and mine[1] else None,
                 "total_tokens": curve[-1]["tokens"] if curve else None,
                 "skipped_prompts": curve[-1]["skipped"] if curve else None,
                 "filtered_groups": curve[-1]["filtered"] if curve else None,
                 "accuracy_at_baseline_tokens": accuracy_within(curve, base_curve[-1]["tokens"]) if base_curve else None,
                 "final_accuracy": accuracy, "overconfident_error": overconfident}
            )  # fmt: skip
    return rows, table(rows, baseline, threshold) + "\n\n" + paired_table(rows, baseline, threshold)


def table(rows: list[dict], baseline: str, threshold: float) -> str:
    lines = [
        f"| reward | setting | seeds reaching target | tokens to target (speed-up) | wall to target (speed-up) "
        f"| final ID accuracy | overconfident errors @{threshold:g} | prompts held back | groups filtered "
        f"| validation accuracy at the baseline's tokens | generated tokens (x {baseline}) | goal met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in sorted({row["variant"] for row in rows}):
        base = [row["final_accuracy"] for row in rows if row["variant"] == variant and row["setting"] == baseline]
        base = [value for value in base if value is not None]
        floor = statistics.mean(base) - (statistics.stdev(base) if len(base) > 1 else 0.0) if base else None
        of = {(row["setting"], row["seed"]): row for row in rows if row["variant"] == variant}
        for setting in dict.fromkeys(row["setting"] for row in rows):
            mine = [row for row in rows if row["variant"] == variant and row["setting"] == setting]
            speedups = [row["token_speedup"] for row in mine if row["token_speedup"] is not None]
            reached = sum(row["tokens_to_target"] is not None for row in mine)
            accuracies = [row["final_accuracy"] for row in mine if row["final_accuracy"] is not None]
            fewer = difference(*(_per_seed(of, name, "tokens_to_target", 1.0) for name in (setting, baseline)))
            met = (
                "n/a" if setting == baseline or floor is None or not speedups or not accuracies or fewer is None
                else "yes" if statistics.mean(speedups) >= GOAL_SPEEDUP and statistics.mean(accuracies) >= floor
                and fewer.high < 0 else "no"
            )  # fmt: skip
            lines.append(
                f"| {variant} | {setting} | {reached}/{len(mine)} "
                f"| {_mean_sd([row['tokens_to_target'] for row in mine])} ({_mean_sd(speedups)}x) "
                f"| {_mean_sd([row['wall_to_target'] for row in mine])} s ({_mean_sd([row['wall_speedup'] for row in mine])}x) "
                f"| {_mean_sd(accuracies)} | {_mean_sd([row['overconfident_error'] for row in mine])} "
                f"| {_mean_sd([row['skipped_prompts'] for row in mine])} "
                f"| {_mean_sd([row['filtered_groups'] for row in mine])} "
                f"| {_mean_sd([row['accuracy_at_baseline_tokens'] for row in mine])} "
                f"| {_mean_sd(_ratios(mine, of, baseline, 'total_tokens'))} | {met} |"
            )
    return "\n".join(lines)


def _ratios(rows: list[dict], of: dict[tuple[str, int], dict], baseline: str, key: str) -> list[float]:
    """Each row's ``key`` over the same seed's baseline run's (seeds the baseline lacks are left out)."""
    ratios = []
    for row in rows:
        base = of.get((baseline, row["seed"]))
        if base and base[key] and row[key] is not None:
            ratios.append(row[key] / base[key])
    return ratios


PAIRED_COLUMNS = (  # row key, column title, scale
    ("final_accuracy", "final ID accuracy (points)", 1.0),
    ("overconfident_error", "overconfident errors @{t} (points)", 100.0),
    ("tokens_to_target", "tokens to target (thousands)", 1e-3),
    ("total_tokens", "generated tokens (thousands)", 1e-3),
    ("accuracy_at_baseline_tokens", "validation accuracy at the baseline's tokens (points)", 100.0),
    ("seconds_per_step", "seconds a step", 1.0),
)


def _per_seed(of: dict[tuple[str, int], dict], setting: str, key: str, scale: float) -> dict[int, float | None]:
    return {seed: None if row[key] is None else row[key] * scale for (name, seed), row in of.items() if name == setting}


def paired_table(rows: list[dict], baseline: str, threshold: float) -> str:
    """Each setting minus the baseline, seed by seed, with the 95 % interval of ``verl_ccrl.eval.contrast``."""
    title = " | ".join(name.format(t=f"{threshold:g}") for _, name, _ in PAIRED_COLUMNS)
    lines = [f"| reward | setting - {baseline} | {title} |", "|---|---|" + "---|" * len(PAIRED_COLUMNS)]
    marked = total = 0
    for variant in sorted({row["variant"] for row in rows}):
        of = {(row["setting"], row["seed"]): row for row in rows if row["variant"] == variant}
        for setting in dict.fromkeys(row["setting"] for row in rows):
            if setting == baseline:
                continue
            cells = []
            for key, _, scale in PAIRED_COLUMNS:
                found = difference(_per_seed(of, setting, key, scale), _per_seed(of, baseline, key, scale))
                total += found is not None
                marked += bool(found and found.excludes_zero)
                cells.append(
                    "n/a" if found is None
                    else f"{found.mean:+.3g} [{found.low:+.3g}, {found.high:+.3g}] (n={found.n})"
                    + (" **\\***" if found.excludes_zero else "")
                )  # fmt: skip
            lines.append(f"| {variant} | {setting} | " + " | ".join(cells) + " |")
    lines.append(
        f"\nPaired by seed (same start, data order and sampling seeds until the switch first acts); 95 % interval "
        f"(Student's t). **\\*** marks an interval that excludes 0: {marked} of {total}."
    )
    return "\n".join(lines)


def plan(
    out_root: str,
    preset: str,
    seeds: str,
    test_freq: int,
    n_rl: int,
    variants: str,
    sft_model: str,
    skip_history: int,
    runner: str = "verl",
    regime: str = "short",
) -> str:
    """The runs of each setting: ``recipes/toy_world.sh`` (verl) or ``recipes/toy_world_plain.sh`` (the plain
    twin, which needs ``sft_model``). ``n_rl`` RL prompts: the skip learns from a prompt's past groups, so prompts
    must come round again (40 steps x 16 = 640 prompts from the presets' 1000 come once each, and the skip would
    never act); it acts from a prompt's ``skip_history`` + 1st appearance. Every setting starts from ``sft_model``
    when given (one start), else trains its own SFT checkpoint."""
    if regime not in REGIMES:
        raise ValueError(f"regime={regime!r} is not one of {sorted(REGIMES)}.")
    if runner not in RUNNERS:
        raise ValueError(f"runner={runner!r} is not one of {sorted(RUNNERS)}.")
    if runner == "plain" and not sft_model:
        raise ValueError("the plain twin starts from a CoMT-SFT checkpoint: give --sft-model DIR.")
    start = f"SFT_MODEL={sft_model} " if sft_model else ""
    commands = []
    for setting, switches in SETTINGS.items():
        env = " ".join(f"{key}={value}" for key, value in switches.items())
        commands.append(
            f'{start}OUT_DIR={out_root}/{setting} PRESET={preset} SEEDS="{seeds}" VARIANTS="{variants}" COT_SFT=0 '
            f"N_RL={n_rl} {REGIMES[regime]}TEST_FREQ={test_freq} SKIP_HISTORY={skip_history} {env} bash {RUNNERS[runner]}"
        )
    return "\n".join(commands)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    planner = sub.add_parser("plan", help="print the toy_world.sh commands of the four settings")
    planner.add_argument("--out-root", default="outputs/masa")
    planner.add_argument("--preset", default="full")
    planner.add_argument("--seeds", default="1 2 3")
    planner.add_argument("--test-freq", type=int, default=2, help="validation every N steps (the accuracy curve)")
    planner.add_argument("--n-rl", type=int, default=160, help="RL prompts; few enough to come round (skip needs it)")
    planner.add_argument("--skip-history", type=int, default=1, help="SKIP_HISTORY: uniform groups before a skip")
    planner.add_argument("--variants", default="ccrl outcome", help="toy_world.sh VARIANTS of every setting")
    planner.add_argument("--sft-model", default="", help="one SFT checkpoint every setting starts from (SFT_MODEL)")
    planner.add_argument(
        "--regime", choices=sorted(REGIMES), default="short",
        help="short: 40 steps at lr 2e-4 (the first measurements); long: the preset's own steps and lr",
    )  # fmt: skip
    planner.add_argument(
        "--runner", choices=sorted(RUNNERS), default="verl", help="verl's trainer, or the plain twin (toy_world.grpo)"
    )
    tabler = sub.add_parser("table", help="tokens and wall clock to target, final accuracy, overconfident errors")
    tabler.add_argument("--runs", nargs="+", required=True, help="setting=toy_world OUT_DIR, e.g. off=outputs/x")
    tabler.add_argument("--baseline", default="off", help="the setting whose final accuracy is the target")
    tabler.add_argument("--threshold", type=float, default=0.9, help="overconfidence threshold (0.5, 0.7 or 0.9)")
    tabler.add_argument("--out", help="also write the table (markdown) and the per-run rows (.json beside it)")
    args = parser.parse_args(argv)
    if args.command == "plan":
        try:
            commands = plan(
                args.out_root, args.preset, args.seeds, args.test_freq, args.n_rl, args.variants, args.sft_model,
                args.skip_history, args.runner, args.regime,
            )  # fmt: skip
        except ValueError as error:
            parser.error(str(error))
        print(commands)
        return 0
    settings = dict(item.split("=", 1) for item in args.runs)
    if args.baseline not in settings:
        parser.error(f"--baseline {args.baseline} is not among the --runs settings {sorted(settings)}")
    rows, text = measure({name: Path(path) for name, path in settings.items()}, args.baseline, args.threshold)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
