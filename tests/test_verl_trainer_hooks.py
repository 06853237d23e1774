"""CCRL's trainer hooks, config and rollout pieces that need no Ray cluster."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from omegaconf import OmegaConf

from verl_ccrl import CCRLConfig
from verl_ccrl.entropy import entropies_from_position_logprobs
from verl_ccrl.integration.trainer import check_entropy_channel, check_step_budget
from verl_ccrl.metrics import reward_info_metrics
from verl_ccrl.reward_info import JudgedNumber, RewardInfo, encode

CONFIG_YAML = Path(__file__).resolve().parents[1] / "verl_ccrl" / "integration" / "config" / "ccrl_trainer.yaml"


def base_config(**overrides):
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {"multi_turn": {"enable": False}, "agent": {"default_agent_loop": "single_turn_agent"}}
            },
            "reward": {"reward_model": {"enable": False, "enable_resource_pool": False}},
            "algorithm": {"rollout_correction": {"bypass_mode": False}},
            "ccrl": {},
        }
    )
    for key, value in overrides.items():
        OmegaConf.update(config, key, value)
    return config


def test_single_turn_streaming_reward_setup_passes():
    check_entropy_channel(base_config())


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("actor_rollout_ref.rollout.multi_turn.enable", True, "multi_turn.enable=False"),
        ("actor_rollout_ref.rollout.agent.default_agent_loop", "tool_agent", "single_turn_agent"),
        ("reward.reward_model.enable", True, "enable_resource_pool=True"),
    ],
)
def test_setups_that_lose_the_entropies_fail_at_start_up_saying_what_to_change(key, value, words):
    with pytest.raises(ValueError, match=words):
        check_entropy_channel(base_config(**{key: value}))


def test_actor_entropies_under_bypass_mode_fail_at_start_up():
    config = base_config(**{"ccrl.entropy_source": "actor", "algorithm.rollout_correction.bypass_mode": True})
    with pytest.raises(ValueError, match="bypass_mode"):
        check_entropy_channel(config)


def test_the_default_entropy_source_under_bypass_mode_fails_at_start_up_too():
    with pytest.raises(ValueError, match="bypass_mode"):
        check_entropy_channel(base_config(**{"algorithm.rollout_correction.bypass_mode": True}))


@pytest.mark.parametrize(
    "total_training_steps, total_epochs, dataset_size",
    [(40, 1, 1000), (40, 10, 64), (None, 1, 64), (62, 1, 1000)],
    ids=["one epoch holds the steps", "ten epochs of four steps", "the epochs decide", "exactly one epoch"],
)
def test_a_step_count_the_epochs_hold_passes(total_training_steps, total_epochs, dataset_size):
    check_step_budget(total_training_steps, total_epochs, dataset_size, train_batch_size=16)


def test_a_step_count_the_epochs_would_cut_short_fails_naming_both_fixes():
    with pytest.raises(ValueError) as error:
        check_step_budget(40, total_epochs=1, dataset_size=64, train_batch_size=16)
    assert "ends the run after 4 steps" in str(error.value)
    assert "trainer.total_epochs=10" in str(error.value) and "trainer.total_training_steps=4" in str(error.value)


def test_fewer_prompts_than_one_batch_fail_naming_the_batch_size():
    with pytest.raises(ValueError, match="data.train_batch_size=16"):
        check_step_budget(None, total_epochs=1, dataset_size=15, train_batch_size=16)


def test_step_metrics_aggregate_over_all_responses():
    judged = (JudgedNumber((3,), "correct", 0.95, 0.2375), JudgedNumber((7,), "wrong", 0.92, -0.46))
    infos = [
        encode(RewardInfo(True, 1.0, 0.25, n_computed=2, n_unverifiable=0, missing_entropies=False, numbers=judged)),
        encode(RewardInfo(False, 0.0, -0.25, n_computed=2, n_unverifiable=2, missing_entropies=True)),
    ]
    metrics = reward_info_metrics(infos)
    assert metrics["ccrl/outcome_mean"] == 0.5 and metrics["ccrl/confidence_term_mean"] == 0.0
    assert metrics["ccrl/overconfident_error_rate@0.9"] == 1.0 and metrics["ccrl/unverifiable_share"] == 0.5
    assert metrics["ccrl/missing_entropies_share"] == 0.5 and metrics["ccrl/computed_per_response"] == 2.0
    assert "ccrl/ece" in metrics and not any(math.isnan(value) for value in metrics.values())


def test_step_metrics_count_the_responses_whose_reward_degraded():
    infos = [
        encode(RewardInfo(True, 1.0, 0.0, bounded=True)),
        encode(RewardInfo(False, 0.0, 0.0, malformed_input=True, bounded=True)),
        encode(RewardInfo(False, 0.0, 0.0, scoring_error=True)),
        encode(RewardInfo(True, 1.0, 0.0)),
    ]
    metrics = reward_info_metrics(infos)
    assert metrics["ccrl/bounded_responses"] == 2.0
    assert metrics["ccrl/malformed_inputs"] == 1.0 and metrics["ccrl/scoring_errors"] == 1.0
    assert reward_info_metrics(infos[3:])["ccrl/scoring_errors"] == 0.0  # logged as 0, not omitted


def test_step_metrics_skip_what_has_nothing_to_average():
    metrics = reward_info_metrics([encode(RewardInfo(True, 1.0, 0.0))])
    assert "ccrl/overconfident_error_rate@0.5" not in metrics and "ccrl/ece" not in metrics


def test_yaml_ccrl_block_matches_the_config_defaults():
    block = yaml.safe_load(CONFIG_YAML.read_text())["ccrl"]
    defaults = CCRLConfig()
    for key, value in block.items():
        expected = getattr(defaults, key)
        assert (list(expected) if isinstance(expected, tuple) else expected) == value, key
    assert set(block) == set(CCRLConfig.help())


def _logprob(value, rank):
    return SimpleNamespace(logprob=value, rank=rank)


def test_vllm_logprobs_become_entropies_per_position():
    positions = [
        {5: _logprob(math.log(0.5), 1), 9: _logprob(math.log(0.5), 2)},
        {3: _logprob(0.0, 1)},
    ]
    assert entropies_from_position_logprobs(positions, top_k=2) == pytest.approx([math.log(2), 0.0], abs=1e-6)


def test_sampled_token_outside_the_top_k_is_not_used():
    positions = [{1: _logprob(math.log(0.9), 1), 7: _logprob(math.log(0.001), 40)}]
    with_extra = entropies_from_position_logprobs(positions, top_k=1)
    without = entropies_from_position_logprobs([{1: _logprob(math.log(0.9), 1)}], top_k=1)
    assert with_extra == without


def test_position_without_logprobs_gives_nan_so_its_number_gets_no_confidence():
    (entropy,) = entropies_from_position_logprobs([{}], top_k=3)
    assert math.isnan(entropy)


def test_vllm_output_types_are_handled_where_vllm_is_installed():
    logprob_module = pytest.importorskip("vllm.logprobs")
    positions = [
        {
            4: logprob_module.Logprob(logprob=math.log(0.5), rank=1),
            2: logprob_module.Logprob(logprob=math.log(0.5), rank=2),
        }
    ]
    assert entropies_from_position_logprobs(positions, top_k=2) == pytest.approx([math.log(2)], abs=1e-6)


def test_engine_proxy_asks_for_top_k_on_a_copy_and_keeps_the_final_output():
    import asyncio
    import copy

    from verl_ccrl.integration.vllm_rollout import _TopKLogprobEngine

    class Params(SimpleNamespace):
        def clone(self):
            return copy.copy(self)

    class Engine:
        seen = None

        async def generate(self, prompt, sampling_params, request_id):
            Engine.seen = sampling_params
            for step in ("partial", "final"):
                yield step

        def list_loras(self):
            return []

    proxy = _TopKLogprobEngine(Engine(), top_k=20)
    original = Params(logprobs=None)

    async def consume():
        return [output async for output in proxy.generate(prompt="p", sampling_params=original, request_id="r1")]

    assert asyncio.run(consume()) == ["partial", "final"]
    assert Engine.seen.logprobs == 20 and original.logprobs is None  # verl's own params are left as verl set them
    assert proxy.final_outputs == {"r1": "final"}
    assert proxy.list_loras() == []  # everything else goes to the engine


def test_one_switch_turns_on_cpu_mode_before_the_users_overrides():
    from verl_ccrl.integration.main_ppo import with_cpu_mode

    environ = {"VERL_CCRL_CPU": "1"}
    argv = with_cpu_mode(["main_ppo", "actor_rollout_ref.rollout.n=2"], environ)
    assert argv[0] == "main_ppo" and argv[-1] == "actor_rollout_ref.rollout.n=2"
    assert "actor_rollout_ref.rollout.name=hf_cpu" in argv and environ["VERL_PLATFORM"] == "cpu"
    assert with_cpu_mode(["main_ppo", "x=1"], {}) == ["main_ppo", "x=1"]
