"""``python -m data_prep``: help for every flag, end-to-end builds offline, dry runs, clear errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from data_prep.cli import build_parser, main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_flag_of_every_command_has_help_text():
    for name, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and len(action.help) > 10, f"{name} {action.option_strings} has no help"


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "data_prep", "build", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for flag in ("--limit", "--dry-run", "--teacher", "--base-url", "--max-attempts", "--store", "--student-tokenizer"):
        assert flag in result.stdout


def test_build_with_the_template_teacher_writes_every_file_and_a_report(tmp_path, capsys, single_digit_tokenizer):
    tokenizer_dir = str(tmp_path / "tok")
    single_digit_tokenizer.save_pretrained(tokenizer_dir)
    out = str(tmp_path / "data")
    code = main(
        [
            *"build --source reasoning_gym_gsm --limit 12 --teacher template".split(),
            "--out-dir",
            out,
            "--student-tokenizer",
            tokenizer_dir,
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(os.listdir(out)) == sorted(
        [
            "comt_sft.parquet",
            "cot_sft.parquet",
            "rl_train.parquet",
            "eval_reasoning_gym_gsm.parquet",
            "report.json",
            "teacher_results.jsonl",
            "teacher_results.jsonl.lock",
        ]
    )
    assert report["comt"]["problems"] == 12 and report["comt"]["accepted"] == 12
    assert report["target_length"]["comt"]["unit"] == "tokens" and report["target_length"]["cot"]["n"] == 12
    assert len(pd.read_parquet(os.path.join(out, "rl_train.parquet"))) == 12
    assert len(pd.read_parquet(os.path.join(out, "eval_reasoning_gym_gsm.parquet"))) == 12
    assert json.load(open(os.path.join(out, "report.json")))["comt"]["accepted"] == 12


def test_dry_run_loads_and_plans_but_writes_nothing_and_calls_no_teacher(tmp_path, capsys):
    out = str(tmp_path / "data")
    assert (
        main(
            [
                *"build --source reasoning_gym_gsm --limit 3 --teacher openai".split(),
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--out-dir",
                out,
                "--dry-run",
            ]
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["problems"] == 3 and plan["to_request"] == 3 and plan["first_prompt"][-1]["role"] == "user"
    assert not os.path.exists(out)


def test_dry_run_counts_what_the_store_already_holds(tmp_path, capsys):
    out = str(tmp_path / "data")
    main(
        [
            "comt",
            "--source",
            "reasoning_gym_gsm",
            "--limit",
            "2",
            "--teacher",
            "template",
            "--out-dir",
            out,
            "--no-progress",
        ]
    )
    capsys.readouterr()
    main(
        [
            "comt",
            "--source",
            "reasoning_gym_gsm",
            "--limit",
            "5",
            "--teacher",
            "template",
            "--out-dir",
            out,
            "--dry-run",
        ]
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["already_done_in_store"] == 2 and plan["to_request"] == 3


def test_a_malformed_input_stops_with_an_error_naming_the_row(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "How many?", "answer": "no marker"}) + "\n")
    code = main(["rl", "--source", "gsm8k", "--input", str(bad), "--out-dir", str(tmp_path)])
    assert code == 2
    assert "line 1" in capsys.readouterr().err


def test_eval_writes_one_parquet_per_benchmark_from_local_files(tmp_path, capsys):
    svamp = tmp_path / "svamp.jsonl"
    svamp.write_text(
        json.dumps(
            {
                "Body": "A vase has 6 roses",
                "Question": "After adding 5, how many?",
                "Equation": "( 6.0 + 5.0 )",
                "Answer": 11.0,
            }
        )
        + "\n"
    )
    tab = tmp_path / "tab.json"
    tab.write_text(
        json.dumps(
            {
                "1": {"question": "Total?", "table": "a | 2", "answer": "2", "solution": "2."},
                "2": {"question": "Which is larger?", "table": "a | 2", "answer": "a", "choices": ["a", "b"]},
            }
        )
    )
    out = str(tmp_path / "eval")
    code = main(
        [
            "eval",
            "--benchmarks",
            "svamp,tabmwp,reasoning_gym_gsm",
            "--input",
            f"svamp={svamp}",
            "--input",
            f"tabmwp={tab}",
            "--limit",
            "4",
            "--skip-malformed",
            "--out-dir",
            out,
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tabmwp"]["problems"] == 1 and summary["tabmwp"]["load"]["skipped"] == {"answer: not a number": 1}
    assert sorted(os.listdir(out)) == ["eval_reasoning_gym_gsm.parquet", "eval_svamp.parquet", "eval_tabmwp.parquet"]


def test_build_with_a_tiny_local_transformers_teacher_finishes_and_reports(tmp_path, capsys):
    tiny_model = pytest.importorskip("verl_ccrl.integration.cpu.tiny_model")
    model_dir = tiny_model.build_tiny_model(str(tmp_path / "tiny"))
    out = str(tmp_path / "data")
    code = main(
        [
            *"build --source reasoning_gym_gsm --limit 3 --teacher transformers".split(),
            "--model",
            model_dir,
            "--max-tokens",
            "12",
            "--max-attempts",
            "2",
            "--out-dir",
            out,
            "--no-progress",
            "--student-tokenizer",
            model_dir,
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    comt = report["comt"]
    assert comt["problems"] == 3 and comt["accepted"] + comt["rejected_after_max_attempts"] == 3
    assert comt["teacher"].startswith("transformers:") and comt["teacher_calls_this_run"] >= 3
    assert os.path.exists(os.path.join(out, "cot_sft.parquet"))


def test_every_backend_implements_the_teacher_protocol():
    from data_prep.teachers import (
        OpenAITeacher,
        Teacher,
        TemplateTeacher,
        TransformersTeacher,
        VLLMTeacher,
        make_teacher,
    )

    teachers = [
        OpenAITeacher(["http://127.0.0.1:9/v1"], model="m"),
        VLLMTeacher("some/model"),
        TransformersTeacher("some/model"),
        TemplateTeacher(),
    ]
    assert all(isinstance(teacher, Teacher) for teacher in teachers)
    with pytest.raises(ValueError, match="needs --model"):
        make_teacher("vllm")
    with pytest.raises(ValueError, match="Choose one of"):
        make_teacher("gpt")


def test_vllm_teacher_without_vllm_installed_says_how_to_fix():
    import asyncio
    import importlib.util

    from data_prep.teachers import TeacherError, VLLMTeacher

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(TeacherError, match="vllm serve"):
        asyncio.run(VLLMTeacher("some/model").start())
