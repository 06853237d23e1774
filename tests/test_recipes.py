"""Every recipe composes its full config against verl's real schema (DRY_RUN=1), on a CPU machine."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_RECIPES = ["llama3_8b_ccrl.sh", "qwen2_5_7b_ccrl.sh", "qwen3_4b_ccrl.sh", "qwen3_8b_ccrl.sh"]


def dry_run(recipe, *overrides, cwd, **env):
    environment = {**os.environ, "DRY_RUN": "1", "HOME": str(cwd), **env}
    return subprocess.run(
        ["bash", str(ROOT / "recipes" / recipe), *overrides],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("recipe", MODEL_RECIPES)
def test_every_model_recipe_passes_its_dry_run(recipe, tmp_path):
    result = dry_run(recipe, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN OK (sft)") == 1 and result.stdout.count("DRY RUN OK (ppo)") == 1
    # The GPU path is verl's stock vLLM rollout with the actor's exact entropies.
    assert "; rollout=vllm, ccrl.entropy_source=actor" in result.stdout
    # MASA's switches are off by default (docs/masa.md).
    assert "; zero-variance filter=off, skip predicted zero-variance=False" in result.stdout


MASA_SWITCHES = {"RL_ESTIMATOR": "grpo", "ROLLOUT_N": "8", "STAGES": "rl"}


@pytest.mark.parametrize("recipe", MODEL_RECIPES)
@pytest.mark.parametrize("switch, verdict", [("outcome", "ccrl_outcome"), ("reward", "reward")])
def test_masa_switches_compose_against_verls_schema_in_every_model_recipe(recipe, switch, verdict, tmp_path):
    result = dry_run(
        recipe, cwd=tmp_path, ZERO_VARIANCE_FILTER=switch, SKIP_PREDICTED_ZERO_VARIANCE="1", **MASA_SWITCHES
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"; zero-variance filter={verdict}, skip predicted zero-variance=True" in result.stdout


def test_masa_switches_on_groups_of_one_fail_the_dry_run_saying_why(tmp_path):
    result = dry_run("qwen3_4b_ccrl.sh", cwd=tmp_path, ZERO_VARIANCE_FILTER="outcome", STAGES="rl")
    assert result.returncode != 0 and "rollout.n=1" in result.stderr


@pytest.mark.parametrize("name, value", [("ZERO_VARIANCE_FILTER", "acc"), ("SKIP_PREDICTED_ZERO_VARIANCE", "yes")])
def test_an_unknown_masa_switch_value_is_refused_naming_it(name, value, tmp_path):
    result = dry_run("llama3_8b_ccrl.sh", cwd=tmp_path, **{name: value})
    assert result.returncode == 2 and f"{name}={value}" in result.stderr


@pytest.mark.parametrize("method, stages", [("cot_sft", ["sft"]), ("cot_sft_ppo", ["sft", "ppo"])])
def test_baselines_pass_their_dry_run(method, stages, tmp_path):
    result = dry_run("qwen2_5_7b_ccrl.sh", cwd=tmp_path, METHOD=method)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [kind for kind in ("sft", "ppo") if f"DRY RUN OK ({kind})" in result.stdout] == stages
    assert result.stdout.count("; rollout=vllm, ccrl.entropy_source=actor") == stages.count("ppo")


def test_a_mistyped_override_fails_the_dry_run_naming_it(tmp_path):
    result = dry_run("qwen3_8b_ccrl.sh", "actor_rollout_ref.rollout.temprature=0.7", cwd=tmp_path)
    assert result.returncode != 0
    assert "temprature" in result.stderr


def test_an_unknown_method_is_refused(tmp_path):
    result = dry_run("llama3_8b_ccrl.sh", cwd=tmp_path, METHOD="ccrl_only")
    assert result.returncode == 2 and "METHOD=ccrl_only" in result.stderr


def test_recipes_work_from_any_directory(tmp_path):
    # Called by absolute path from an unrelated directory (tmp_path), as every test here does; and relative:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    relative = os.path.relpath(ROOT / "recipes" / "qwen3_4b_ccrl.sh", nested)
    result = subprocess.run(
        ["bash", relative], cwd=nested, env={**os.environ, "DRY_RUN": "1", "STAGES": "sft"},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "DRY RUN OK (sft)" in result.stdout, result.stderr[-3000:]


def test_the_cpu_demo_passes_its_dry_run(tmp_path):
    result = dry_run("tiny_cpu_demo.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "demo"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN OK (ppo)") == 2  # CCRL and outcome-only RL; cot_sft has no RL stage
    assert result.stdout.count("; rollout=hf_cpu, ccrl.entropy_source=actor") == 2  # CPU mode's rollout


def test_the_toy_world_quick_preset_checks_one_sft_and_a_ccrl_run_per_seed(tmp_path):
    result = dry_run("toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN OK (sft)") == 1  # CoMT SFT; the CoT baseline form is the full preset's
    assert result.stdout.count("DRY RUN OK (ppo)") == 2  # CCRL, 2 seeds, from one SFT checkpoint
    assert result.stdout.count("DRY RUN eval: CoMT+CCRL on") == 2
    assert result.stdout.count("; rollout=hf_cpu, ccrl.entropy_source=actor") == 2


def test_the_toy_world_quick_preset_takes_the_baseline_arm_on_request(tmp_path):
    result = dry_run("toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"), VARIANTS="outcome ccrl")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN eval: CoMT+outcome-RL on") == 2
    assert result.stdout.count("DRY RUN OK (ppo)") == 4


def toy_world_settings(preset, **env):
    """The settings recipes/toy_world_settings.sh exports for ``preset`` under ``env``, as a dict."""
    script = f"source {ROOT / 'recipes' / 'toy_world_settings.sh'} && toy_world_preset {preset} && env"
    environment = {key: value for key, value in os.environ.items() if key not in ("SEEDS", "VARIANTS")}
    result = subprocess.run(
        ["bash", "-c", script], env={**environment, **env}, capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_the_long_preset_runs_outcome_only_and_ccrl_for_96_steps_over_ten_seeds():
    settings = toy_world_settings("long")
    assert settings["RL_TOTAL_STEPS"] == "96" and settings["SEEDS"].split() == [str(s) for s in range(1, 11)]
    assert settings["VARIANTS"] == "outcome ccrl" and settings["N_EVAL"] == "300"
    assert toy_world_settings("long", SEEDS="4 5")["SEEDS"] == "4 5"  # what the user sets wins


def test_the_toy_world_long_preset_passes_its_dry_run(tmp_path):
    result = dry_run("toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"), PRESET="long", SEEDS="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN OK (sft)") == 1 and result.stdout.count("DRY RUN OK (ppo)") == 2
    for label in ("outcome-RL", "CCRL"):
        assert result.stdout.count(f"DRY RUN eval: CoMT+{label} on") == 1


def test_the_toy_world_full_preset_runs_every_arm(tmp_path):
    result = dry_run("toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"), PRESET="full", SEEDS="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DRY RUN OK (sft)") == 2 and "DRY RUN eval: CoT-SFT" in result.stdout
    assert result.stdout.count("DRY RUN OK (ppo)") == 5
    for label in ("outcome-RL", "CCRL", "CCRL-brier", "CCRL-log", "CCRL-nostd"):
        assert result.stdout.count(f"DRY RUN eval: CoMT+{label} on") == 1


def test_the_toy_world_can_start_rl_from_a_given_model(tmp_path):
    result = dry_run(
        "toy_world.sh",
        cwd=tmp_path,
        OUT_DIR=str(tmp_path / "toy"),
        SFT_MODEL=str(ROOT / "toy_world" / "checkpoints" / "base"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "DRY RUN OK (sft)" not in result.stdout and result.stdout.count("DRY RUN OK (ppo)") == 2


def test_the_toy_world_takes_the_masa_switches(tmp_path):
    result = dry_run(
        "toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"), SEEDS="1", COT_SFT="0",
        ZERO_VARIANCE_FILTER="outcome", SKIP_PREDICTED_ZERO_VARIANCE="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("; zero-variance filter=ccrl_outcome, skip predicted zero-variance=True") == 1


def test_an_unknown_toy_world_variant_is_refused_naming_it(tmp_path):
    result = dry_run("toy_world.sh", cwd=tmp_path, OUT_DIR=str(tmp_path / "toy"), VARIANTS="ccrl grpo")
    assert result.returncode == 2 and "'grpo'" in result.stderr


def plain_study(tmp_path, **env):
    """recipes/toy_world_plain.sh at toy sizes: one GRPO step of 2 x 2 per arm, 3 problems per evaluation split."""
    sizes = {"SEEDS": "1", "VARIANTS": "outcome ccrl", "RL_TOTAL_STEPS": "1", "TRAIN_BATCH_SIZE": "2", "ROLLOUT_N": "2",
             "N_EVAL": "3", "JOBS": "2", "SFT_MODEL": str(ROOT / "toy_world" / "checkpoints" / "base")}  # fmt: skip
    environment = {**os.environ, "OUT_DIR": str(tmp_path / "plain"), **sizes, **env}
    return subprocess.run(
        ["bash", str(ROOT / "recipes" / "toy_world_plain.sh")], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_the_plain_study_compares_each_arm_with_outcome_only_and_resumes_without_rerunning(tmp_path):
    first = plain_study(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    table = (tmp_path / "plain" / "results" / "results.md").read_text()
    assert "| CoMT+CCRL |" in table and "| CoMT+outcome-RL |" in table and "| CoMT-SFT |" in table
    assert "## Differences from CoMT+outcome-RL" in table  # the baseline was passed to the table
    assert "## Change from CoMT-SFT" in table  # and the start
    assert (tmp_path / "plain" / "results" / "training_curves.png").stat().st_size > 0
    model = tmp_path / "plain" / "models" / "toy_ccrl_seed1" / "model.safetensors"
    written = model.stat().st_mtime_ns
    again = plain_study(tmp_path)
    assert again.returncode == 0 and model.stat().st_mtime_ns == written


def test_the_plain_study_takes_the_masa_switches_and_validates_during_training(tmp_path):
    result = plain_study(
        tmp_path, VARIANTS="outcome", N_RL="20", TEST_FREQ="1", ZERO_VARIANCE_FILTER="outcome",
        SKIP_PREDICTED_ZERO_VARIANCE="1", SKIP_HISTORY="1", SKIP_RETURN_PROB="0.5",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "--zero-variance-filter outcome --skip --skip-history 1 --skip-return-prob 0.5 --eval-n 3" in result.stdout
    log = (tmp_path / "plain" / "logs" / "toy_outcome_seed1.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in log]
    assert [r["step"] for r in records if "val-core/toy_id/acc/mean@1" in r["data"]] == [0, 1]  # start, step 1
    assert any("masa/filtered_groups" in r["data"] for r in records)


@pytest.mark.parametrize(
    "env, named",
    [({"SFT_MODEL": "/nonexistent"}, "SFT_MODEL='/nonexistent'"), ({"VARIANTS": "ccrl grpo"}, "'grpo'"),
     ({"ZERO_VARIANCE_FILTER": "always"}, "ZERO_VARIANCE_FILTER=always"),
     ({"SKIP_PREDICTED_ZERO_VARIANCE": "yes"}, "SKIP_PREDICTED_ZERO_VARIANCE=yes")],
)  # fmt: skip
def test_the_plain_study_refuses_a_bad_setting_naming_it(env, named, tmp_path):
    result = plain_study(tmp_path, **env)
    assert result.returncode == 2 and named in result.stderr
