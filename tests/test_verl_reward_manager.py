"""The ``ccrl`` reward manager through verl's real DataProto and reward-loop classes."""

import asyncio
import logging

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.trainer.ppo.reward import load_reward_manager, resolve_reward_manager_cls

from verl_ccrl import score_response
from verl_ccrl.integration.reward_manager import REWARD_EXTRA_KEYS, CCRLRewardManager
from verl_ccrl.reward_info import decode

PROBLEM = "A farm has 14 pens with 6 goats each. 25 goats are sold. How many goats remain?"
RESPONSE = "14 * 6 = 84 goats. 84 - 25 = 58 goats remain.\n#### 58"


def trainer_config(**ccrl):
    return OmegaConf.create(
        {
            "ccrl": ccrl,
            "reward": {
                "custom_reward_function": {"path": None, "name": "compute_score"},
                "reward_manager": {"source": "register", "name": "ccrl", "module": {"path": None, "name": "x"}},
                "sandbox_fusion": None,
            },
        }
    )


def agent_loop_sample(tokenizer, response, *, entropies="auto", extra_info=None):
    """One sample shaped as verl's agent loop hands it to the reward loop (agent_loop.py, _compute_score)."""
    prompt_ids = tokenizer.encode("Solve it.", add_special_tokens=False)
    response_ids = tokenizer.encode(response, add_special_tokens=False) + [tokenizer.eos_token_id]
    fields = {}
    if entropies == "auto":
        generator = np.random.default_rng(0)
        fields["ccrl_entropies"] = generator.exponential(0.3, size=len(response_ids)).tolist()
    elif entropies is not None:
        fields["ccrl_entropies"] = entropies
    prompts, responses = torch.tensor([prompt_ids]), torch.tensor([response_ids])
    data = DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "attention_mask": torch.ones(1, prompts.shape[1] + responses.shape[1], dtype=torch.int64),
        },
        non_tensors={
            "data_source": np.array(["ccrl_toy"]),
            "reward_model": np.array([{"style": "rule", "ground_truth": "59"}], dtype=object),
            "extra_info": np.array([extra_info if extra_info is not None else {"question": PROBLEM}], dtype=object),
            "tool_extra_fields": np.array([fields], dtype=object),
        },
    )
    return data, response_ids, fields.get("ccrl_entropies")


@pytest.fixture
def loop():
    """One event loop per test: the manager keeps the loop it was built on (RewardManagerBase.__init__)."""
    event_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def manager(loop, single_digit_tokenizer):
    return load_reward_manager(trainer_config(), single_digit_tokenizer)


def run(manager, data):
    return manager.loop.run_until_complete(manager.run_single(data))


def test_ccrl_is_registered_when_verl_is_imported():
    assert get_reward_manager_cls("ccrl") is CCRLRewardManager


def test_ccrl_loads_through_importlib_source_too():
    config = trainer_config()
    config.reward.reward_manager.source = "importlib"
    config.reward.reward_manager.module.path = "pkg://verl_ccrl.integration.reward_manager"
    config.reward.reward_manager.name = "CCRLRewardManager"
    assert resolve_reward_manager_cls(config) is CCRLRewardManager


def test_reward_equals_what_the_core_computes_from_the_same_text_and_entropies(manager, single_digit_tokenizer):
    data, response_ids, entropies = agent_loop_sample(single_digit_tokenizer, RESPONSE)
    result = run(manager, data)
    text = single_digit_tokenizer.decode(response_ids, skip_special_tokens=True)
    spans = manager.aligner.char_spans(response_ids, text)
    expected = score_response(PROBLEM, text, "59", token_spans=spans, entropies=entropies)
    assert result["reward_score"] == pytest.approx(expected.total)
    assert expected.confidence_term != 0.0  # the example exercises the confidence term, not only the outcome
    info = result["reward_extra_info"]
    assert info["ccrl_missing_entropies"] == 0.0 and info["acc"] == 0.0


def test_every_sample_reports_the_same_extra_info_keys(manager, single_digit_tokenizer):
    with_entropies = run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE)[0])
    without = run(manager, agent_loop_sample(single_digit_tokenizer, "no numbers", entropies=None)[0])
    assert tuple(with_entropies["reward_extra_info"]) == tuple(without["reward_extra_info"]) == REWARD_EXTRA_KEYS


def test_missing_entropies_degrade_to_outcome_warn_once_and_are_counted(loop, single_digit_tokenizer, caplog):
    # Rollout entropies are what this run reads (the default, actor, rescores in the trainer and does not warn).
    manager = load_reward_manager(trainer_config(entropy_source="rollout"), single_digit_tokenizer)
    CCRLRewardManager._warned.clear()
    with caplog.at_level(logging.WARNING):
        first = run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, entropies=None)[0])
        run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, entropies=None)[0])
    assert first["reward_score"] == 0.0  # wrong answer, no confidence term
    assert first["reward_extra_info"]["ccrl_missing_entropies"] == 1.0
    assert sum("vllm_ccrl" in record.message for record in caplog.records) == 1


def test_wrong_length_entropies_count_as_missing(manager, single_digit_tokenizer):
    result = run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, entropies=[0.1, 0.2])[0])
    assert result["reward_extra_info"]["ccrl_missing_entropies"] == 1.0


def test_missing_problem_text_falls_back_to_the_user_message_of_raw_prompt(manager, single_digit_tokenizer):
    data, _, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, extra_info={})
    data.non_tensor_batch["raw_prompt"] = np.array([[{"role": "user", "content": PROBLEM}]], dtype=object)
    result = run(manager, data)
    assert result["reward_extra_info"]["ccrl_missing_problem"] == 0.0
    assert result["reward_extra_info"]["ccrl_n_extracted"] == 3


def test_no_problem_text_at_all_degrades_to_outcome(manager, single_digit_tokenizer):
    result = run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, extra_info={})[0])
    info = result["reward_extra_info"]
    assert info["ccrl_missing_problem"] == 1.0 and result["reward_score"] == info["ccrl_outcome"]


def test_token_terms_point_at_the_numbers_tokens(manager, single_digit_tokenizer):
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE)
    info = run(manager, data)["reward_extra_info"]
    terms = decode(info).token_terms()
    assert terms and all(single_digit_tokenizer.decode([response_ids[index]]).strip().isdigit() for index, _ in terms)
    assert sum(term for _, term in terms) == pytest.approx(info["ccrl_confidence_term"])


def test_ccrl_block_is_validated_when_the_manager_is_built(loop, single_digit_tokenizer):
    with pytest.raises(ValueError, match="ccrl.alpha"):
        load_reward_manager(trainer_config(alpha=-1.0), single_digit_tokenizer)


def test_reference_values_from_extra_info_judge_prose_numbers(manager, single_digit_tokenizer):
    extra = {"question": PROBLEM, "reference_values": ["84", "59"]}
    data, _, _ = agent_loop_sample(single_digit_tokenizer, "They have 84 goats.", extra_info=extra)
    info = run(manager, data)["reward_extra_info"]
    assert decode(info).calibration_points()[0][1] == 1
