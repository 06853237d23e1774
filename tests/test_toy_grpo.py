"""The plain-PyTorch GRPO reference of the toy world (toy_world/grpo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from toy_world.grpo import RL_DATA_SEED, group_advantages, main, parse_args, response_reward  # noqa: E402
from toy_world.problems import generate_problems  # noqa: E402

BASE_MODEL = str(Path(__file__).resolve().parents[1] / "toy_world" / "checkpoints" / "base")


def test_advantages_are_rewards_minus_their_group_mean():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    advantages = group_advantages(rewards, 3, std_normalise=False)
    torch.testing.assert_close(advantages, torch.tensor([1 / 3, -2 / 3, 1 / 3, 0.0, 0.0, 0.0]))


def test_std_division_scales_each_group_by_its_own_sample_std():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 1.0])
    advantages = group_advantages(rewards, 2)
    half_root = 0.5**0.5  # (1 - 0.5) / std([1, 0]) and (3 - 2) / std([3, 1])
    torch.testing.assert_close(advantages, torch.tensor([half_root, -half_root, 0.0, 0.0, half_root, -half_root]))


def test_a_step_samples_scores_and_updates(capsys):
    main(["--model", BASE_MODEL, "--steps", "1", "--prompts", "2", "--samples", "2", "--max-new-tokens", "8",
          "--eval-n", "0", "--n-problems", "4"])  # fmt: skip
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    metrics = record["data"]
    assert record["step"] == 1 and 0.0 <= metrics["critic/score/mean"] <= 1.0 and metrics["actor/grad_norm"] >= 0.0
    assert metrics["actor/entropy"] > 0.0  # a model that samples has entropy


def test_the_log_is_verl_file_loggers_shape_so_the_curves_read_it(tmp_path, capsys):
    from verl_ccrl.eval.curves import training_curves

    main(["--model", BASE_MODEL, "--steps", "2", "--prompts", "2", "--samples", "2", "--max-new-tokens", "8",
          "--eval-n", "2", "--eval-every", "1", "--n-problems", "4"])  # fmt: skip
    log = tmp_path / "run.jsonl"
    log.write_text(capsys.readouterr().out)
    metrics = ["actor/entropy", "ccrl/outcome_mean", "val-core/toy_id/acc/mean@1"]
    curves = training_curves({"plain": [str(log)]}, metrics)
    assert curves["actor/entropy"]["plain"].steps == (1, 2)
    assert curves["ccrl/outcome_mean"]["plain"].steps == (1, 2)
    assert curves["val-core/toy_id/acc/mean@1"]["plain"].steps == (0, 1, 2)  # the start, step 1, the end


def test_save_writes_the_trained_policy_as_a_model_the_evaluation_loads(tmp_path, capsys):
    from transformers import Qwen2ForCausalLM

    main(["--model", BASE_MODEL, "--steps", "1", "--prompts", "2", "--samples", "2", "--max-new-tokens", "8",
          "--eval-n", "0", "--n-problems", "4", "--lr", "1e-2", "--save", str(tmp_path / "policy")])  # fmt: skip
    saved = Qwen2ForCausalLM.from_pretrained(tmp_path / "policy").state_dict()
    start = Qwen2ForCausalLM.from_pretrained(BASE_MODEL).state_dict()
    assert (tmp_path / "policy" / "tokenizer_config.json").exists()
    assert any(not torch.equal(saved[name], start[name]) for name in start)


@pytest.fixture(scope="module")
def sampled_responses():
    """Eight samples of the committed base model for each of two RL problems, with their sampling entropies."""
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from toy_world.train import prompt_text
    from verl_ccrl.integration.cpu.batch_decode import DecodeRow, decode_batch

    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL)
    model = Qwen2ForCausalLM.from_pretrained(BASE_MODEL).eval()
    problems = generate_problems("train", 2, seed=RL_DATA_SEED)
    rows = [
        DecodeRow(tokenizer(prompt_text(p.question), add_special_tokens=False)["input_ids"], 96,
                  stop_ids=frozenset([tokenizer.eos_token_id]), seed=seed)
        for p in problems for seed in range(8)
    ]  # fmt: skip
    results = decode_batch(model, rows, pad_token_id=tokenizer.pad_token_id)
    return tokenizer, [(problems[index // 8], result) for index, result in enumerate(results)]


@pytest.mark.parametrize("shaping", ["linear", "brier", "log"])
def test_the_ccrl_reward_is_the_reward_managers_for_the_same_response(shaping, sampled_responses, monkeypatch):
    pytest.importorskip("verl")
    from omegaconf import OmegaConf

    from data_prep.outputs import rl_row
    from data_prep.sources import load_source
    from verl_ccrl.alignment import TokenAligner
    from verl_ccrl.config import CCRLConfig
    from verl_ccrl.integration import reward_manager as reward_manager_module

    monkeypatch.setattr(reward_manager_module, "start_verify_worker", lambda: None)  # started when first needed
    tokenizer, samples = sampled_responses
    # The study's RL rows for the same problems, as toy_world.data writes them (rl_train.parquet).
    rows = {
        record.question: rl_row(record, index)
        for index, record in enumerate(load_source("toy_world", "train", limit=2, seed=RL_DATA_SEED))
    }
    config = OmegaConf.create({"ccrl": {"shaping": shaping, "entropy_source": "rollout"}, "reward": {}})
    manager = reward_manager_module.CCRLRewardManager(config, tokenizer)
    ccrl_config, aligner = CCRLConfig(shaping=shaping), TokenAligner(tokenizer)
    ours, managers = [], []
    for problem, result in samples:
        text = tokenizer.decode(result.token_ids, skip_special_tokens=True)
        ours.append(
            response_reward(problem, text, result.token_ids, result.entropies, config=ccrl_config, aligner=aligner)[0]
        )
        row = rows[problem.question]
        managers.append(
            manager.score(result.token_ids, row["reward_model"]["ground_truth"], row["extra_info"],
                          extra_fields={"ccrl_entropies": result.entropies})["reward_score"]
        )  # fmt: skip
    assert ours == pytest.approx(managers, abs=1e-12)
    assert any(reward not in (0.0, 1.0) for reward in ours)  # number terms were scored, not only outcomes


def test_the_outcome_reward_is_one_for_a_correct_final_answer_and_zero_otherwise():
    problem = generate_problems("train", 1, seed=RL_DATA_SEED)[0]
    assert response_reward(problem, f"#### {problem.answer}", [], []) == (1.0, True)
    assert response_reward(problem, f"#### {int(problem.answer) + 1}", [], []) == (0.0, False)


@pytest.mark.parametrize(
    "argv, named",
    [(["--samples", "1"], "--samples=1"), (["--prompts", "9", "--n-problems", "8"], "--prompts=9"),
     (["--steps", "0"], "--steps=0"), (["--skip-return-prob", "1.5"], "--skip-return-prob=1.5"),
     (["--skip-history", "0"], "--skip-history=0"), (["--max-gen-batches", "0"], "--max-gen-batches=0"),
     (["--zero-variance-filter", "always"], "--zero-variance-filter")],
)  # fmt: skip
def test_bad_options_are_refused_by_name(argv, named, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--model", BASE_MODEL, *argv])
    assert named in capsys.readouterr().err
