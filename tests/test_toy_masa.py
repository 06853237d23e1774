"""MASA's switches in the plain GRPO twin (toy_world/masa_batches.py), with scripted groups and on the tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from toy_world.masa_batches import Group, MasaBatches
from verl_ccrl.masa import MasaConfig

BASE_MODEL = str(Path(__file__).resolve().parents[1] / "toy_world" / "checkpoints" / "base")


class ScriptedRollout:
    """generate(prompts, rng): each prompt's group has the correctness the script gives it (default mixed)."""

    def __init__(self, script: dict | None = None, default=(True, False)):
        self.script = script or {}
        self.default = default
        self.calls: list[tuple[list, object]] = []

    def __call__(self, prompts, rng):
        self.calls.append((list(prompts), rng))
        groups = []
        for prompt in prompts:
            correct = list(self.script.get(prompt, self.default))
            groups.append(Group(prompt, rewards=[float(value) for value in correct], correct=correct, tokens=10))
        return groups


def batches(*, filter_metric="outcome", skip=False, return_prob=0.0, prompts=range(40), max_gen_batches=10):
    config = MasaConfig(skip_predicted_zero_variance=skip, skip_history=1, skip_return_prob=return_prob)
    return MasaBatches(prompts, config, filter_metric=filter_metric, max_gen_batches=max_gen_batches, seed=1)


def test_the_filter_trains_on_a_full_batch_of_mixed_groups_refilling_two_prompts_per_eviction():
    rollout = ScriptedRollout({0: (True, True), 1: (False, False)})
    masa = batches()
    kept = masa.step_groups([0, 1, 2, 3], rollout, batch_size=4)
    assert [group.prompt for group in kept[:2]] == [2, 3] and len(kept) == 4
    assert all(any(group.correct) and not all(group.correct) for group in kept)
    assert len(rollout.calls[1][0]) == 4  # two evictions, four refill prompts
    counts = masa.take_counts()
    assert (counts["filtered_all_correct"], counts["filtered_all_wrong"], counts["refill_prompts"]) == (1, 1, 4)
    assert counts["discarded_groups"] == 2  # 2 kept + 4 refilled, 4 trained on


@pytest.mark.parametrize("seed", range(5))
def test_every_generated_group_is_trained_on_filtered_or_discarded(seed):
    rng = random.Random(seed)
    outcomes = [(True, True), (False, False), (True, False)]
    rollout = ScriptedRollout({prompt: rng.choice(outcomes) for prompt in range(40)})
    masa = batches()
    kept = masa.step_groups(list(range(8)), rollout, batch_size=8)
    counts = masa.take_counts()
    assert counts["generated_groups"] == len(kept) + counts["filtered_groups"] + counts["discarded_groups"]
    assert counts["generated_groups"] == 8 + counts["refill_prompts"]
    assert counts["generated_tokens"] == 10 * counts["generated_groups"]


def test_no_prompt_is_generated_twice_in_one_step():
    rollout = ScriptedRollout({prompt: (True, True) for prompt in range(0, 40, 2)})
    batches().step_groups([0, 1, 2, 3], rollout, batch_size=4)
    generated = [prompt for prompts, _ in rollout.calls for prompt in prompts]
    assert len(generated) == len(set(generated))


def test_refills_sample_from_the_switches_own_stream_and_the_batch_from_the_callers():
    rollout = ScriptedRollout({0: (True, True)})
    masa = batches()
    masa.step_groups([0, 1], rollout, batch_size=2)
    assert rollout.calls[0][1] is None and rollout.calls[1][1] is masa.rng


def test_the_reward_filter_keeps_a_group_whose_answers_agree_but_whose_rewards_differ():
    masa = batches(filter_metric="reward")
    group = Group(0, rewards=[1.2, 0.9], correct=[True, True], tokens=10)
    assert masa.step_groups([0], lambda prompts, rng: [group], batch_size=1) == [group]
    assert masa.take_counts()["filtered_groups"] == 0


def test_with_the_filter_off_uniform_groups_are_trained_on():
    rollout = ScriptedRollout(default=(True, True))
    masa = batches(filter_metric="off")
    assert len(masa.step_groups([0, 1], rollout, batch_size=2)) == 2 and len(rollout.calls) == 1


def test_refills_stop_at_max_gen_batches_with_a_message_naming_it():
    rollout = ScriptedRollout(default=(False, False))
    with pytest.raises(RuntimeError, match="--max-gen-batches"):
        batches(max_gen_batches=3).step_groups([0, 1], rollout, batch_size=2)
    generated = sum(len(prompts) for prompts, _ in rollout.calls)
    assert generated <= 3 * 2


def test_a_held_back_prompt_is_replaced_so_the_batch_stays_full():
    masa = batches(filter_metric="off", skip=True)
    masa.observe(0, [True, True])
    chosen = masa.admitted([0, 1])
    assert len(chosen) == 2 and 0 not in chosen and 1 in chosen and len(set(chosen)) == 2
    assert masa.take_counts()["skipped_prompts"] == 1


def test_a_held_back_prompt_that_wins_the_return_draw_is_generated_and_counted():
    masa = batches(filter_metric="off", skip=True, return_prob=1.0)
    masa.observe(0, [False, False])
    assert masa.admitted([0]) == [0]
    counts = masa.take_counts()
    assert (counts["skipped_prompts"], counts["returned_prompts"]) == (0, 1)


def test_with_the_skip_off_no_prompt_is_held_back_or_counted_as_returned():
    masa = batches(filter_metric="off")
    masa.observe(0, [True, True])
    assert masa.admitted([0]) == [0]
    counts = masa.take_counts()
    assert (counts["skipped_prompts"], counts["returned_prompts"]) == (0, 0)


def test_refill_prompts_go_through_the_skip():
    masa = batches(skip=True, prompts=range(4))
    masa.observe(2, [True, True])  # held back whenever it comes up (no return)
    rollout = ScriptedRollout({0: (True, True)})
    masa.step_groups([0, 1], rollout, batch_size=2)  # one eviction: both other prompts are drawn to refill
    assert masa.take_counts()["skipped_prompts"] >= 1


# ---- the twin itself, on the tiny model


def twin_log(capsys, *extra):
    pytest.importorskip("torch")
    from toy_world.grpo import main

    main(["--model", BASE_MODEL, "--steps", "2", "--prompts", "2", "--samples", "2", "--max-new-tokens", "8",
          "--eval-n", "0", "--n-problems", "4", *extra])  # fmt: skip
    return [json.loads(line)["data"] for line in capsys.readouterr().out.splitlines()]


def test_the_twin_logs_the_masa_counts_every_step_with_the_switches_off(capsys):
    for metrics in twin_log(capsys):
        assert metrics["masa/generated_groups"] == 2 and metrics["masa/generated_responses"] == 4
        assert metrics["masa/skipped_prompts"] == 0 and metrics["masa/filtered_groups"] == 0


def test_the_skip_changes_nothing_until_a_prompt_comes_round(capsys):
    off = twin_log(capsys, "--n-problems", "1000")
    skip = twin_log(capsys, "--n-problems", "1000", "--skip", "--skip-history", "1")
    assert [m["actor/grad_norm"] for m in off] == [m["actor/grad_norm"] for m in skip]
