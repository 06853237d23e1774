"""data_prep.outputs: the parquet files load in verl 0.9.1's own SFT and RL datasets, with the contract's columns."""

from __future__ import annotations

import pandas as pd
import pytest

from data_prep.outputs import cot_target, target_token_stats, write_eval_parquet, write_rl_parquet, write_sft_parquet
from data_prep.prompts import STUDENT_INSTRUCTION
from data_prep.records import Record

RECORDS = [
    Record(
        "0",
        "gsm8k",
        "train",
        "A pond has 14 ducks and 9 fly away. How many ducks stay?",
        "5",
        "14 - 9 = <<14-9=5>>5 ducks stay.\n#### 5",
        ("5",),
    ),
    Record(
        "1",
        "reasoning_gym_gsm",
        "train",
        "Rea bakes 3 trays of 12 buns and sells 3/4 of them. How many are sold?",
        "27",
        "3 * 12 = 36 buns. 36 * 3/4 = 27.\n#### 27",
        ("36", "27"),
    ),
]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    tiny_model = pytest.importorskip("verl_ccrl.integration.cpu.tiny_model")
    return tiny_model.build_tiny_tokenizer()


def test_rl_parquet_has_the_contract_columns(tmp_path):
    frame = pd.read_parquet(write_rl_parquet(RECORDS, str(tmp_path / "rl.parquet")))
    assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    row = frame.iloc[1]
    assert row["data_source"] == "ccrl/reasoning_gym_gsm" and frame.iloc[0]["data_source"] == "openai/gsm8k"
    assert list(row["prompt"]) == [{"role": "user", "content": RECORDS[1].question + "\n\n" + STUDENT_INSTRUCTION}]
    assert row["ability"] == "math" and dict(row["reward_model"]) == {"style": "rule", "ground_truth": "27"}
    info = row["extra_info"]
    assert info["question"] == RECORDS[1].question and info["reference"] == RECORDS[1].reference
    assert list(info["reference_values"]) == ["36", "27"] and info["index"] == 1
    assert (info["split"], info["source"]) == ("train", "reasoning_gym_gsm")


def test_comt_and_cot_sft_rows_differ_only_in_the_target(tmp_path):
    comt = pd.read_parquet(write_sft_parquet([(r, "total = a * b") for r in RECORDS], str(tmp_path / "c.parquet")))
    cot = pd.read_parquet(write_sft_parquet([(r, cot_target(r)) for r in RECORDS], str(tmp_path / "t.parquet")))
    for left, right in zip(comt["messages"], cot["messages"]):
        assert [m["role"] for m in left] == ["user", "assistant"] and left[0] == right[0]
    assert cot["messages"][0][1]["content"] == "14 - 9 = 5 ducks stay.\n#### 5"  # calculator annotations removed


def test_sft_parquet_loads_in_verls_multiturn_sft_dataset(tmp_path, tiny_tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    path = write_sft_parquet([(r, "total = a * b") for r in RECORDS], str(tmp_path / "sft.parquet"))
    config = OmegaConf.create(
        {"messages_key": "messages", "max_length": 512, "truncation": "error", "pad_mode": "no_padding"}
    )
    dataset = MultiTurnSFTDataset(path, tiny_tokenizer, config)
    item = dataset[0]
    assert len(dataset) == 2
    assert int(item["loss_mask"].sum()) > 0  # the assistant target is trained on


def test_rl_parquet_loads_in_verls_rlhf_dataset(tmp_path, tiny_tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    path = write_eval_parquet(RECORDS, str(tmp_path / "eval.parquet"))
    config = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 256,
            "filter_overlong_prompts": False,
            "cache_dir": str(tmp_path / "cache"),
            "return_raw_chat": True,
        }
    )
    dataset = RLHFDataset(path, tiny_tokenizer, config)
    item = dataset[1]
    assert item["extra_info"]["question"] == RECORDS[1].question
    assert item["reward_model"]["ground_truth"] == "27" and item["data_source"] == "ccrl/reasoning_gym_gsm"


def test_target_lengths_are_counted_in_student_tokens(tiny_tokenizer):
    stats = target_token_stats(["total = a * b", "x"], tiny_tokenizer)
    assert stats["unit"] == "tokens" and stats["n"] == 2 and stats["mean"] > 1
    assert target_token_stats(["one two three"])["mean"] == 3


def test_an_empty_output_is_refused_rather_than_written(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        write_rl_parquet([], str(tmp_path / "empty.parquet"))
    assert not (tmp_path / "empty.parquet").exists()
