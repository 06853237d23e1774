"""The ``ccrl`` reward manager through verl's real DataProto and reward-loop classes."""

import asyncio
import logging
import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.trainer.ppo.reward import load_reward_manager, resolve_reward_manager_cls

from verl_ccrl import score_response
from verl_ccrl.integration import reward_manager as reward_manager_module
from verl_ccrl.integration.reward_manager import REWARD_EXTRA_KEYS, CCRLRewardManager
from verl_ccrl.metrics import reward_info_metrics
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


def agent_loop_sample(
    tokenizer, response, *, entropies="auto", extra_info=None, ground_truth="59", extra_fields=None, bad_ids=()
):
    """One sample shaped as verl's agent loop hands it to the reward loop (agent_loop.py, _compute_score).
    ``bad_ids`` go before the response's ids; ``extra_fields`` replaces the rollout's fields (entropies included)."""
    prompt_ids = tokenizer.encode("Solve it.", add_special_tokens=False)
    response_ids = [*bad_ids, *tokenizer.encode(response, add_special_tokens=False), tokenizer.eos_token_id]
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
            "reward_model": np.array([{"style": "rule", "ground_truth": ground_truth}], dtype=object),
            "extra_info": np.array([extra_info if extra_info is not None else {"question": PROBLEM}], dtype=object),
            "tool_extra_fields": np.array([fields if extra_fields is None else extra_fields], dtype=object),
        },
    )
    return data, response_ids, fields.get("ccrl_entropies")


@pytest.fixture(autouse=True)
def verify_worker_starts(monkeypatch):
    """The manager's constructor starts the math-verify worker; here it is recorded instead (its own tests start
    it), and each test gets its own warn-once memory."""
    starts = []
    monkeypatch.setattr(reward_manager_module, "start_verify_worker", lambda: starts.append(True))
    monkeypatch.setattr(CCRLRewardManager, "_warned", set())
    return starts


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


def test_building_the_manager_starts_the_math_verify_worker(loop, single_digit_tokenizer, verify_worker_starts):
    load_reward_manager(trainer_config(), single_digit_tokenizer)
    assert verify_worker_starts == [True]


def test_a_worker_that_cannot_start_does_not_stop_the_manager(loop, single_digit_tokenizer, monkeypatch, caplog):
    def refuse():
        raise OSError("no fork here")

    monkeypatch.setattr(reward_manager_module, "start_verify_worker", refuse)
    with caplog.at_level(logging.WARNING):
        manager = load_reward_manager(trainer_config(), single_digit_tokenizer)
    assert isinstance(manager, CCRLRewardManager) and "no fork here" in caplog.text


def test_answer_type_from_extra_info_reaches_the_score(manager, single_digit_tokenizer):
    # A text answer's item gets the outcome reward and no number terms (answer.py); "58" compared as text.
    extra = {"question": PROBLEM, "answer_type": "text"}
    data, _, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, extra_info=extra, ground_truth="58")
    result = run(manager, data)
    assert result["reward_score"] == 1.0 and result["reward_extra_info"]["ccrl_n_in_reward"] == 0


# --- Honest degradation: a malformed field costs the confidence term, never the step, and is always counted. ---

RIGHT = "58"  # RESPONSE's final answer: the outcome reward is 1.0, and the full reward has a confidence term


def outcome_only(response_ids, tokenizer, ground_truth=RIGHT):
    """The outcome-only reward of the text the manager decodes from the usable ids."""
    text = tokenizer.decode([i for i in response_ids if 0 <= i < len(tokenizer)], skip_special_tokens=True)
    return score_response(PROBLEM, text, ground_truth).outcome


def assert_degraded(result, expected, caplog, *, warned, flag="malformed_input", metric="ccrl/malformed_inputs"):
    info = result["reward_extra_info"]
    assert result["reward_score"] == expected
    assert any(warned in record.getMessage() for record in caplog.records), [r.getMessage() for r in caplog.records]
    assert getattr(decode(info), flag) is True
    assert reward_info_metrics([info])[metric] == 1.0
    assert tuple(info) == REWARD_EXTRA_KEYS


def test_the_clean_sample_of_the_tables_gets_more_than_its_outcome(manager, single_digit_tokenizer):
    # 84 - 25 = 58 is wrong arithmetic under a right final answer: the confidence term is negative.
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT)
    result = run(manager, data)
    assert result["reward_extra_info"]["ccrl_confidence_term"] != 0.0
    assert outcome_only(response_ids, single_digit_tokenizer) == 1.0 != result["reward_score"]
    assert reward_info_metrics([result["reward_extra_info"]])["ccrl/malformed_inputs"] == 0.0


MALFORMED_FIELDS = {
    # name: (agent_loop_sample keywords, the field the warning names)
    "question NaN": ({"extra_info": {"question": math.nan}}, "extra_info.question"),
    "question int": ({"extra_info": {"question": 7}}, "extra_info.question"),
    "reference NaN": ({"extra_info": {"question": PROBLEM, "reference": math.nan}}, "extra_info.reference"),
    "reference int": ({"extra_info": {"question": PROBLEM, "reference": 84}}, "extra_info.reference"),
    "reference_values a float": (
        {"extra_info": {"question": PROBLEM, "reference_values": 84.0}},
        "extra_info.reference_values",
    ),
    "reference_values a string": (
        {"extra_info": {"question": PROBLEM, "reference_values": "84"}},
        "extra_info.reference_values",
    ),
    "answer_type an int": ({"extra_info": {"question": PROBLEM, "answer_type": 3}}, "extra_info.answer_type"),
    "extra_info a string": ({"extra_info": "A farm has 14 pens"}, "extra_info: a str"),
    "extra_fields a string": ({"extra_fields": "ccrl_entropies"}, "extra_fields: a str"),
    "a negative token id": ({"bad_ids": (-1,)}, "response ids"),
    "a token id past the vocabulary": ({"bad_ids": (10**6,)}, "response ids"),
}


@pytest.mark.parametrize("keywords, field", MALFORMED_FIELDS.values(), ids=MALFORMED_FIELDS.keys())
def test_a_malformed_field_gives_the_outcome_reward_a_warning_and_a_count(
    manager, single_digit_tokenizer, caplog, keywords, field
):
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT, **keywords)
    with caplog.at_level(logging.WARNING):
        result = run(manager, data)
    assert_degraded(result, outcome_only(response_ids, single_digit_tokenizer), caplog, warned=field)
    assert decode(result["reward_extra_info"]).numbers == ()  # nothing for the trainer to rescore either


@pytest.mark.parametrize("ground_truth", [None, math.nan, math.inf, "  ", True, ["58"]], ids=repr)
def test_an_unusable_ground_truth_makes_no_answer_correct(manager, single_digit_tokenizer, caplog, ground_truth):
    data, _, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=ground_truth)
    with caplog.at_level(logging.WARNING):
        result = run(manager, data)
    assert_degraded(result, 0.0, caplog, warned="reward_model.ground_truth")


def test_a_none_ground_truth_is_not_the_text_none(manager, single_digit_tokenizer):
    data, _, _ = agent_loop_sample(single_digit_tokenizer, "No answer exists. #### None", ground_truth=None)
    assert run(manager, data)["reward_score"] == 0.0


def test_an_int_ground_truth_is_read_as_its_numeral(manager, single_digit_tokenizer):
    data, _, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=np.int64(58))
    as_int, as_text = (
        run(manager, data),
        run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth="58")[0]),
    )
    assert as_int == as_text and as_int["reward_extra_info"]["ccrl_malformed_input"] == 0.0


def test_an_id_too_large_for_a_c_long_is_dropped_not_a_crash(manager, single_digit_tokenizer, caplog):
    ids = single_digit_tokenizer.encode(RESPONSE, add_special_tokens=False)
    with caplog.at_level(logging.WARNING):
        result = manager.score([2**70, *ids], RIGHT, {"question": PROBLEM})
    assert_degraded(result, outcome_only(ids, single_digit_tokenizer), caplog, warned="response ids")


MALFORMED_ENTROPIES = {
    "a scalar": (0.5, "ccrl_entropies: a float"),
    "a string": ("0.1 0.2", "ccrl_entropies: a str"),
    "not numbers": (["low"] * 40, "not all numbers"),
    "the wrong length": ([0.1, 0.2], "entropies for"),
}


@pytest.mark.parametrize("entropies, warned", MALFORMED_ENTROPIES.values(), ids=MALFORMED_ENTROPIES.keys())
def test_malformed_entropies_cost_the_confidence_term_only_and_are_counted(
    manager, single_digit_tokenizer, caplog, entropies, warned
):
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT, entropies=entropies)
    with caplog.at_level(logging.WARNING):
        result = run(manager, data)
    assert_degraded(result, outcome_only(response_ids, single_digit_tokenizer), caplog, warned=warned)
    record = decode(result["reward_extra_info"])
    assert record.missing_entropies and record.numbers  # verdicts kept: the trainer can rescore from the actor's


def number_token(tokenizer, response_ids, digit="8"):
    return next(index for index, token in enumerate(response_ids) if tokenizer.decode([token]).strip() == digit)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0], ids=repr)
def test_a_nan_entropy_at_a_number_is_counted_not_dropped(manager, single_digit_tokenizer, caplog, value):
    _, response_ids, entropies = agent_loop_sample(single_digit_tokenizer, RESPONSE)
    entropies = list(entropies)
    entropies[number_token(single_digit_tokenizer, response_ids)] = value  # the 8 of "84"
    data, _, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT, entropies=entropies)
    with caplog.at_level(logging.WARNING):
        result = run(manager, data)
    assert_degraded(result, outcome_only(response_ids, single_digit_tokenizer), caplog, warned="NaN, inf or negative")
    record = decode(result["reward_extra_info"])
    assert record.missing_entropies and record.numbers and all(n.confidence is None for n in record.numbers)
    assert reward_info_metrics([result["reward_extra_info"]])["ccrl/missing_entropies_share"] == 1.0


def test_a_nan_entropy_away_from_the_numbers_changes_nothing(manager, single_digit_tokenizer):
    data, _, entropies = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT)
    clean = run(manager, data)
    entropies = [*entropies[:-1], math.nan]  # the end-of-sequence token
    dirty = run(
        manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT, entropies=entropies)[0]
    )
    assert dirty["reward_score"] == clean["reward_score"] and dirty["reward_extra_info"]["ccrl_malformed_input"] == 0.0


def test_a_bounded_response_is_counted(manager, single_digit_tokenizer):
    response = "14 * 6 = 84 goats and 2 * 3 = 1e9999999. #### 58"
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, response, ground_truth=RIGHT)
    info = run(manager, data)["reward_extra_info"]
    assert decode(info).bounded and reward_info_metrics([info])["ccrl/bounded_responses"] == 1.0
    assert info["ccrl_confidence_term"] == 0.0 and info["ccrl_outcome"] == 1.0


def test_an_error_inside_scoring_gives_the_outcome_logs_its_traceback_once_and_is_counted(
    manager, single_digit_tokenizer, caplog, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the scorer")

    monkeypatch.setattr(reward_manager_module, "score_response", broken)
    data, response_ids, _ = agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT)
    with caplog.at_level(logging.WARNING):
        first, second = run(manager, data), run(manager, data)
    assert first == second
    assert_degraded(
        first,
        outcome_only(response_ids, single_digit_tokenizer),
        caplog,
        warned="scoring a response raised",
        flag="scoring_error",
        metric="ccrl/scoring_errors",
    )
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1 and "a bug in the scorer" in str(logged[0].exc_info[1])


def test_an_error_before_the_outcome_is_known_gives_zero_and_is_counted(manager, single_digit_tokenizer, monkeypatch):
    class BrokenTokenizer:
        def decode(self, *args, **kwargs):
            raise RuntimeError("a broken tokenizer")

    monkeypatch.setattr(manager, "tokenizer", BrokenTokenizer())
    result = run(manager, agent_loop_sample(single_digit_tokenizer, RESPONSE, ground_truth=RIGHT)[0])
    assert result["reward_score"] == 0.0 and decode(result["reward_extra_info"]).scoring_error
