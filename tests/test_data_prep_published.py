"""data_prep loads each benchmark file in the format its authors publish; answers are kept as published.

The rows are written here in each published format (no benchmark file is read). Quoted answers ("The 60th caller.",
"Each term in pattern B is 10 times ...", "3244047.0999999996") are short quotes of ASDiv, TabMWP and GSM-Hard items.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data_prep.outputs import write_eval_parquet
from data_prep.records import DataError
from data_prep.sources import EVAL_SPLITS, SOURCES, LoadStats, load_source, normalise_row
from data_prep.sources.answers import published_answer


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------------------------------ ASDiv.xml

ASDIV_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<Machine-Reading-Corpus-File>
<ProblemSet>
\t<Problem ID="t-0001" Grade="1" Source="written for this test">
\t\t<Body>Nine red kites and four green kites fly over the park.</Body>
\t\t<Question>How many kites fly over the park?</Question>
\t\t<Solution-Type>Addition</Solution-Type>
\t\t<Answer>13 (kites)</Answer>
\t\t<Formula>9+4=13</Formula>
\t</Problem>
\t<Problem ID="t-0002" Grade="3" Source="written for this test">
\t\t<Body>A radio show gives a prize to every 20th caller. Three prizes were given.</Body>
\t\t<Question>Which caller got the third prize?</Question>
\t\t<Solution-Type>Multiplication</Solution-Type>
\t\t<Answer>The 60th caller.</Answer>
\t\t<Formula>20*3=60</Formula>
\t</Problem>
\t<Problem ID="t-0003" Grade="4" Source="written for this test">
\t\t<Body>Vendor 1 sells 3 pens for $2. Vendor 2 sells 5 pens for $3.</Body>
\t\t<Question>Which vendor sells pens for less each?</Question>
\t\t<Solution-Type>Comparison</Solution-Type>
\t\t<Answer>Vendor 2</Answer>
\t\t<Formula>2/3&gt;3/5</Formula>
\t</Problem>
\t<Problem ID="t-0004" Grade="6" Source="written for this test">
\t\t<Body>A class has 10 girls and 12 boys.</Body>
\t\t<Question>What is the ratio of girls to boys?</Question>
\t\t<Solution-Type>Ratio</Solution-Type>
\t\t<Answer>5:6</Answer>
\t\t<Formula>10:12=5:6</Formula>
\t</Problem>
</ProblemSet>
</Machine-Reading-Corpus-File>
"""


def test_asdiv_xml_loads_every_problem_with_its_id_and_body_and_question(tmp_path):
    records = load_source("asdiv", "validation", input_path=_write(tmp_path / "ASDiv.xml", ASDIV_XML))
    assert [r.id for r in records] == ["t-0001", "t-0002", "t-0003", "t-0004"]
    assert (
        records[0].question
        == "Nine red kites and four green kites fly over the park. How many kites fly over the park?"
    )
    assert records[0].reference == "9+4=13\n#### 13"


@pytest.mark.parametrize(
    "problem_id, answer, answer_type",
    [
        ("t-0001", "13", "number"),  # the unit note "(kites)" is no part of the answer
        ("t-0002", "The 60th caller.", "text"),
        ("t-0003", "Vendor 2", "text"),
        ("t-0004", "5:6", "text"),
    ],
)
def test_asdiv_xml_answers_are_numbers_or_kept_text_never_a_number_read_out_of_text(
    tmp_path, problem_id, answer, answer_type
):
    records = {r.id: r for r in load_source("asdiv", "validation", input_path=_write(tmp_path / "a.xml", ASDIV_XML))}
    assert (records[problem_id].answer, records[problem_id].meta["answer_type"]) == (answer, answer_type)


def test_a_text_answer_has_no_reference_values_to_judge_numbers_against(tmp_path):
    records = {r.id: r for r in load_source("asdiv", "validation", input_path=_write(tmp_path / "a.xml", ASDIV_XML))}
    assert records["t-0002"].reference_values == () and records["t-0001"].reference_values == ("13",)


def test_a_file_that_is_not_xml_names_the_file_and_line(tmp_path):
    path = _write(tmp_path / "broken.xml", "<ProblemSet>\n<Problem ID='x'>\n</ProblemSet>\n")
    with pytest.raises(DataError, match=r"broken\.xml: line 3, field '<xml>': not XML"):
        load_source("asdiv", "validation", input_path=path)


# ------------------------------------------------------------------------------------------------------------ MAWPS

MAWPS_ORIGINAL = [  # iIndex, sQuestion, lEquations, lSolutions: MAWPS as its authors publish it
    {
        "iIndex": 11,
        "sQuestion": "A box holds 7 rows of 8 eggs. How many eggs?",
        "lEquations": ["7*8=x"],
        "lSolutions": [56.0],
    },
    {
        "iIndex": 12,
        "sQuestion": "Jo ran 5 miles in 6 days, the same each day. How far each day?",
        "lEquations": ["X=(5.0/6.0)"],
        "lSolutions": ["0.8333333333333334"],
    },
]
MAWPS_MWPTOOLKIT = [  # id, original_text, segmented_text, equation, ans: MWPToolkit's dataset/mawps/MAWPS.json
    {
        "id": 1,
        "original_text": "A box holds 7 rows of 8 eggs . How many eggs ?",
        "segmented_text": "A box holds 7 rows of 8 eggs . How many eggs ?",
        "equation": "x=7*8",
        "ans": 56.0,
    },
    {
        "id": 2,
        "original_text": "Jo ran 5 miles in 6 days , the same each day . How far each day ?",
        "segmented_text": "Jo ran 5 miles in 6 days , the same each day . How far each day ?",
        "equation": "X=(5.0/6.0)",
        "ans": "0.8333333333333334",
    },
]


@pytest.mark.parametrize("rows", [MAWPS_ORIGINAL, MAWPS_MWPTOOLKIT], ids=["original", "mwptoolkit"])
def test_mawps_json_loads_every_row_in_both_published_forms(tmp_path, rows):
    records = load_source("mawps", "test", input_path=_write(tmp_path / "mawps.json", json.dumps(rows)))
    assert [r.answer for r in records] == ["56", "0.8333333333333334"]
    assert [r.meta["answer_type"] for r in records] == ["number", "float"]
    assert records[0].reference == "7*8 = 56\n#### 56"


def test_mawps_with_several_solutions_is_refused_naming_the_field():
    row = {
        "iIndex": 1,
        "sQuestion": "Two numbers sum to 10 and differ by 2. What are they?",
        "lEquations": ["x+y=10", "x-y=2"],
        "lSolutions": [6.0, 4.0],
    }
    with pytest.raises(DataError, match=r"field 'lSolutions': has 2 solutions"):
        normalise_row("mawps", row, "test", 0)


# ----------------------------------------------------------------------------------------------------------- TabMWP

TABMWP = {  # PromptPG's problems_test.json: an object keyed by problem id
    "101": {
        "question": "How many stickers do Ann and Bo have in all?",
        "choices": None,
        "answer": "1,204",
        "unit": None,
        "table_title": "Stickers",
        "table": "Name | Stickers\nAnn | 602\nBo | 602",
        "row_num": 3,
        "column_num": 2,
        "solution": "Add: 602 + 602 = 1,204.",
        "ques_type": "free_text",
        "ans_type": "integer_number",
        "grade": 3,
        "split": "test",
    },
    "102": {
        "question": "Look at the patterns. How are they related?",
        "choices": [
            "Each term in pattern B is 5 more than the corresponding term in pattern A.",
            "Each term in pattern B is 10 times the corresponding term in pattern A.",
        ],
        "answer": "Each term in pattern B is 10 times the corresponding term in pattern A.",
        "unit": None,
        "table_title": "Patterns",
        "table": "A | B\n1 | 10\n2 | 20",
        "row_num": 3,
        "column_num": 2,
        "solution": "10 = 1 x 10 and 20 = 2 x 10.",
        "ques_type": "multi_choice",
        "ans_type": "other_text",
        "grade": 5,
        "split": "test",
    },
    "103": {
        "question": "Which lasts longer?",
        "choices": ["30 minutes", "1 hour"],
        "answer": "1 hour",
        "unit": None,
        "table_title": "Shows",
        "table": "Show | Length\nNews | 30 minutes\nFilm | 1 hour",
        "row_num": 3,
        "column_num": 2,
        "solution": "1 hour is 60 minutes, more than 30 minutes.",
        "ques_type": "multi_choice",
        "ans_type": "extractive_text",
        "grade": 2,
        "split": "test",
    },
    "104": {
        "question": "What fraction of the shirts are red? Simplify your answer.",
        "choices": None,
        "answer": "3/10",
        "unit": None,
        "table_title": "Shirts",
        "table": "Color | Shirts\nred | 3\nblue | 7",
        "row_num": 3,
        "column_num": 2,
        "solution": "3 of the 10 shirts are red: 3/10.",
        "ques_type": "free_text",
        "ans_type": "decimal_number",
        "grade": 6,
        "split": "test",
    },
}


def test_tabmwp_problems_json_keeps_multiple_choice_items_with_their_choices(tmp_path):
    records = load_source("tabmwp", "test", input_path=_write(tmp_path / "problems_test.json", json.dumps(TABMWP)))
    assert [(r.id, r.answer, r.meta["answer_type"]) for r in records] == [
        ("101", "1204", "number"),
        ("102", "Each term in pattern B is 10 times the corresponding term in pattern A.", "text"),
        ("103", "1 hour", "text"),
        ("104", "3/10", "number"),
    ]
    assert records[2].meta["choices"] == ["30 minutes", "1 hour"]
    assert records[2].question.endswith("\nChoices: 30 minutes, 1 hour")
    assert {r.split for r in records} == {"test"}


def test_tabmwp_rows_of_another_split_are_refused_naming_the_file_to_pass(tmp_path):
    path = _write(tmp_path / "problems_test.json", json.dumps(TABMWP))
    with pytest.raises(DataError, match=r"field 'split'.*from split 'test', but split 'train'.*problems_train\.json"):
        load_source("tabmwp", "train", input_path=path)


def test_the_eval_parquet_carries_answer_type_published_answer_and_choices(tmp_path):
    records = load_source("tabmwp", "test", input_path=_write(tmp_path / "problems_test.json", json.dumps(TABMWP)))
    rows = pd.read_parquet(write_eval_parquet(records, str(tmp_path / "eval_tabmwp.parquet")))
    extra = rows.iloc[2]["extra_info"]
    assert rows.iloc[2]["reward_model"]["ground_truth"] == "1 hour"
    assert (extra["answer_type"], list(extra["choices"]), extra["split"]) == ("text", ["30 minutes", "1 hour"], "test")
    assert rows.iloc[0]["extra_info"]["published_answer"] == "1,204"


# --------------------------------------------------------------------------------------------------------- GSM-Hard

GSM_HARD_JSONL = (  # input, code, target: reasoning-machines/gsm-hard's gsmhardv2.jsonl
    '{"input": "A shop sells 2134567 pens at $1.52 each. How much money does it make?", '
    '"code": "def solution():\\n    return 2134567 * 1.52", "target": 3244541.8400000003}\n'
    '{"input": "A farm has 1234567 hens and buys 3 more. How many hens?", '
    '"code": "def solution():\\n    return 1234567 + 3", "target": 1234570.0}\n'
)


def test_gsm_hard_float_targets_are_kept_digit_for_digit_and_marked_float(tmp_path):
    records = load_source("gsm_hard", "test", input_path=_write(tmp_path / "gsmhardv2.jsonl", GSM_HARD_JSONL))
    assert [(r.answer, r.meta["answer_type"]) for r in records] == [
        ("3244541.8400000003", "float"),
        ("1234570", "number"),
    ]


@pytest.mark.parametrize("benchmark", ["tabmwp", "gsm_hard"])
def test_tabmwp_and_gsm_hard_are_evaluated_on_their_test_split(benchmark):
    assert EVAL_SPLITS[benchmark] == "test" and "test" in SOURCES[benchmark].splits


def test_gsm_hard_reads_its_test_problems_from_the_hub_split_the_hub_calls_train():
    assert SOURCES["gsm_hard"].hub_splits == {"test": "train"}


# ----------------------------------------------------------------------------------------------------- GSM-Symbolic

GSM_SYMBOLIC_JSONL = "".join(  # Apple's generated_data/GSM_symbolic.jsonl: one row per (template id, instance)
    json.dumps(
        {
            "id": 0,
            "instance": instance,
            "question": f"Mia has {bags} bags of 6 apples. How many apples does she have?",
            "answer": f"She has {bags} * 6 = {bags * 6} apples.\n#### {bags * 6}",
            "original_id": 17,
            "original_question": "...",
            "original_answer": "...",
            "canary": "canary GUID written-for-this-test",
        }
    )
    + "\n"
    for instance, bags in enumerate([3, 4])
)


def test_gsm_symbolic_jsonl_loads_one_record_per_template_instance(tmp_path):
    path = _write(tmp_path / "GSM_symbolic.jsonl", GSM_SYMBOLIC_JSONL)
    records = load_source("gsm_symbolic_apple", "test", input_path=path)
    assert [(r.id, r.answer, r.meta["answer_type"]) for r in records] == [
        ("0-0", "18", "number"),
        ("0-1", "24", "number"),
    ]
    assert records[1].reference_values == ("24",)


# ----------------------------------------------------------------------------------------------- published answers


@pytest.mark.parametrize(
    "value, text, answer_type",
    [
        ("1,522.81", "1522.81", "number"),
        ("-3/10", "-3/10", "number"),
        ("6/20", "3/10", "number"),
        ("10/5", "2", "number"),
        ("$4.90", "4.9", "number"),
        (72.0, "72", "number"),
        (2.5, "2.5", "number"),
        (3244047.0999999996, "3244047.0999999996", "float"),
        ("0.8333333333333334", "0.8333333333333334", "float"),
        ("1 hour", "1 hour", "text"),
        ("Vendor 2", "Vendor 2", "text"),
        ("6th", "6th", "text"),
        ("3:30 p.m.", "3:30 p.m.", "text"),
        ("1.5/2", "1.5/2", "text"),
        ("12,34", "12,34", "text"),
    ],
)
def test_a_published_answer_is_a_number_only_when_all_of_it_is_one(value, text, answer_type):
    answer = published_answer(value, "f", "0", "answer", text_allowed=True)
    assert (answer.text, answer.type) == (text, answer_type)


@pytest.mark.parametrize("source", ["gsm8k", "svamp", "mawps", "gsm_hard"])
def test_a_text_answer_where_the_benchmark_has_only_numbers_is_a_malformed_row(source):
    rows = {
        "gsm8k": {"question": "How many hens?", "answer": "4 + 3 = 7\n#### 7 hens"},
        "svamp": {"Body": "Ann has 4 hens", "Question": "How many?", "Answer": "Vendor 2"},
        "mawps": {"sQuestion": "How many hens?", "lEquations": ["4+3=x"], "lSolutions": ["seven"]},
        "gsm_hard": {"input": "How many hens?", "target": "about 7"},
    }
    with pytest.raises(DataError, match="is not a single number"):
        normalise_row(source, rows[source], "test", 0)


def test_every_text_answer_of_a_file_is_kept_and_counted_as_text(tmp_path):
    stats = LoadStats()
    records = load_source(
        "asdiv", "validation", input_path=_write(tmp_path / "a.xml", ASDIV_XML), skip_malformed=True, stats=stats
    )
    assert stats.rows == stats.kept == 4 and not stats.skipped
    assert sum(r.meta["answer_type"] == "text" for r in records) == 3
    assert stats.as_dict()["answer_types"] == {"number": 1, "text": 3}


@pytest.mark.parametrize("module", ["data_prep.sources.answers", "data_prep.sources.readers"])
def test_the_loader_modules_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
