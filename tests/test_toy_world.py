"""toy_world: seeded problems with disjoint splits, solutions the project's verifier accepts, a digit tokenizer,
and reproducible training."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from data_prep.comt import validate_meta_thought
from data_prep.sources import load_source
from toy_world.problems import HELD_OUT_PAIRS, MAX_VALUE, SPLITS, generate_problems
from verl_ccrl import TokenAligner, analyze_response, problem_values

N = 300


def _pairs(problem):
    return set(zip(problem.ops, problem.ops[1:]))


@pytest.fixture(scope="module")
def problems():
    return {split: generate_problems(split, N, seed=0) for split in SPLITS}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from toy_world.tokenizer import build_tokenizer

    path = tmp_path_factory.mktemp("toy_tokenizer")
    build_tokenizer().save_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("split", SPLITS)
def test_the_same_seed_generates_the_same_problems(split):
    assert generate_problems(split, 50, seed=3) == generate_problems(split, 50, seed=3)


@pytest.mark.parametrize("split", SPLITS)
def test_different_seeds_generate_different_problems(split):
    first = [p.question for p in generate_problems(split, 50, seed=0)]
    second = [p.question for p in generate_problems(split, 50, seed=1)]
    assert len(set(first) & set(second)) < 5


def test_a_shorter_list_is_the_start_of_a_longer_one():
    assert generate_problems("train", 10, seed=2) == generate_problems("train", 40, seed=2)[:10]


def test_in_distribution_problems_never_contain_a_held_out_operation_pair(problems):
    for split in ("train", "test", "ood_steps"):
        assert all(not _pairs(p) & HELD_OUT_PAIRS for p in problems[split]), split


def test_every_ood_combo_problem_contains_a_held_out_operation_pair(problems):
    assert all(_pairs(p) & HELD_OUT_PAIRS for p in problems["ood_combo"])


def test_every_held_out_pair_occurs_in_ood_combo(problems):
    assert set().union(*(_pairs(p) for p in problems["ood_combo"])) >= HELD_OUT_PAIRS


def test_train_and_test_share_no_problem():
    train = {(p.ops, p.values) for p in generate_problems("train", 3000, seed=0)}
    test = {(p.ops, p.values) for p in generate_problems("test", 300, seed=0)}
    assert not train & test


@pytest.mark.parametrize(
    "split,steps", [("train", {2, 3}), ("test", {2, 3}), ("ood_combo", {2, 3}), ("ood_steps", {4, 5})]
)
def test_each_split_has_its_number_of_steps(problems, split, steps):
    assert {len(p.ops) for p in problems[split]} == steps


@pytest.mark.parametrize("split", SPLITS)
def test_every_given_and_computed_value_is_a_whole_number_from_1_to_the_maximum(problems, split):
    for problem in problems[split]:
        values = list(problem.values) + [int(v) for v in problem.reference_values]
        assert all(1 <= v <= MAX_VALUE for v in values), problem


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("form", ["cot", "comt"])
def test_the_verifier_finds_every_step_correct_and_no_number_wrong(problems, split, form):
    for problem in problems[split]:
        mentions = analyze_response(problem.question, getattr(problem, form), problem.cot)
        verdicts = [m.verdict for m in mentions if m.kind == "computed"]
        assert "wrong" not in verdicts, (problem.question, getattr(problem, form))
        # A result equal to a value the question gives ("keeps one pile": 1) counts as given, not computed.
        computed = {Fraction(v) for v in problem.reference_values} - problem_values(problem.question)
        assert verdicts.count("correct") >= len(computed), (problem.question, getattr(problem, form))


@pytest.mark.parametrize("split", SPLITS)
def test_comt_plans_compute_no_number_and_pass_the_comt_validation(problems, split):
    for problem in problems[split]:
        assert validate_meta_thought(problem.question, problem.comt_plan) == [], problem.comt_plan
        assert not [m for m in analyze_response(problem.question, problem.comt_plan) if m.kind == "computed"]


@pytest.mark.parametrize("form", ["question", "cot", "comt"])
def test_the_tokenizer_round_trips_every_text(problems, tokenizer, form):
    for split in SPLITS:
        for problem in problems[split][:100]:
            text = getattr(problem, form)
            assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


@pytest.mark.parametrize("form", ["question", "cot", "comt"])
def test_every_word_of_every_split_is_one_token(problems, tokenizer, form):
    for split in SPLITS:
        for problem in problems[split][:100]:
            text = getattr(problem, form)
            pieces = [tokenizer.decode([i]) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
            words = re.findall(r"[A-Za-z]+", text)
            assert [p.strip(" _\n") for p in pieces if any(c.isalpha() for c in p)] == words


def test_two_builds_give_the_same_vocabulary():
    from toy_world.tokenizer import build_tokenizer

    assert build_tokenizer().get_vocab() == build_tokenizer().get_vocab()


@pytest.mark.parametrize("number", ["0", "7", "42", "120", "200", "3456"])
def test_every_digit_is_one_token(tokenizer, number):
    ids = tokenizer(f"Tom has {number} coins.", add_special_tokens=False)["input_ids"]
    assert [tokenizer.decode([i]) for i in ids][2:-2] == [" "] + list(number)


def test_the_chat_template_renders_the_training_prompt(tokenizer, problems):
    from toy_world.train import STUDENT_INSTRUCTION, prompt_text

    problem = problems["test"][0]
    messages = [{"role": "user", "content": f"{problem.question}\n\n{STUDENT_INSTRUCTION}"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == prompt_text(
        problem.question
    )


def test_the_token_aligner_gives_every_number_its_digit_tokens(tokenizer, problems):
    text = problems["test"][0].cot
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    spans = TokenAligner(tokenizer).char_spans(ids, text)
    assert "".join(text[start:end] for start, end in spans) == text
    digit_spans = [(s, e) for s, e in spans if text[s:e].isdigit()]
    assert all(e - s == 1 for s, e in digit_spans) and digit_spans


def test_the_data_prep_source_carries_the_cot_as_reference_and_the_plan_in_meta():
    record = load_source("toy_world", "ood_combo", limit=3, seed=0)[2]
    problem = generate_problems("ood_combo", 3, seed=0)[2]
    assert (record.question, record.reference, record.answer) == (problem.question, problem.cot, problem.answer)
    assert record.reference_values == problem.reference_values
    assert record.meta["comt_plan"] == problem.comt_plan


def test_an_unknown_split_names_the_splits():
    with pytest.raises(ValueError, match="ood_steps"):
        generate_problems("validation", 1)


def test_two_training_runs_with_one_seed_give_identical_weights(tmp_path):
    import torch
    from transformers import Qwen2ForCausalLM

    from toy_world.model import build_model
    from toy_world.train import main

    states = []
    for run in ("a", "b"):
        main(["--out", str(tmp_path / run), "--size", "xs", "--steps", "3", "--batch", "4", "--eval-n", "0"])
        states.append(Qwen2ForCausalLM.from_pretrained(tmp_path / run).state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])
    initial = build_model("xs", seed=0)[0].state_dict()  # the run trained: its weights left the initial ones
    assert any(not torch.equal(states[0][key], initial[key]) for key in initial)


@pytest.mark.parametrize(
    "module", ["toy_world.problems", "toy_world.tokenizer", "toy_world.model", "data_prep.sources.toy_world"]
)
def test_module_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def _saved_model_dir(tmp_path):
    from toy_world.model import build_model, save

    model, tokenizer = build_model("xs")
    return save(model, tokenizer, str(tmp_path / "model")), tokenizer


def test_auto_tokenizer_loads_the_toy_tokenizer_from_a_model_directory(tmp_path, problems):
    # verl loads tokenizers this way; beside a qwen2 config.json transformers builds Qwen2Tokenizer whatever the
    # saved tokenizer says, which garbled the earlier word-level toy tokenizer.
    from transformers import AutoTokenizer

    from toy_world.train import prompt_text

    path, tokenizer = _saved_model_dir(tmp_path)
    problem = problems["ood_steps"][0]
    text = prompt_text(problem.question) + problem.comt + tokenizer.eos_token
    assert AutoTokenizer.from_pretrained(path)(text)["input_ids"] == tokenizer(text)["input_ids"]


BASE_CHECKPOINT = Path(__file__).resolve().parents[1] / "toy_world" / "checkpoints" / "base"


def test_the_committed_base_checkpoint_carries_the_toy_tokenizer():
    from transformers import AutoTokenizer

    from toy_world.tokenizer import build_tokenizer

    assert AutoTokenizer.from_pretrained(BASE_CHECKPOINT).get_vocab() == build_tokenizer().get_vocab()


def test_the_committed_base_checkpoint_solves_toy_problems_unlike_a_random_model():
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from toy_world.model import build_model
    from toy_world.train import evaluate

    problems = generate_problems("test", 50, seed=0)
    base = Qwen2ForCausalLM.from_pretrained(BASE_CHECKPOINT)
    accuracy, comt_share, _ = evaluate(base, AutoTokenizer.from_pretrained(BASE_CHECKPOINT), problems)
    random_model, tokenizer = build_model("xs")
    random_accuracy, _, _ = evaluate(random_model, tokenizer, problems, max_new_tokens=32)
    assert accuracy >= 0.5 and comt_share >= 0.9  # README: 0.74 on the first 100, 97 % in CoMT form
    assert random_accuracy == 0.0
