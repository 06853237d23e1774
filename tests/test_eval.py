"""``python -m verl_ccrl.eval``: generation, scoring, run JSONs, the merged table and its errors.

The transformers backend runs end to end on the tiny random model of ``verl_ccrl.integration.cpu.tiny_model`` (its
responses are gibberish, which is enough for the plumbing and the entropy check); scoring and calibration are checked
with a scripted backend whose responses and entropies are known. Problems are our own arithmetic word problems.
"""

from __future__ import annotations

import csv
import json
import math
import os

import pandas as pd
import pytest
import torch
from eval_runs import write_run

from verl_ccrl.eval import EvalConfig, EvalConfigError, canonical_benchmark_name, run_evaluation
from verl_ccrl.eval.backends import TransformersBackend, render_prompts
from verl_ccrl.eval.cli import main
from verl_ccrl.eval.data import load_eval_files
from verl_ccrl.eval.generation import Generation
from verl_ccrl.eval.results import run_file_name

# (question, ground truth, reference solution), written for these tests.
ID_PROBLEMS = [
    ("A crate holds 6 jars and each jar has 4 plums. How many plums are in the crate?", "24", "6 * 4 = 24\n#### 24"),
    ("Kim reads 9 pages a day for 3 days. How many pages does she read?", "27", "9 * 3 = 27\n#### 27"),
    ("A van has 15 seats and 7 are taken. How many seats are free?", "8", "15 - 7 = 8\n#### 8"),
]
OOD_PROBLEMS = [
    (
        "Leo has 5 bags with 8 shells each and gives away 10 shells. How many are left?",
        "30",
        "5 * 8 = 40\n40 - 10 = 30",
    ),
    ("A shelf has 12 red and 19 blue cups. How many cups are there?", "31", "12 + 19 = 31\n#### 31"),
    ("Nora saves 7 coins a week for 6 weeks. How many coins does she save?", "42", "7 * 6 = 42\n#### 42"),
]


def _rows(problems, source: str | None, data_source: str):
    rows = []
    for index, (question, answer, reference) in enumerate(problems):
        extra = {"question": question, "reference": reference, "reference_values": [answer], "index": index}
        if source is not None:
            extra["source"] = source
        rows.append(
            {
                "data_source": data_source,
                "prompt": [{"role": "user", "content": question}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": answer},
                "extra_info": extra,
            }
        )
    return rows


def _write_parquet(path, rows) -> str:
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("eval_model") / "tiny-qwen"))


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture
def eval_files(tmp_path):
    gsm8k = _write_parquet(tmp_path / "eval_gsm8k.parquet", _rows(ID_PROBLEMS, "gsm8k", "openai/gsm8k"))
    mawps = _write_parquet(tmp_path / "eval_mawps.parquet", _rows(OOD_PROBLEMS, None, "MU-NLPC/Calc-mawps"))
    return gsm8k, mawps


class ScriptedBackend:
    """Answers each question with a fixed response; every token gets the same entropy. Stands in for a model."""

    name = "scripted"

    def __init__(self, tokenizer, responses: dict[str, str], entropy: float = 0.0):
        self.tokenizer = tokenizer
        self.responses = responses
        self.entropy = entropy

    def describe(self):
        return {"backend": self.name}

    def generate(self, conversations):
        generations = []
        for messages in conversations:
            text = self.responses[messages[-1]["content"]]
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            generations.append(Generation(ids, text, [self.entropy] * len(ids), "stop", 10))
        return generations


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_transformers_run_end_to_end_writes_run_jsons_samples_table_and_plots(tiny_model, eval_files, tmp_path):
    out_dir = tmp_path / "results"
    arguments = ["--model", tiny_model, "--method", "CoT-SFT", "--model-name", "tiny", "--out-dir", str(out_dir)]
    arguments += ["--data", *eval_files, "--limit", "2", "--max-new-tokens", "12", "--batch-size", "2", "--quiet"]
    assert main(arguments) == 0

    runs = sorted(os.listdir(out_dir / "runs"))
    assert runs == sorted(run_file_name("CoT-SFT", "tiny", benchmark) for benchmark in ("gsm8k", "mawps"))
    for name in runs:
        run = json.loads((out_dir / "runs" / name).read_text())
        assert run["metrics"]["n"] == 2  # --limit per benchmark
        assert run["generation"]["backend"] == "transformers"
        samples = (out_dir / "runs" / run["samples_file"]).read_text().splitlines()
        assert len(samples) == 2
        record = json.loads(samples[0])
        assert 0 < record["n_tokens"] <= 12 and record["entropy_status"] in ("ok", "missing")
    for name in ("results.md", "results.csv", "reliability.png", "overconfidence.png"):
        assert (out_dir / name).stat().st_size > 0, name
    assert (out_dir / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [row] = _read_csv(out_dir / "results.csv")
    assert (row["method"], row["model"]) == ("CoT-SFT", "tiny")
    assert float(row["id_avg"]) == float(row["gsm8k"]) and float(row["ood_avg"]) == float(row["mawps"])
    markdown = (out_dir / "results.md").read_text()
    assert markdown.splitlines()[0].startswith("| Method | Model | GSM8K | MAWPS | ID avg | OOD avg | Tokens | OCE@0.9")


def test_transformers_entropies_equal_a_teacher_forced_forward_pass(tiny_model):
    config = EvalConfig(
        data=("unused.parquet",), model=tiny_model, method="m", out_dir="unused", max_new_tokens=10, batch_size=3
    )
    backend = TransformersBackend(config)
    # Prompts of different lengths in one batch: the shorter ones are left-padded.
    conversations = [[{"role": "user", "content": question}] for question, _, _ in ID_PROBLEMS]
    conversations.append([{"role": "user", "content": "2 + 2?"}])
    generations = backend.generate(conversations)
    prompts = render_prompts(backend.tokenizer, conversations)
    assert len({len(prompt) for prompt in prompts}) > 1

    from verl_ccrl.entropy import entropy_from_logits

    for prompt, generation in zip(prompts, generations):
        assert generation.token_ids and len(generation.entropies) == len(generation.token_ids)
        full = torch.tensor([prompt + generation.token_ids])
        with torch.no_grad():
            logits = backend.model(input_ids=full).logits[0]
        # The distribution that produced response token t is the one predicted at the position before it.
        predicted = logits[len(prompt) - 1 : len(prompt) - 1 + len(generation.token_ids)]
        expected = entropy_from_logits(predicted)
        torch.testing.assert_close(torch.tensor(generation.entropies), expected, atol=1e-4, rtol=0)
        # Greedy: every generated token is the argmax of its distribution.
        assert predicted.argmax(-1).tolist() == generation.token_ids


def test_scoring_falls_back_to_the_last_number_when_no_answer_is_stated(tiny_tokenizer, eval_files, tmp_path):
    responses = {
        question: f"{reference.splitlines()[0]} so it is {answer}" for question, answer, reference in ID_PROBLEMS
    }
    responses[ID_PROBLEMS[2][0]] = "15 - 7 = 9 so it is 9"  # a wrong computed number, stated with certainty
    config = EvalConfig(
        data=(eval_files[0],), model="unused", method="CoMT+CCRL", model_name="tiny", out_dir=str(tmp_path)
    )
    outputs = run_evaluation(config, backend=ScriptedBackend(tiny_tokenizer, responses, entropy=0.0))

    run = json.loads(open(outputs["runs"]["gsm8k"]).read())
    assert run["metrics"]["accuracy"] == pytest.approx(200 / 3)
    samples = [json.loads(line) for line in open(os.path.join(tmp_path, "runs", run["samples_file"]))]
    assert [sample["answer"] for sample in samples] == ["24", "27", "9"]
    wrong = [n for n in samples[2]["numbers"] if n["verdict"] == "wrong"]
    assert [(n["text"], n["confidence"]) for n in wrong] == [("9", 1.0)]  # entropy 0 -> confidence exp(0) = 1
    calibration = run["metrics"]["calibration"]
    assert calibration["overconfident_error_rate@0.9"] == 1.0 and calibration["n_wrong"] == 1
    assert sorted(run["judged"]) == [[1.0, 0], [1.0, 1], [1.0, 1]]


def test_confidence_is_exp_of_minus_the_entropy_of_the_number_tokens(tiny_tokenizer, eval_files, tmp_path):
    responses = {question: reference.splitlines()[0] for question, _, reference in ID_PROBLEMS}
    config = EvalConfig(data=(eval_files[0],), model="unused", method="m", out_dir=str(tmp_path))
    outputs = run_evaluation(config, backend=ScriptedBackend(tiny_tokenizer, responses, entropy=math.log(2)))
    run = json.loads(open(outputs["runs"]["gsm8k"]).read())
    assert [confidence for confidence, _ in run["judged"]] == pytest.approx([0.5, 0.5, 0.5])
    assert run["metrics"]["calibration"]["mean_confidence_correct"] == pytest.approx(0.5)


def test_id_average_is_the_mean_of_in_distribution_benchmarks(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for method, shift in (("CoT-SFT", 0.0), ("CoMT+CCRL", 10.0)):
        for model in ("Qwen2.5-1.5B", "Llama-3.2-1B"):
            write_run(runs, method, model, "gsm8k", 60.0 + shift, n=10, tokens=200.0)
            write_run(runs, method, model, "svamp", 70.0 + shift, n=30, tokens=100.0)
            write_run(runs, method, model, "asdiv", 50.0 + shift, n=10, tokens=100.0)
            write_run(runs, method, model, "gsm_hard", 20.0 + shift, n=10, tokens=100.0)
            write_run(runs, method, model, "my_toy_set", 99.0, n=10, tokens=100.0)
    assert main(["table", "--runs-dir", str(tmp_path), "--quiet"]) == 0

    rows = _read_csv(tmp_path / "results.csv")
    assert sorted((row["method"], row["model"]) for row in rows) == sorted(
        (method, model) for method in ("CoT-SFT", "CoMT+CCRL") for model in ("Qwen2.5-1.5B", "Llama-3.2-1B")
    )
    for row in rows:
        shift = 10.0 if row["method"] == "CoMT+CCRL" else 0.0
        assert float(row["id_avg"]) == pytest.approx((60.0 + 70.0) / 2 + shift)  # unweighted, not by n
        assert float(row["ood_avg"]) == pytest.approx((50.0 + 20.0) / 2 + shift)  # my_toy_set in neither
        assert float(row["my_toy_set"]) == 99.0
        assert float(row["mean_tokens"]) == pytest.approx((200 * 10 + 100 * 30 + 100 * 30) / 70)
    header = (tmp_path / "results.md").read_text().splitlines()[0]
    assert header == (
        "| Method | Model | GSM8K | SVAMP | ASDiv | GSM-Hard | my_toy_set | ID avg | OOD avg | Tokens | OCE@0.9 |"
    )
    assert len((tmp_path / "results.md").read_text().split("| CoMT+CCRL |")) == 3  # one row per model


def test_overconfident_error_rate_pools_the_numbers_of_all_benchmarks_of_a_row(tmp_path):
    write_run(tmp_path, "CoMT+CCRL", "m", "gsm8k", 50.0, judged=[(0.95, 0), (0.8, 0), (0.99, 1)])
    write_run(tmp_path, "CoMT+CCRL", "m", "asdiv", 50.0, judged=[(0.92, 0), (0.3, 0)])
    assert main(["table", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    [row] = _read_csv(tmp_path / "results.csv")
    assert float(row["overconfident_error@0.9"]) == pytest.approx(100 * 2 / 4)
    assert float(row["overconfident_error@0.5"]) == pytest.approx(100 * 3 / 4)
    assert (row["n_judged"], row["n_wrong"]) == ("5", "4")


def test_benchmark_sets_are_configurable(tmp_path):
    for benchmark, accuracy in (("gsm8k", 60.0), ("svamp", 80.0), ("asdiv", 40.0)):
        write_run(tmp_path, "CoT-SFT", "m", benchmark, accuracy)
    arguments = ["table", "--runs-dir", str(tmp_path), "--id-benchmarks", "openai/gsm8k", "--ood-benchmarks"]
    assert main([*arguments, "svamp", "asdiv", "--quiet"]) == 0
    [row] = _read_csv(tmp_path / "results.csv")
    assert (float(row["id_avg"]), float(row["ood_avg"])) == (60.0, 60.0)


def test_rerunning_a_method_model_benchmark_replaces_its_run(tiny_tokenizer, eval_files, tmp_path):
    responses = {question: f"{reference.splitlines()[0]} so {answer}" for question, answer, reference in ID_PROBLEMS}
    config = EvalConfig(
        data=(eval_files[0],), model="unused", method="CoT-SFT", model_name="tiny", out_dir=str(tmp_path)
    )
    run_evaluation(config, backend=ScriptedBackend(tiny_tokenizer, responses))
    responses[ID_PROBLEMS[0][0]] = "6 * 4 = 25 so 25"
    run_evaluation(config, backend=ScriptedBackend(tiny_tokenizer, responses))
    assert len(os.listdir(tmp_path / "runs")) == 1
    [row] = _read_csv(tmp_path / "results.csv")
    assert float(row["gsm8k"]) == pytest.approx(200 / 3)  # the second run's accuracy


def test_of_two_run_files_for_one_triple_the_newest_wins(tmp_path):
    old = write_run(tmp_path, "CoT-SFT", "m", "gsm8k", 10.0, created="2025-01-01T00:00:00")
    os.rename(old, tmp_path / "copied_from_elsewhere.json")
    write_run(tmp_path, "CoT-SFT", "m", "gsm8k", 30.0, created="2025-02-01T00:00:00")
    assert main(["table", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    [row] = _read_csv(tmp_path / "results.csv")
    assert float(row["gsm8k"]) == 30.0


def test_benchmark_name_comes_from_source_then_data_source_then_file_stem(tmp_path):
    rows = _rows(ID_PROBLEMS[:1], "svamp", "openai/gsm8k") + _rows(ID_PROBLEMS[1:2], None, "apple/GSM-Symbolic")
    rows += _rows(ID_PROBLEMS[2:], None, "")
    path = _write_parquet(tmp_path / "eval_asdiv.parquet", rows)
    assert {name: len(items) for name, items in load_eval_files([path]).items()} == {
        "svamp": 1,
        "gsm_symbolic": 1,
        "asdiv": 1,
    }
    assert list(load_eval_files([f"tabmwp={path}"])) == ["tabmwp"]
    assert canonical_benchmark_name("Reasoning-Machines/GSM-Hard") == "gsm_hard"


def test_a_file_without_the_prompt_column_gives_an_error_naming_file_and_column(tiny_model, tmp_path, capsys):
    path = _write_parquet(tmp_path / "broken.parquet", [{"question": "1 + 1?", "reward_model": {"ground_truth": "2"}}])
    code = main(["--model", tiny_model, "--method", "m", "--out-dir", str(tmp_path / "o"), "--data", path])
    error = capsys.readouterr().err
    assert code == 2 and "Traceback" not in error
    assert "broken.parquet" in error and "'prompt'" in error and "verl RL parquet" in error


def test_a_row_without_ground_truth_gives_an_error_naming_the_row_and_field(tiny_model, tmp_path, capsys):
    rows = _rows(ID_PROBLEMS[:2], "gsm8k", "openai/gsm8k")
    rows[1]["reward_model"] = {"style": "rule", "ground_truth": ""}
    path = _write_parquet(tmp_path / "eval.parquet", rows)
    assert main(["--model", tiny_model, "--method", "m", "--out-dir", str(tmp_path), "--data", path]) == 2
    assert "eval.parquet, row 1: field 'reward_model.ground_truth'" in capsys.readouterr().err


def test_an_unreadable_parquet_and_a_missing_model_give_clear_errors(tiny_model, eval_files, tmp_path, capsys):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    assert main(["--model", tiny_model, "--method", "m", "--out-dir", str(tmp_path), "--data", str(garbage)]) == 2
    assert "garbage.parquet: not a readable parquet file" in capsys.readouterr().err

    missing_model = str(tmp_path / "no_such_model")
    assert main(["--model", missing_model, "--method", "m", "--out-dir", str(tmp_path), "--data", eval_files[0]]) == 2
    error = capsys.readouterr().err
    assert f"--model {missing_model!r}: no such directory" in error and "Traceback" not in error

    assert main(["table", "--runs-dir", str(tmp_path / "nowhere")]) == 2
    assert "--runs-dir" in capsys.readouterr().err


def test_a_bad_flag_value_names_the_flag_and_the_fix():
    with pytest.raises(EvalConfigError, match=r"--batch-size \(batch_size=0\) must be an integer >= 1.*--batch-size 8"):
        EvalConfig(data=("x.parquet",), model="m", method="m", out_dir="o", batch_size=0)
    with pytest.raises(EvalConfigError, match="both list \\['gsm8k'\\]"):
        EvalConfig(data=("x.parquet",), model="m", method="m", out_dir="o", ood_benchmarks=("GSM8K",))


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--model",
        "--backend",
        "--max-new-tokens",
        "--batch-size",
        "--limit",
        "--device",
        "--method",
        "--model-name",
        "--out-dir",
        "--data",
        "--merge",
        "--top-k",
        "--id-benchmarks",
        "--ood-benchmarks",
    ):
        assert flag in text, flag


def test_an_eval_row_marked_text_carries_its_answer_type_to_scoring(tmp_path):
    from verl_ccrl.eval.scoring import score_sample

    rows = _rows([("Ann has 10 red and 12 blue beads. Ratio of red to blue?", "5:6", "10:12 = 5:6")], "asdiv", "")
    rows[0]["extra_info"]["answer_type"] = "text"
    example = load_eval_files([_write_parquet(tmp_path / "eval_asdiv.parquet", rows)])["asdiv"][0]
    assert example.answer_type == "text"
    record = score_sample(
        example,
        "The ratio is 5 : 6. The answer is 5:6.",
        token_spans=None,
        entropies=None,
        n_tokens=10,
        finish_reason="stop",
    )
    assert record["correct"] is True


def test_a_seeded_run_records_its_seed_and_the_points_of_its_final_answers(tiny_tokenizer, eval_files, tmp_path):
    responses = {
        question: f"{reference.splitlines()[0]}. The answer is {answer}." for question, answer, reference in ID_PROBLEMS
    }
    responses[ID_PROBLEMS[2][0]] = "15 - 7 = 9. The answer is 9."
    config = EvalConfig(data=(eval_files[0],), model="unused", method="CoMT+CCRL", out_dir=str(tmp_path), seed=3)
    outputs = run_evaluation(config, backend=ScriptedBackend(tiny_tokenizer, responses, entropy=math.log(2)))

    assert os.path.basename(outputs["runs"]["gsm8k"]) == run_file_name("CoMT+CCRL", "unused", "gsm8k", 3)
    run = json.loads(open(outputs["runs"]["gsm8k"]).read())
    assert run["seed"] == 3
    assert sorted(run["answer_points"]) == [[0.5, 0], [0.5, 1], [0.5, 1]]  # every answer token at entropy ln 2
