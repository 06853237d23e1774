"""data_prep.store and data_prep.comt: validation, regeneration, never losing or repeating a teacher call."""

from __future__ import annotations

import asyncio
import json

import pytest

from data_prep.comt import ComtConfig, clean_meta_thought, generate_comt, validate_meta_thought
from data_prep.records import Record
from data_prep.store import ResultStore, StoreLockedError, request_key
from data_prep.teachers import SamplingParams, TeacherError, TeacherReply, TemplateTeacher, template_meta_thought


def _records(n: int = 4) -> list[Record]:
    out = []
    for i in range(n):
        a, b = 3 + i, 7 + i
        out.append(
            Record(
                str(i),
                "demo",
                "train",
                f"A crate holds {a} rows of {b} apples. How many apples?",
                str(a * b),
                f"{a} * {b} = <<{a}*{b}={a * b}>>{a * b} apples\n#### {a * b}",
                (str(a * b),),
            )
        )
    return out


class ScriptedTeacher:
    """Answers from a per-problem script of outputs (by call count); counts calls. In-process, for driver logic."""

    def __init__(self, script, *, batch_size=1, concurrency=2, fail_first=0):
        self.name = "scripted"
        self.batch_size, self.concurrency = batch_size, concurrency
        self.script = script
        self.calls: dict[str, int] = {}
        self.fail_first = fail_first

    async def start(self):
        pass

    async def close(self):
        pass

    async def generate(self, messages_batch, sampling):
        await asyncio.sleep(0)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise TeacherError("injected outage")
        out = []
        for messages in messages_batch:
            question = messages[-1]["content"].split("Problem:\n", 1)[1].split("\n\n", 1)[0]
            count = self.calls.get(question, 0)
            self.calls[question] = count + 1
            outputs = self.script(question)
            out.append(TeacherReply(outputs[min(count, len(outputs) - 1)], "stop"))
        return out


def test_a_meta_thought_with_a_computed_number_is_rejected_with_the_number_named():
    question = "A crate holds 3 rows of 7 apples. How many apples?"
    assert validate_meta_thought(question, "apples = rows * apples_per_row, with rows = 3 and 7 per row") == []
    assert validate_meta_thought(question, "apples = 3 * 7 = 21") == ["computed_numbers: 21"]
    assert validate_meta_thought(question, "   ") == ["empty"]
    assert validate_meta_thought(question, "x" * 50, max_chars=10) == ["too_long: 50 chars > 10"]
    assert validate_meta_thought(question, "apples = rows *", finish_reason="length") == ["truncated"]


def test_written_out_problem_numbers_count_as_given():
    question = "Tom reads twice as many pages as Ann, who reads a dozen pages. How many does Tom read?"
    assert validate_meta_thought(question, "tom_pages = 2 * ann_pages where ann_pages = 12") == []


def test_think_blocks_and_labels_are_removed_before_validation():
    assert clean_meta_thought("<think>3*7=21</think>\nMeta-thought: total = a * b ") == "total = a * b"


def test_template_teacher_output_is_valid_for_its_own_problem():
    for record in _records(6):
        text = template_meta_thought(record.question, record.reference)
        assert validate_meta_thought(record.question, text) == [], text


def test_rejected_meta_thoughts_are_regenerated_up_to_max_attempts_and_reasons_recorded(tmp_path):
    records = _records(3)

    def script(question):
        if "3 rows" in question:  # valid at once
            return ["apples = rows * per_row"]
        if "4 rows" in question:  # valid on the third try
            return ["apples = 4 * 8 = 32", "", "apples = rows * per_row"]
        return ["apples = 45"]  # never valid

    teacher = ScriptedTeacher(script)
    with ResultStore(tmp_path / "s.jsonl") as store:
        run = generate_comt(records, teacher, store, ComtConfig(max_attempts=3), progress=False)
    assert (run.accepted, run.rejected, run.unfinished, run.teacher_calls) == (2, 1, 0, 7)
    assert run.rejection_reasons == {"computed_numbers": 4, "empty": 1}
    assert dict(run.attempts_histogram) == {1: 1, 3: 1}
    lines = [json.loads(line) for line in open(tmp_path / "s.jsonl")]
    rejected = [line for line in lines if not line["valid"]]
    assert {tuple(line["reasons"]) for line in rejected} == {
        ("computed_numbers: 32",),
        ("empty",),
        ("computed_numbers: 45",),
    }


def test_rerun_skips_completed_requests(tmp_path):
    records = _records(5)
    with ResultStore(tmp_path / "s.jsonl") as store:
        first = generate_comt(records, TemplateTeacher(batch_size=2), store, progress=False)
    teacher = TemplateTeacher()
    with ResultStore(tmp_path / "s.jsonl") as store:
        second = generate_comt(records, teacher, store, progress=False)
        assert len(store) == 5
    assert first.accepted == second.accepted == 5
    assert teacher.calls == 0 and second.skipped_done == 5 and second.teacher_calls == 0
    assert second.meta_thoughts == first.meta_thoughts


def test_a_problem_with_rejected_attempts_resumes_at_its_next_attempt(tmp_path):
    records = _records(1)
    sampling = SamplingParams()
    key = request_key(records[0].key, "comt-v1", "scripted", sampling.as_dict())
    with ResultStore(tmp_path / "s.jsonl") as store:
        store.append({"key": key, "attempt": 0, "text": "x = 21", "valid": False, "reasons": ["computed_numbers: 21"]})
    teacher = ScriptedTeacher(lambda q: ["apples = rows * per_row"])
    with ResultStore(tmp_path / "s.jsonl") as store:
        run = generate_comt(records, teacher, store, ComtConfig(max_attempts=2, sampling=sampling), progress=False)
        assert [entry["attempt"] for entry in store.attempts(key)] == [0, 1]
    assert run.accepted == 1 and sum(teacher.calls.values()) == 1


def test_changing_the_sampling_or_prompt_version_starts_fresh_requests(tmp_path):
    records = _records(2)
    with ResultStore(tmp_path / "s.jsonl") as store:
        generate_comt(
            records, TemplateTeacher(), store, ComtConfig(sampling=SamplingParams(temperature=0.2)), progress=False
        )
        teacher = TemplateTeacher()
        generate_comt(records, teacher, store, ComtConfig(sampling=SamplingParams(temperature=0.9)), progress=False)
        assert teacher.calls == 2 and len(store) == 4


def test_failed_requests_are_not_stored_and_are_sent_again_on_rerun(tmp_path):
    records = _records(2)
    teacher = ScriptedTeacher(lambda q: ["apples = rows * per_row"], fail_first=1, concurrency=1)
    with ResultStore(tmp_path / "s.jsonl") as store:
        run = generate_comt(records, teacher, store, progress=False)
    assert run.unfinished == 1 and run.accepted == 1 and run.failed_calls == 1
    with ResultStore(tmp_path / "s.jsonl") as store:
        rerun = generate_comt(records, ScriptedTeacher(lambda q: ["a = b * c"]), store, progress=False)
    assert rerun.accepted == 2 and rerun.teacher_calls == 1


def test_a_teacher_outage_aborts_after_consecutive_failures(tmp_path):
    teacher = ScriptedTeacher(lambda q: ["a"], fail_first=100, concurrency=1)
    with ResultStore(tmp_path / "s.jsonl") as store, pytest.raises(TeacherError, match="injected outage"):
        generate_comt(_records(5), teacher, store, ComtConfig(max_consecutive_failures=3), progress=False)


def test_store_repairs_a_partial_last_line_and_keeps_complete_ones(tmp_path):
    path = tmp_path / "s.jsonl"
    with ResultStore(path) as store:
        store.append({"key": "k1", "text": "a"})
        store.append({"key": "k2", "text": "b"})
    with open(path, "ab") as handle:
        handle.write(b'{"key": "k3", "te')  # a write cut by kill -9
    with ResultStore(path) as store:
        assert len(store) == 2 and store.repaired_bytes == len(b'{"key": "k3", "te')
        store.append({"key": "k3", "text": "c"})
    with ResultStore(path) as store:
        assert [entry["text"] for entry in store.entries()] == ["a", "b", "c"]
    assert open(path, "rb").read().count(b"\n") == 3


def test_store_refuses_a_duplicate_attempt_and_a_second_writer(tmp_path):
    path = tmp_path / "s.jsonl"
    with ResultStore(path) as store:
        store.append({"key": "k", "attempt": 0})
        with pytest.raises(ValueError, match="already stored"):
            store.append({"key": "k", "attempt": 0})
        with pytest.raises(StoreLockedError, match="in use by another process"):
            ResultStore(path).open()


def test_comt_config_errors_name_field_value_and_fix():
    with pytest.raises(ValueError, match=r"ComtConfig.max_attempts=0 must be an int >= 1"):
        ComtConfig(max_attempts=0)
    with pytest.raises(ValueError, match=r"top_p=1.5"):
        SamplingParams(top_p=1.5)
