"""DRY_RUN: a recipe's full config checked against verl's real schema on a CPU machine."""

import pytest

from verl_ccrl.integration.dry_run import compose, main, validate

# verl insists on micro-batch sizes for every worker; a real recipe sets them.
MICRO_BATCHES = [
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=2",
    "critic.ppo_micro_batch_size_per_gpu=2",
]


def check(kind, *overrides):
    return validate(kind, compose(kind, [*MICRO_BATCHES, *overrides] if kind == "ppo" else list(overrides)))


def test_default_ccrl_config_passes_and_selects_the_ccrl_pieces():
    config = compose("ppo", MICRO_BATCHES)
    assert "actor_rollout_ref.rollout" in validate("ppo", config)
    assert config.reward.reward_manager.name == "ccrl" and config.trainer.v1.trainer_mode == "ccrl"


def test_unknown_key_fails_with_its_name():
    with pytest.raises(Exception, match="ppo_mini_batch_siz"):
        check("ppo", "actor_rollout_ref.actor.ppo_mini_batch_siz=4")


def test_value_of_the_wrong_type_fails_naming_the_field():
    with pytest.raises(ValueError, match="actor_rollout_ref.rollout.temperature='hot'"):
        check("ppo", "actor_rollout_ref.rollout.temperature=hot")


def test_value_a_verl_dataclass_rejects_fails():
    with pytest.raises(ValueError, match="ppo_micro_batch_size_per_gpu"):
        check("ppo", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=null")


def test_bad_ccrl_value_fails():
    with pytest.raises(ValueError, match="ccrl.beta"):
        check("ppo", "ccrl.beta=-2")


def test_unknown_estimator_and_rollout_fail():
    with pytest.raises(ValueError, match="adv_estimator='nonsense'"):
        check("ppo", "algorithm.adv_estimator=nonsense")
    with pytest.raises(ValueError, match="rollout.name='vlm'"):
        check("ppo", "actor_rollout_ref.rollout.name=vlm")


def test_sft_config_is_checked_too():
    assert "optim" in check("sft", "model.path=/nonexistent/model")
    with pytest.raises(ValueError, match="optim.lr='fast'"):
        check("sft", "optim.lr=fast")


def test_cli_reports_failure_with_exit_code_one(capsys):
    assert main(["ppo", "--quiet", *MICRO_BATCHES, "ccrl.alpha=-1"]) == 1
    assert "DRY RUN FAILED" in capsys.readouterr().err
