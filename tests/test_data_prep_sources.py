"""data_prep.sources: every source normalises into one record; malformed rows are named or counted, never dropped.

All sample problems are written for these tests (no benchmark text).
"""

from __future__ import annotations

import doctest
import json

import pandas as pd
import pytest

import data_prep
from data_prep.records import DataError, format_value
from data_prep.sources import BENCHMARKS, SOURCES, LoadStats, load_source, normalise_row


def _jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return str(path)


GSM_ROWS = [
    {
        "question": "A shelf holds 6 jars with 15 beads in each. How many beads?",
        "answer": "6 jars hold 6 * 15 = <<6*15=90>>90 beads.\n#### 90",
    },
    {
        "question": "Lia buys 4 pens at $2.50 each and pays with a $20 bill. What change does she get?",
        "answer": "The pens cost 4 * 2.50 = <<4*2.50=10>>10 dollars.\nChange is 20 - 10 = <<20-10=10>>10.\n#### 10",
    },
]


def test_gsm8k_rows_become_records_with_calculator_results_as_reference_values(tmp_path):
    records = load_source("gsm8k", "train", input_path=_jsonl(tmp_path / "g.jsonl", GSM_ROWS))
    assert [r.answer for r in records] == ["90", "10"]
    assert records[0].reference_values == ("90",)
    assert records[1].source == "gsm8k" and records[1].split == "train" and records[1].id == "1"
    assert records[1].reference.endswith("#### 10")


def test_every_source_normalises_a_hand_written_row():
    rows = {
        "gsm8k": GSM_ROWS[0],
        "gsm_symbolic_apple": {"id": 3, "instance": 7, **GSM_ROWS[0]},
        "svamp": {
            "ID": "s-1",
            "Body": "A tray has 12 muffins",
            "Question": "If 5 are sold, how many remain?",
            "Equation": "( 12.0 - 5.0 )",
            "Answer": 7.0,
        },
        "asdiv": {
            "id": "a-1",
            "body": "Max has 9 kites and makes 4 more.",
            "question": "How many kites now?",
            "formula": "9+4=13",
            "answer": "13 (kites)",
        },
        "mawps": {
            "id": "m-1",
            "question": "A bus carries 30 people; 12 get off. How many are left?",
            "equation": "x=30-12",
            "result": "18",
            "result_float": 18.0,
        },
        "tabmwp": {
            "question": "How many stamps in total?",
            "table_title": "Stamps",
            "table": "Ann | 3\nBo | 5",
            "choices": None,
            "answer": "8",
            "solution": "Add: 3 + 5 = 8.",
        },
        "gsm_hard": {
            "input": "A farm has 1234567 hens and buys 3 more. How many hens?",
            "code": "x=1",
            "target": 1234570.0,
        },
        "reasoning_gym_gsm": {
            "question": "Kai has 3 boxes of 4 toys. How many toys?",
            "answer": "12",
            "metadata": {"answer_cot": "3 * 4 = 12 toys\n#### 12", "variables": {"total": 12}},
        },
    }
    assert set(rows) == set(SOURCES)
    expected = {
        "gsm8k": "90",
        "gsm_symbolic_apple": "90",
        "svamp": "7",
        "asdiv": "13",
        "mawps": "18",
        "tabmwp": "8",
        "gsm_hard": "1234570",
        "reasoning_gym_gsm": "12",
    }
    for name, row in rows.items():
        record = normalise_row(name, row, "test", 0)
        assert record.answer == expected[name], name
        assert record.question and record.reference.rstrip().splitlines()[-1] == f"#### {expected[name]}", name
        assert expected[name] in record.reference_values, name
    assert normalise_row("svamp", rows["svamp"], "test", 0).question == (
        "A tray has 12 muffins. If 5 are sold, how many remain?"
    )
    assert normalise_row("gsm_symbolic_apple", rows["gsm_symbolic_apple"], "test", 0).id == "3-7"
    assert "Ann | 3" in normalise_row("tabmwp", rows["tabmwp"], "test", 0).question


def test_nested_equation_brackets_give_intermediate_reference_values():
    row = {
        "Body": "Each of 3 bags holds 2 red and 5 blue balls",
        "Question": "How many balls?",
        "Equation": "( 3.0 * ( 2.0 + 5.0 ) )",
        "Answer": 21,
    }
    record = normalise_row("svamp", row, "train", 0)
    assert sorted(record.reference_values, key=int) == ["7", "21"]


def test_a_malformed_row_raises_an_error_naming_file_row_and_field(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [GSM_ROWS[0], {"question": "No answer here?", "answer": "just words"}])
    with pytest.raises(DataError) as caught:
        load_source("gsm8k", "train", input_path=path)
    message = str(caught.value)
    assert path in message and "line 2" in message and "'answer'" in message and "####" in message


def test_malformed_rows_are_skipped_and_counted_when_asked(tmp_path):
    rows = [
        GSM_ROWS[0],
        "{not json",
        {"question": "", "answer": "#### 3"},
        {"question": "Q?", "answer": "#### many"},
        GSM_ROWS[1],
    ]
    stats = LoadStats()
    records = load_source(
        "gsm8k", "train", input_path=_jsonl(tmp_path / "mixed.jsonl", rows), skip_malformed=True, stats=stats
    )
    assert len(records) == 2 and stats.rows == 5 and stats.kept == 2
    assert stats.skipped == {"<json>: not JSON": 1, "question: missing": 1, "answer: not a number": 1}
    assert sum(stats.skipped.values()) + stats.kept == stats.rows


def test_missing_column_error_lists_the_columns_present(tmp_path):
    path = _jsonl(tmp_path / "wrong.jsonl", [{"problem": "x", "solution": "#### 1"}])
    with pytest.raises(DataError, match=r"field 'question'.*columns present: problem, solution"):
        load_source("gsm8k", "train", input_path=path)


def test_parquet_and_json_inputs_load_like_jsonl(tmp_path):
    parquet = tmp_path / "g.parquet"
    pd.DataFrame(GSM_ROWS).to_parquet(parquet)
    as_json = tmp_path / "g.json"
    as_json.write_text(json.dumps(GSM_ROWS))
    keyed = tmp_path / "tab.json"  # PromptPG's layout: an object keyed by problem id
    keyed.write_text(
        json.dumps({"17": {"question": "Total?", "table": "a | 2\nb | 2", "answer": "4", "solution": "2 + 2 = 4."}})
    )
    assert [r.answer for r in load_source("gsm8k", "test", input_path=str(parquet))] == ["90", "10"]
    assert [r.answer for r in load_source("gsm8k", "test", input_path=str(as_json))] == ["90", "10"]
    assert load_source("tabmwp", "test", input_path=str(keyed))[0].id == "17"


def test_limit_keeps_the_first_well_formed_rows(tmp_path):
    path = _jsonl(tmp_path / "g.jsonl", GSM_ROWS * 3)
    assert len(load_source("gsm8k", "train", input_path=path, limit=4)) == 4
    with pytest.raises(ValueError, match="limit=0"):
        load_source("gsm8k", "train", input_path=path, limit=0)


def test_offline_generator_is_seeded_and_splits_differ():
    first = load_source("reasoning_gym_gsm", "train", limit=5, seed=1)
    again = load_source("reasoning_gym_gsm", "train", limit=5, seed=1)
    test = load_source("reasoning_gym_gsm", "test", limit=5, seed=1)
    assert [r.question for r in first] == [r.question for r in again]
    assert not {r.question for r in first} & {r.question for r in test}
    assert all(r.reference.rstrip().splitlines()[-1].startswith("####") for r in first)
    assert all("Give the result as your final answer" not in r.question for r in first)


def test_unknown_source_names_the_choices():
    with pytest.raises(ValueError, match="gsm8k"):
        load_source("gsm9k", "train")
    assert set(BENCHMARKS) < set(SOURCES)


@pytest.mark.parametrize("old", ["gsm_symbolic"])
def test_the_old_name_of_the_reasoning_gym_source_is_refused_naming_the_new_one(old):
    with pytest.raises(ValueError, match="renamed: use reasoning_gym_gsm .*gsm_symbolic_apple"):
        load_source(old, "train", limit=1)


def test_format_value_is_exact():
    from fractions import Fraction

    assert [format_value(Fraction(v)) for v in ("72", "72.50", "1/3", "-0.125")] == ["72", "72.5", "1/3", "-0.125"]
    assert format_value(1234570.0) == "1234570"


@pytest.mark.parametrize(
    "module",
    [
        "data_prep.records",
        "data_prep.sources",
        "data_prep.sources.fields",
        "data_prep.prompts",
        "data_prep.store",
        "data_prep.teachers",
        "data_prep.teachers.base",
        "data_prep.teachers.template",
        "data_prep.comt",
        "data_prep.outputs",
        "data_prep.options",
        "fake_server",
    ],
)
def test_module_docstring_examples_run(module):
    import importlib

    loaded = importlib.import_module(module)
    result = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and (result.attempted > 0 or module == "data_prep.records")
    assert data_prep.Record is not None
