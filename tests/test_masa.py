"""MASA's switches (#17): the zero-variance filter on the outcome, the skip before rollout, their step metrics.

The buffer tests run verl's real V1 pieces in a subprocess (tests/masa_buffer_run.py, ~40 s): the ``ccrl`` trainer
built from the composed config, its dataloader, verl's replay buffer with ``algorithm.filter_groups`` on
``ccrl_outcome``, and TransferQueue on a local Ray; only the model is replaced by a scripted rollout whose
outcomes are known. tests/test_cpu_e2e.py runs the whole trainer with the switches on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from verl_ccrl.eval.results import RUN_SCHEMA
from verl_ccrl.masa import OUTCOME_METRIC, MasaConfig, PromptHistory, group_outcome, prompt_key
from verl_ccrl.reward_info import RewardInfo, encode

ROOT = Path(__file__).resolve().parents[1]
CONFIG_YAML = ROOT / "verl_ccrl" / "integration" / "config" / "ccrl_trainer.yaml"
N, BATCH, CAP = 2, 2, 4  # as tests/masa_buffer_run.py sets them


# ---- the pure core


def test_the_outcome_the_filter_reads_is_in_every_reward_record():
    assert encode(RewardInfo(True, 1.0, 0.3))[OUTCOME_METRIC] == 1.0
    assert encode(RewardInfo(False, 0.0, -0.2))[OUTCOME_METRIC] == 0.0


def test_a_prompt_is_predicted_to_teach_nothing_only_after_k_uniform_groups():
    history = PromptHistory(MasaConfig(skip_predicted_zero_variance=True, skip_history=2, skip_return_prob=0.0))
    history.observe("a", [1.0, 1.0])
    assert not history.predicted_zero_variance("a") and history.admit("a")
    history.observe("a", [1.0, 1.0])
    assert history.predicted_zero_variance("a") and not history.admit("a")
    history.observe("a", [1.0, 0.0])  # it became learnable again
    assert not history.predicted_zero_variance("a")


def test_all_correct_then_all_wrong_is_not_a_prediction():
    history = PromptHistory(MasaConfig(skip_predicted_zero_variance=True, skip_history=2))
    history.observe("a", [1.0, 1.0])
    history.observe("a", [0.0, 0.0])
    assert not history.predicted_zero_variance("a")


def test_a_predicted_prompt_returns_at_about_the_return_probability():
    config = MasaConfig(skip_predicted_zero_variance=True, skip_history=1, skip_return_prob=0.25, seed=1)
    history = PromptHistory(config)
    history.observe("a", [0.0, 0.0])
    returns = sum(history.admit("a") for _ in range(4000))
    assert 0.22 < returns / 4000 < 0.28


def test_with_the_skip_off_every_prompt_is_admitted():
    history = PromptHistory(MasaConfig(skip_history=1, skip_return_prob=0.0))
    history.observe("a", [1.0, 1.0])
    assert history.predicted_zero_variance("a") and history.admit("a")


def test_groups_without_a_correctness_value_leave_the_history_alone():
    history = PromptHistory(MasaConfig(skip_predicted_zero_variance=True, skip_history=1))
    history.observe("a", [None, float("nan")])
    assert group_outcome([None]) is None and not history.predicted_zero_variance("a")


def test_a_prompts_key_is_its_messages():
    messages = [{"role": "user", "content": "2 + 2?"}]
    assert prompt_key(messages) == prompt_key([dict(messages[0])]) != prompt_key([{"role": "user", "content": "3?"}])


@pytest.mark.parametrize(
    "values, words",
    [
        ({"skip_history": 0}, "masa.skip_history=0"),
        ({"skip_return_prob": 1.5}, "masa.skip_return_prob=1.5"),
        ({"skip_predicted_zero_variance": "yes"}, "true or false"),
        ({"skip_histroy": 2}, "skip_histroy"),
    ],
)
def test_bad_masa_settings_fail_naming_the_key(values, words):
    with pytest.raises((ValueError, TypeError), match=words):
        MasaConfig.from_mapping(values)


def test_yaml_masa_block_matches_the_config_defaults():
    block = yaml.safe_load(CONFIG_YAML.read_text())["masa"]
    assert MasaConfig.from_mapping(block) == MasaConfig() and set(block) == set(MasaConfig.help())
    assert all(MasaConfig.help().values())


# ---- start-up checks


def run_config(**overrides):
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {"rollout": {"n": 4}},
            "algorithm": {"filter_groups": {"enable": False, "metric": None, "max_num_gen_batches": 0}},
            "reward": {"reward_manager": {"name": "ccrl"}},
            "trainer": {"v1": {"sampler": {"custom_sampler": None}}},
            "masa": {},
        }
    )
    for key, value in overrides.items():
        OmegaConf.update(config, key, value)
    return config


@pytest.mark.parametrize("switch", ["algorithm.filter_groups.enable", "masa.skip_predicted_zero_variance"])
def test_a_switch_on_groups_of_one_fails_at_start_up(switch):
    from verl_ccrl.integration.masa import check_masa_config

    with pytest.raises(ValueError, match="rollout.n=1"):
        check_masa_config(run_config(**{switch: True, "actor_rollout_ref.rollout.n": 1}))


def test_the_outcome_filter_needs_the_manager_that_writes_the_outcome():
    from verl_ccrl.integration.masa import check_masa_config

    config = run_config(**{"algorithm.filter_groups.enable": True, "algorithm.filter_groups.metric": OUTCOME_METRIC})
    check_masa_config(config)
    OmegaConf.update(config, "reward.reward_manager.name", "naive")
    with pytest.raises(ValueError, match="reward.reward_manager.name=ccrl"):
        check_masa_config(config)


def test_the_skip_refuses_a_custom_sampler_it_cannot_learn_from():
    from verl_ccrl.integration.masa import check_masa_config

    config = run_config(**{"masa.skip_predicted_zero_variance": True})
    OmegaConf.update(config, "trainer.v1.sampler.custom_sampler", {"path": "x.py", "name": "Mine"})
    with pytest.raises(ValueError, match="custom_sampler"):
        check_masa_config(config)


# ---- verl's real replay buffer and trainer


@pytest.fixture(scope="module")
def buffer_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("masa_buffer")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "masa_buffer_run.py"), str(workdir)],
        cwd=ROOT,
        env={**os.environ, "RAY_DEDUP_LOGS": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("REPORT ")]
    assert completed.returncode == 0 and lines, completed.stdout[-3000:] + completed.stderr[-5000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_the_trainer_refuses_a_step_count_its_epochs_would_cut_short(buffer_run):
    assert "ends the run after 4 steps" in buffer_run["budget_error"]


def test_a_filtered_group_never_reaches_the_update(buffer_run):
    for step in buffer_run["steps"]:
        assert len(step["sampled_groups"]) == BATCH
        assert all(len(set(outcomes)) > 1 for outcomes in step["sampled_groups"]), step
    assert sum(step["masa"]["masa/filtered_groups"] for step in buffer_run["steps"]) > 0


def test_the_counts_match_what_was_generated_filtered_and_refilled(buffer_run):
    for step in buffer_run["steps"]:
        masa, verl, generated = step["masa"], step["verl"], len(step["generated"])
        assert masa["masa/generated_groups"] == generated == BATCH + masa["masa/refill_prompts"]
        assert masa["masa/generated_groups"] == masa["masa/filtered_groups"] + masa["masa/discarded_groups"] + BATCH
        assert masa["masa/filtered_groups"] == verl.get("training/filter_groups/evicted_samples", 0)
        assert masa["masa/discarded_groups"] == verl.get("training/filter_groups/discarded_surplus_samples", 0)
        assert masa["masa/filtered_groups"] == masa["masa/filtered_all_correct"] + masa["masa/filtered_all_wrong"]
        assert masa["masa/generated_responses"] == N * generated
        assert masa["masa/generated_tokens"] == sum(3 + session for session in range(N)) * generated
        assert masa["masa/gen_batches"] == generated / BATCH


def test_skipped_prompts_are_not_generated_and_are_counted(buffer_run):
    for step in buffer_run["steps"]:
        decisions, masa = step["decisions"], step["masa"]
        skipped = [index for index, predicted, admitted in decisions if predicted and not admitted]
        returned = [index for index, predicted, admitted in decisions if predicted and admitted]
        assert masa["masa/skipped_prompts"] == len(skipped)
        assert masa["masa/returned_prompts"] == len(returned)
        assert masa["masa/rollouts_saved"] == N * len(skipped)
        assert all(index in step["generated"] for index in returned)
    assert sum(step["masa"]["masa/skipped_prompts"] for step in buffer_run["steps"]) > 0
    assert buffer_run["gen_batch_size"] == 1  # one prompt per fetch, so a skipped one is replaced by the next


def test_a_skipped_prompt_returns_and_once_learnable_is_no_longer_skipped(buffer_run):
    # Prompt 1 is all wrong the first time, then mixed.
    decisions = [decision for step in buffer_run["steps"] for decision in step["decisions"] if decision[0] == 1]
    assert [1, True, False] in decisions  # held back
    assert [1, True, True] in decisions  # came back
    came_back = decisions.index([1, True, True])
    assert decisions[came_back + 1 :] == []  # its mixed group cleared the prediction
    generated = [index for step in buffer_run["steps"] for index in step["generated"]]
    assert generated.count(1) >= 2


def test_refills_stop_at_max_num_gen_batches_with_a_message_naming_it(buffer_run):
    assert buffer_run["cap_error"] and "max_num_gen_batches=4" in buffer_run["cap_error"]
    assert buffer_run["generated_under_cap"] <= CAP * BATCH


# ---- verl's whole trainer on CPU (tests/test_cpu_e2e.py's set-up), the skip on


def test_the_trainer_skips_prompts_whose_groups_taught_nothing_and_counts_what_it_saved(tmp_path):
    """3 GRPO steps of the random tiny model (every answer wrong) over 8 prompts, 4 a step: from step 3 each
    prompt has had an all-wrong group, so it is skipped unless its return draw (0.5) lets it through."""
    from test_cpu_e2e import _metric_values, _records

    from verl_ccrl.integration.cpu.run_smoke import run_smoke

    steps, batch, n = 3, 4, 4
    overrides = ["data.train_max_samples=8", "masa.skip_predicted_zero_variance=True", "masa.skip_history=1"]
    overrides += ["masa.skip_return_prob=0.5"]
    result = run_smoke(str(tmp_path / "run"), estimator="grpo", steps=steps, extra_overrides=overrides, timeout=900)
    log_text = Path(result.log_path).read_text()
    assert result.returncode == 0 and f"step:{steps} -" in log_text, log_text[-6000:]

    skipped = _metric_values(log_text, "masa/skipped_prompts")
    assert skipped[:2] == [0.0, 0.0] and skipped[2] > 0  # the first 8 prompts are new
    assert _metric_values(log_text, "masa/rollouts_saved") == [value * n for value in skipped]
    # No filter: each step generates exactly its batch, whatever was skipped; every response is counted once.
    assert _metric_values(log_text, "masa/generated_responses") == [float(batch * n)] * steps
    records = _records(Path(result.run_dir))
    assert len(records) == steps * batch * n
    tokens = _metric_values(log_text, "masa/generated_tokens")
    assert sum(tokens) == sum(len(record["response_ids"]) for record in records)
    assert _metric_values(log_text, "masa/filtered_groups") == [0.0] * steps


# ---- the measurement script (benchmarks/masa_toy.py), on made-up logs


def _write_run(directory: Path, variant: str, seed: int, points: list[tuple[float, float | None]], accuracy: float):
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    lines = []
    for step, (tokens, val_acc) in enumerate(points, start=1):
        data = {
            "masa/generated_tokens": tokens,
            "timing_s/step": 10.0,
            "masa/skipped_prompts": 1.0,
            "masa/filtered_groups": 2.0,
        }
        if val_acc is not None:
            data["val-core/ccrl/toy_world/acc/mean@1"] = val_acc  # the key as verl writes it for the toy world
        lines.append(json.dumps({"step": step, "data": data}))
    (directory / "logs" / f"toy_{variant}_seed{seed}.jsonl").write_text("\n".join(lines) + "\n")
    (directory / "results").mkdir(exist_ok=True)
    labels = {"ccrl": "CoMT+CCRL", "outcome": "CoMT+outcome-RL"}
    run = {"schema": RUN_SCHEMA, "method": labels[variant], "model_name": "toy-qwen2", "benchmark": "toy_id",
           "seed": seed, "metrics": {"accuracy": accuracy, "calibration": {"overconfident_error_rate@0.9": 0.1}}}  # fmt: skip
    (directory / "results" / f"{variant}{seed}.json").write_text(json.dumps(run))


def test_the_measurement_counts_tokens_to_the_baselines_final_accuracy(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    # Baseline: 100 tokens a step, reaches its final 0.6 at step 4 (400 tokens). Filtered: 50 a step, 0.6 at step 4.
    _write_run(tmp_path / "off", "ccrl", 1, [(100, 0.2), (100, 0.4), (100, 0.5), (100, 0.6)], 60.0)
    _write_run(tmp_path / "filter", "ccrl", 1, [(50, 0.3), (50, 0.5), (50, None), (50, 0.7)], 61.0)
    rows, text = masa_toy.measure({"off": tmp_path / "off", "filter": tmp_path / "filter"}, "off", 0.9)
    row = next(row for row in rows if row["setting"] == "filter")
    assert row["target"] == 0.6 and row["tokens_to_target"] == 200 and row["token_speedup"] == 2.0
    assert row["wall_speedup"] == 1.0 and row["final_accuracy"] == 61.0 and row["overconfident_error"] == 0.1
    assert row["skipped_prompts"] == 4 and row["filtered_groups"] == 8  # per step, summed over the run
    line = next(line for line in text.splitlines() if line.startswith("| ccrl | filter | 1/1 |"))
    assert line.endswith("| 0.5 +- 0 | n/a |")  # half the baseline's generated tokens; one seed: no interval


@pytest.mark.parametrize(
    "second_seed_filter_tokens, met",
    [(50, "yes"),  # half the tokens to target in both seeds
     (200, "no")],  # 2x in seed 1, 0.5x in seed 2: a mean speed-up of 1.25, but no fewer tokens seed by seed
)  # fmt: skip
def test_the_goal_needs_fewer_tokens_seed_by_seed_beyond_the_interval(second_seed_filter_tokens, met, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    for seed in (1, 2):
        _write_run(tmp_path / "off", "ccrl", seed, [(100, 0.2), (100, 0.4), (100, 0.5), (100, 0.6)], 60.0)
    _write_run(tmp_path / "filter", "ccrl", 1, [(50, 0.3), (50, 0.5), (50, None), (50, 0.7)], 61.0)
    tokens = second_seed_filter_tokens
    _write_run(tmp_path / "filter", "ccrl", 2, [(tokens, 0.3), (tokens, 0.5), (tokens, 0.5), (tokens, 0.7)], 61.0)
    _, text = masa_toy.measure({"off": tmp_path / "off", "filter": tmp_path / "filter"}, "off", 0.9)
    assert next(line for line in text.splitlines() if line.startswith("| ccrl | filter |")).endswith(f"| {met} |")


def test_a_target_already_met_at_the_start_counts_as_reached_with_no_speed_up(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    # Validation before training (step 0, no tokens yet) already at the baseline's final 0.6.
    _write_run(tmp_path / "off", "ccrl", 1, [(0, 0.6), (100, 0.5), (100, 0.6)], 60.0)
    _write_run(tmp_path / "skip", "ccrl", 1, [(0, 0.6), (100, 0.4), (100, 0.5)], 50.0)
    rows, text = masa_toy.measure({"off": tmp_path / "off", "skip": tmp_path / "skip"}, "off", 0.9)
    row = next(row for row in rows if row["setting"] == "skip")
    assert row["tokens_to_target"] == 0 and row["token_speedup"] is None
    assert any(line.startswith("| ccrl | skip | 1/1 |") for line in text.splitlines())


def test_a_run_that_spends_more_tokens_is_compared_at_the_baselines_budget(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    # Baseline: 200 tokens in all. Filter: 150 a step, so its validation at 150 counts and the one at 300 does not.
    _write_run(tmp_path / "off", "ccrl", 1, [(100, 0.5), (100, 0.6)], 60.0)
    _write_run(tmp_path / "filter", "ccrl", 1, [(150, 0.55), (150, 0.7)], 70.0)
    rows, _ = masa_toy.measure({"off": tmp_path / "off", "filter": tmp_path / "filter"}, "off", 0.9)
    at_budget = {row["setting"]: row["accuracy_at_baseline_tokens"] for row in rows}
    assert at_budget == {"off": 0.6, "filter": 0.55}


def test_the_measurement_gives_each_settings_paired_difference_from_the_baseline_with_an_interval(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    for seed, (base, skip) in enumerate([(60.0, 64.0), (62.0, 65.0), (61.0, 66.0)], start=1):
        _write_run(tmp_path / "off", "outcome", seed, [(100, 0.5), (100, 0.6)], base)
        _write_run(tmp_path / "skip", "outcome", seed, [(100, 0.5), (100, 0.7)], skip)
    _, text = masa_toy.measure({"off": tmp_path / "off", "skip": tmp_path / "skip"}, "off", 0.9)
    row = next(line for line in text.splitlines() if line.startswith("| outcome | skip | +4 ["))
    # Differences 4, 3, 5: mean 4, sd 1, t(2) = 4.303: 4 +- 2.48, above 0.
    assert "+4 [+1.52, +6.48] (n=3) **\\***" in row
    assert "| +0 [+0, +0] (n=3) | +0 [+0, +0] (n=3) |" in row  # same tokens, same seconds a step


def test_the_plan_validates_during_training_and_starts_every_setting_from_one_checkpoint():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    commands = masa_toy.plan("o", "quick", "1 2 3", 5, 160, "outcome", "sft_dir", 1).splitlines()
    assert len(commands) == len(masa_toy.SETTINGS)
    assert all(
        "TEST_FREQ=5 SKIP_HISTORY=1" in c and c.startswith("SFT_MODEL=sft_dir ") and 'VARIANTS="outcome"' in c
        for c in commands
    )
    assert any("ZERO_VARIANCE_FILTER=outcome SKIP_PREDICTED_ZERO_VARIANCE=1" in command for command in commands)
    assert all(command.endswith("bash recipes/toy_world.sh") for command in commands)


def test_the_plan_runs_the_plain_twin_from_a_checkpoint_it_must_be_given():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import masa_toy

    commands = masa_toy.plan("o", "quick", "1", 5, 160, "outcome", "sft_dir", 1, runner="plain").splitlines()
    assert all(command.endswith("bash recipes/toy_world_plain.sh") for command in commands)
    assert all("RL_TOTAL_STEPS=40 ACTOR_LR=2e-4" in command for command in commands)  # the short regime
    long = masa_toy.plan("o", "long", "1", 8, 320, "outcome", "sft_dir", 1, runner="plain", regime="long")
    assert "RL_TOTAL_STEPS" not in long and "ACTOR_LR" not in long and "PRESET=long" in long
    with pytest.raises(ValueError, match="--sft-model"):
        masa_toy.plan("o", "quick", "1", 5, 160, "outcome", "", 1, runner="plain")


def test_the_trainer_filters_all_wrong_groups_on_the_outcome_and_stops_at_the_refill_cap(tmp_path):
    """verl's whole trainer, the filter on ccrl_outcome as the recipes set it: the random tiny model answers every
    problem wrong, so verl's replay buffer evicts every group it reads from the ccrl manager's records and refills
    until max_num_gen_batches, where the step fails naming the fix instead of refilling forever."""
    from test_cpu_e2e import _records

    from verl_ccrl.integration.cpu.run_smoke import run_smoke

    batch, n, cap = 4, 4, 2
    overrides = ["algorithm.filter_groups.enable=True", f"algorithm.filter_groups.metric={OUTCOME_METRIC}"]
    overrides += [f"algorithm.filter_groups.max_num_gen_batches={cap}"]
    result = run_smoke(str(tmp_path / "run"), estimator="grpo", steps=2, extra_overrides=overrides, timeout=900)
    log_text = Path(result.log_path).read_text()
    # (verl's own warning that V1 ignores the key names it too: the cap's message is the trainer's.)
    assert result.returncode != 0 and "the zero-variance filter has asked for" in log_text, log_text[-6000:]
    assert f"max_num_gen_batches={cap} batches allow" in log_text
    assert "step:1 -" not in log_text  # no update ran on a filtered group
    records = _records(Path(result.run_dir))
    assert records and all(record["reward_extra_info"][OUTCOME_METRIC] == 0.0 for record in records)
    assert len(records) <= cap * batch * n and len(records) % n == 0
