"""data_prep at its boundary (issue 13, D3 and D12-D16): whatever a file, a teacher or a user hands it, a run either
finishes, or stops with an error naming the file, the line and the fix; ``--skip-malformed`` skips what is skippable.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer

from data_prep.cli import main
from data_prep.comt import ComtConfig, generate_comt
from data_prep.records import DataError, Record
from data_prep.sources import LoadStats, load_source
from data_prep.store import ResultStore, StoreReadError
from data_prep.teachers import OpenAITeacher, SamplingParams, TeacherError, TemplateTeacher

ROOT = Path(__file__).resolve().parents[1]
GOOD = {"question": "Ann has 3 bags of 4 pears. How many pears?", "answer": "3 * 4 = <<3*4=12>>12\n#### 12"}
OTHER = {"question": "Bo has 5 cups and buys 2. How many cups?", "answer": "5 + 2 = 7\n#### 7"}
HUGE = "9" * 5000  # past Python's 4,300-digit int-string limit: int() of it raises ValueError
MESSAGES = [{"role": "user", "content": "Describe the strategy."}]


def _write_lines(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return str(path)


def _row(row: dict) -> bytes:
    return json.dumps(row).encode()


def _comt(out: Path, *extra: str) -> list[str]:
    return ["comt", "--source", "reasoning_gym_gsm", "--limit", "3", "--out-dir", str(out), "--no-progress", *extra]


# ------------------------------------------------------------------------------- D12: failed requests exit non-zero


def test_a_run_whose_teacher_requests_all_failed_exits_3_with_the_count_and_the_fix(tmp_path, capsys):
    dead = ["--teacher", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--max-retries", "0"]
    code = main(_comt(tmp_path / "out", *dead))
    error = capsys.readouterr().err
    assert code == 3
    assert "3 of 3 problems have no meta-thought" in error and "rerun the same command" in error
    assert (tmp_path / "out" / "comt_report.json").exists()


def test_a_run_whose_teacher_answered_every_request_exits_0(tmp_path, capsys):
    assert main(_comt(tmp_path / "out", "--teacher", "template")) == 0


# ------------------------------------------------------------------------ D13: undecodable bytes name file and line


@pytest.mark.parametrize(
    "name, content, line",
    [
        ("rows.jsonl", _row(GOOD) + b"\n" + b'{"question": "caf\xe9?", "answer": "#### 1"}\n', "line 2"),
        ("rows.json", b'[\n{"question": "a",\n "answer": "#### 1\xff"}]', "line 3"),
        ("rows.csv", b"question,answer\nQ?,#### 1\nbad\xff,#### 2\n", "line 3"),
    ],
)
def test_an_input_file_with_undecodable_bytes_is_refused_naming_file_and_line(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_source("gsm8k", "train", input_path=str(path))
    message = str(caught.value)
    assert str(path) in message and line in message and "not UTF-8" in message and "Fix:" in message


def test_skip_malformed_skips_an_undecodable_input_line_and_counts_it(tmp_path):
    path = _write_lines(
        tmp_path / "rows.jsonl", [_row(GOOD), b'{"question": "\xff\xfe", "answer": "#### 1"}', _row(OTHER)]
    )
    stats = LoadStats()
    records = load_source("gsm8k", "train", input_path=path, skip_malformed=True, stats=stats)
    assert [r.answer for r in records] == ["12", "7"]
    assert stats.skipped == {"<bytes>: not UTF-8": 1}


def _store_with_a_bad_second_line(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert main(_comt(out, "--teacher", "template")) == 0
    store = out / "teacher_results.jsonl"
    lines = store.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"text":"', b'"text":"\xff', 1)
    store.write_bytes(b"".join(lines))
    return out


def test_a_store_with_an_undecodable_line_is_refused_naming_file_line_and_the_flag(tmp_path, capsys):
    out = _store_with_a_bad_second_line(tmp_path)
    capsys.readouterr()
    assert main(_comt(out, "--teacher", "template")) == 2
    error = capsys.readouterr().err
    assert "teacher_results.jsonl: line 2" in error and "not UTF-8" in error and "--skip-malformed" in error
    with pytest.raises(StoreReadError, match="line 2"):
        ResultStore(str(out / "teacher_results.jsonl")).open()


def test_skip_malformed_resumes_a_store_with_an_undecodable_line_resending_only_that_request(tmp_path, capsys):
    out = _store_with_a_bad_second_line(tmp_path)
    capsys.readouterr()
    assert main(_comt(out, "--teacher", "template", "--skip-malformed")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["store"]["undecodable_lines_skipped"] == 1 and report["store"]["appended_this_run"] == 1
    assert report["comt"]["accepted"] == 3


# --------------------------------------------------------------- D14: a deadline per request; Retry-After is capped


def _timed_generate(teacher: OpenAITeacher, bound_s: float = 10.0) -> tuple[object, float]:
    """(the outcome of one generate call, its seconds): the client's start-up (imports) is not timed."""

    async def run():
        await teacher.start()
        started = time.perf_counter()
        try:
            outcome = await asyncio.wait_for(teacher.generate([MESSAGES], SamplingParams()), bound_s)
        except TeacherError as error:
            outcome = error
        finally:
            elapsed = time.perf_counter() - started
            await teacher.close()
        return outcome, elapsed

    return asyncio.run(run())


def test_a_server_trickling_its_body_is_cut_off_at_the_request_deadline():
    with FakeOpenAIServer(trickle_s=8.0) as server:
        teacher = OpenAITeacher([server.base_url], model="m", timeout_s=1.0, max_retries=0)
        outcome, elapsed = _timed_generate(teacher)
    assert isinstance(outcome, TeacherError) and "no complete response within 1.0 s" in str(outcome)
    assert elapsed < 4 and teacher.stats["retry_timeout"] == 1  # the body alone takes 8 s


@pytest.mark.parametrize("retry_after", ["3600", "inf", "nan", "-5", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_retry_after_is_capped_at_the_backoff_maximum(retry_after):
    with FakeOpenAIServer(script=[429], retry_after=retry_after) as server:
        teacher = OpenAITeacher([server.base_url], model="m", max_retries=1, backoff_base_s=0.01, backoff_max_s=0.2)
        [generation], elapsed = _timed_generate(teacher)
    assert generation.text and server.counts["429"] == 1 and server.counts["200"] == 1
    assert elapsed < 5  # well under the 10 s bound that an uncapped wait would hit


# --------------------------------------------------------------------------------- D15: clear errors for user paths


@pytest.mark.parametrize(
    "prompt",
    [
        "Solve {question} with a set {1, 2}.",
        "Solve {question} using {x}.",
        "Solve {question}: f(x) = { x }",
        "{question} }",
    ],
)
def test_a_prompt_file_with_a_literal_brace_is_refused_naming_the_file_and_the_escape(tmp_path, capsys, prompt):
    path = tmp_path / "prompt.txt"
    path.write_text(prompt, encoding="utf-8")
    code = main(_comt(tmp_path / "out", "--teacher", "template", "--prompt-file", str(path)))
    error = capsys.readouterr().err
    assert code == 2 and str(path) in error and "{{ or }}" in error


@pytest.mark.parametrize("command", ["rl", "comt --teacher template", "eval --benchmarks reasoning_gym_gsm"])
@pytest.mark.parametrize("below", ["", "sub"])
def test_an_out_dir_that_is_a_file_is_refused_naming_it(tmp_path, capsys, command, below):
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    source = [] if command.startswith("eval") else ["--source", "reasoning_gym_gsm"]
    code = main([*command.split(), *source, "--limit", "2", "--out-dir", str(taken / below)])
    error = capsys.readouterr().err
    assert code == 2 and "--out-dir" in error and str(taken) in error and "is a file" in error


def test_a_store_that_is_a_directory_is_refused_naming_it(tmp_path, capsys):
    folder = tmp_path / "store_dir"
    folder.mkdir()
    code = main(_comt(tmp_path / "out", "--teacher", "template", "--store", str(folder)))
    error = capsys.readouterr().err
    assert code == 2 and str(folder) in error and "is a directory" in error and "--store" in error


@pytest.mark.parametrize("model_path", ["/nonexistent/models/Qwen3-4B", None])
def test_a_recipe_without_its_model_stops_before_torchrun_naming_model_path(tmp_path, model_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "torchrun_started"
    (bin_dir / "torchrun").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (bin_dir / "torchrun").chmod(0o755)
    sft_file = tmp_path / "comt_sft.parquet"
    sft_file.write_text("stand-in")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "STAGES": "sft"}
    env.update(DRY_RUN="0", SFT_FILE=str(sft_file))
    env.pop("MODEL_PATH", None)
    if model_path:
        env["MODEL_PATH"] = model_path
    result = subprocess.run(
        ["bash", str(ROOT / "recipes" / "qwen3_4b_ccrl.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and not marker.exists()
    expected = model_path or str(tmp_path / "models" / "Qwen3-4B")
    assert f"MODEL_PATH={expected} is not a directory" in result.stderr


# ---------------------------------------------------------------------------- D16: no silent coercion of row fields


@pytest.mark.parametrize(
    "source, row, field",
    [
        ("gsm8k", {"question": 123, "answer": "#### 5"}, "question"),
        ("gsm8k", {"question": ["Ann has 3?"], "answer": "#### 5"}, "question"),
        ("gsm8k", {"question": "Q?", "answer": 5}, "answer"),
        ("svamp", {"Body": 12, "Question": "How many are left?", "Answer": 5}, "Body"),
        ("tabmwp", {"question": "How many?", "table": {"Ann": 3}, "answer": "3"}, "table"),
        ("gsm_hard", {"input": 7.5, "target": 2}, "input"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_naming_row_and_field(tmp_path, source, row, field):
    path = _write_lines(tmp_path / "rows.jsonl", [_row(row)])
    with pytest.raises(DataError) as caught:
        load_source(source, "train", input_path=path)
    message = str(caught.value)
    assert path in message and "line 1" in message and f"'{field}'" in message and "must be text" in message


def test_skip_malformed_skips_a_field_of_the_wrong_type(tmp_path):
    path = _write_lines(tmp_path / "rows.jsonl", [_row(GOOD), _row({"question": 123, "answer": "#### 5"})])
    stats = LoadStats()
    records = load_source("gsm8k", "train", input_path=path, skip_malformed=True, stats=stats)
    assert len(records) == 1 and stats.skipped == {"question: not text": 1}


def test_a_numeric_asdiv_answer_is_still_read_as_a_number():
    from data_prep.sources import normalise_row

    row = {"body": "Max has 9 kites and makes 4 more.", "question": "How many kites now?", "answer": 13}
    assert normalise_row("asdiv", row, "validation", 0).answer == "13"


# --------------------------------------------------------- D3: a row the number reader gives up on is a named row


@pytest.mark.parametrize(
    "bad",
    [
        {"question": "How many?", "answer": f"#### {HUGE}"},
        {"question": f"A jar holds {HUGE} beans. How many?", "answer": "#### 2"},
        {"question": "How many?", "answer": f"{HUGE} + 1 = 3\n#### 3"},
    ],
    ids=["answer", "question", "solution"],
)
def test_a_row_whose_numbers_cannot_be_read_aborts_naming_file_and_row(tmp_path, bad):
    path = _write_lines(tmp_path / "rows.jsonl", [_row(GOOD), _row(bad), _row(OTHER)])
    with pytest.raises(DataError) as caught:
        load_source("gsm8k", "train", input_path=path)
    assert path in str(caught.value) and "line 2" in str(caught.value)


def test_skip_malformed_skips_a_row_whose_numbers_cannot_be_read(tmp_path):
    bad = {"question": "How many?", "answer": f"#### {HUGE}"}
    path = _write_lines(tmp_path / "rows.jsonl", [_row(GOOD), _row(bad), _row(OTHER)])
    stats = LoadStats()
    records = load_source("gsm8k", "train", input_path=path, skip_malformed=True, stats=stats)
    assert [r.answer for r in records] == ["12", "7"] and sum(stats.skipped.values()) == 1


def test_a_teacher_output_the_number_reader_gives_up_on_is_a_rejected_attempt(tmp_path, monkeypatch):
    import data_prep.comt

    def reader_that_gives_up(question, text):
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    monkeypatch.setattr(data_prep.comt, "analyze_response", reader_that_gives_up)
    record = Record("1", "demo", "train", GOOD["question"], "12", GOOD["answer"], ("12",))
    with ResultStore(str(tmp_path / "s.jsonl")) as store:
        run = generate_comt([record], TemplateTeacher(), store, ComtConfig(max_attempts=2), progress=False)
        [first, second] = list(store.entries())
    assert run.rejected == 1 and run.teacher_calls == 2 and run.rejection_reasons == {"unreadable": 2}
    assert first["reasons"][0].startswith("unreadable: ValueError: Exceeds the limit")
