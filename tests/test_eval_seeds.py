"""``python -m verl_ccrl.eval``: seeds (one table row, mean and sample sd), the final answer's confidence, the
calibration table, and the training curves of verl's file logger (``curves``).

Run JSONs are written by hand here, in the format of ``verl_ccrl.eval.runner``; the end-to-end runs live in
``test_eval.py``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import statistics

import pytest
from eval_runs import write_run

from verl_ccrl.calibration import measure_calibration
from verl_ccrl.eval.cli import main
from verl_ccrl.eval.curves import read_metric_log, training_curves
from verl_ccrl.eval.data import EvalExample
from verl_ccrl.eval.results import run_file_name
from verl_ccrl.eval.scoring import score_sample

# The pre-seed table of three single-seed runs (written by the code before seeds existed, commit 9280391).
GOLDEN_MARKDOWN = """\
| Method | Model | GSM8K | SVAMP | ASDiv | ID avg | OOD avg | Tokens | OCE@0.9 |
|---|---|---:|---:|---:|---:|---:|---:|---:|
| CoMT+CCRL | toy | 62.5 | 71.0 | 55.2 | 66.8 | 55.2 | 146 | 66.7 |

Accuracy in %, greedy decoding. ID avg / OOD avg: unweighted mean over GSM8K, SVAMP / ASDiv. Tokens: mean response \
tokens over all evaluated responses. OCE@0.9: overconfident-error rate (%), the share of wrong computed numbers with \
confidence exp(-mean token entropy) > 0.9, pooled over the row's benchmarks."""
GOLDEN_CSV = [
    "method,model,gsm8k,svamp,asdiv,id_avg,ood_avg,mean_tokens,overconfident_error@0.9,overconfident_error@0.5,"
    "overconfident_error@0.7,ece,n_judged,n_wrong,id_avg_over,ood_avg_over,n_gsm8k,n_svamp,n_asdiv",
    "CoMT+CCRL,toy,62.5000,71.0000,55.2500,66.7500,55.2500,145.7143,66.6667,66.6667,66.6667,46.0000,6,3,"
    "gsm8k svamp,asdiv,40,20,10",
]
GOLDEN_RUNS = [
    ("gsm8k", 62.5, 40, 180.0, [(0.95, 0), (0.8, 1), (0.3, 0)]),
    ("svamp", 71.0, 20, 90.0, [(0.99, 1)]),
    ("asdiv", 55.25, 10, 120.0, [(0.92, 0), (0.6, 1)]),
]


def _run_json(directory, benchmark, accuracy, *, method="CoMT+CCRL", model="toy", **fields):
    return write_run(directory, method, model, benchmark, accuracy, **fields)


def _table(directory):
    assert main(["table", "--runs-dir", str(directory), "--quiet"]) == 0
    with open(directory / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, (directory / "results.md").read_text()


def test_two_seeds_of_a_method_and_model_become_one_row_with_the_mean_and_the_sample_sd(tmp_path):
    seeds = {1: (60.0, 40.0, 100.0, [(0.95, 0), (0.3, 0)]), 2: (70.0, 45.0, 140.0, [(0.95, 0), (0.99, 0), (0.8, 1)])}
    for seed, (gsm8k, asdiv, tokens, judged) in seeds.items():
        _run_json(tmp_path, "gsm8k", gsm8k, seed=seed, tokens=tokens, judged=judged)
        _run_json(tmp_path, "asdiv", asdiv, seed=seed, tokens=tokens)
    [row], markdown = _table(tmp_path)

    expected = {"gsm8k": [60.0, 70.0], "asdiv": [40.0, 45.0], "mean_tokens": [100.0, 140.0]}
    expected["overconfident_error@0.9"] = [50.0, 100.0]  # per seed, then averaged
    for column, values in expected.items():  # the CSV has 4 decimals
        assert float(row[column]) == pytest.approx(statistics.mean(values), abs=5e-5), column
        assert float(row[f"{column}_sd"]) == pytest.approx(statistics.stdev(values), abs=5e-5), column
    assert (row["n_seeds"], row["seeds"], row["n_gsm8k"], row["n_judged"]) == ("2", "1 2", "20", "5")
    assert "| CoMT+CCRL | toy | 65.0 ± 7.1 | 42.5 ± 3.5 |" in markdown


def test_one_seed_shows_no_spread_and_the_table_it_had_before_seeds(tmp_path):
    for seed in (None, 7):
        directory = tmp_path / f"seed{seed}"
        directory.mkdir()
        for benchmark, accuracy, n, tokens, judged in GOLDEN_RUNS:
            _run_json(directory, benchmark, accuracy, seed=seed, n=n, tokens=tokens, judged=judged)
        rows, markdown = _table(directory)
        first_table = markdown.split("\n\n## Calibration")[0]
        assert first_table == GOLDEN_MARKDOWN
        assert not [line for line in markdown.splitlines() if line.startswith("|") and "±" in line]
        lines = (directory / "results.csv").read_text().splitlines()
        width = GOLDEN_CSV[0].count(",") + 1
        assert [",".join(next(csv.reader([line]))[:width]) for line in lines] == GOLDEN_CSV
        assert rows[0]["n_seeds"] == "1" and rows[0]["gsm8k_sd"] == ""


def test_a_run_without_seed_keeps_its_file_name_and_a_seed_gets_its_own():
    assert run_file_name("CoMT+CCRL", "Qwen2.5-1.5B", "gsm8k") == "CoMT-CCRL__Qwen2.5-1.5B__gsm8k-f190d7d0.json"
    seeded = {run_file_name("CoMT+CCRL", "Qwen2.5-1.5B", "gsm8k", seed) for seed in (1, 2)}
    assert len(seeded) == 2 and all("__gsm8k__seed" in name for name in seeded)


def test_an_old_run_without_seed_or_answer_points_still_merges_beside_seeded_runs(tmp_path):
    _run_json(tmp_path, "gsm8k", 50.0, method="CoT-SFT", judged=[(0.95, 0)])  # as written before seeds existed
    _run_json(tmp_path, "gsm8k", 60.0, seed=1, answer_points=[(0.9, 1)])
    rows, _ = _table(tmp_path)
    by_method = {row["method"]: row for row in rows}
    assert float(by_method["CoT-SFT"]["gsm8k"]) == 50.0 and by_method["CoT-SFT"]["seeds"] == "none"
    assert by_method["CoT-SFT"]["answer_ece"] == "" and by_method["CoT-SFT"]["n_answer_judged"] == "0"
    assert float(by_method["CoMT+CCRL"]["gsm8k"]) == 60.0


def test_the_newest_run_wins_per_seed_not_across_seeds(tmp_path):
    _run_json(tmp_path, "gsm8k", 10.0, seed=1, created="2025-01-01")
    old = _run_json(tmp_path, "gsm8k", 50.0, seed=2, created="2025-01-01")
    old.rename(tmp_path / "copied.json")
    _run_json(tmp_path, "gsm8k", 30.0, seed=2, created="2025-02-01")
    [row], _ = _table(tmp_path)
    assert (float(row["gsm8k"]), row["n_seeds"]) == (20.0, "2")  # seeds 1 (10) and 2 (the newer 30)


def _scored(response: str, entropies: bool = True):
    problem = "Ann buys 4 pens at $3 each and a $5 book. What does she pay?"
    example = EvalExample("gsm8k", 0, [{"role": "user", "content": problem}], problem, "17", None, (), "f", 0)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", response)]  # one token per word
    return score_sample(
        example,
        response,
        token_spans=spans,
        entropies=[0.1 * index for index in range(len(spans))] if entropies else None,  # token i: exp(-0.1 i)
        n_tokens=len(spans),
        finish_reason="stop",
    )


@pytest.mark.parametrize(
    "response, answer_token, entropies",
    [
        # The answer's last mention is the restatement after "The answer is" (token 14), not "= 17" (token 10).
        ("4 * 3 = 12 and 12 + 5 = 17. The answer is 17.", 14, True),
        ("4 * 3 = 12 and 12 + 5 = 17. #### 17", 12, True),
        # No explicit answer: the last number is the answer, and its own mention states it.
        ("4 * 3 = 12 and 12 + 5 = 18", 10, True),
        # The answer 4 is a number the problem gives: extracted, no confidence, and no earlier mention stands in.
        ("12 + 5 = 17, no: The answer is 4.", None, True),
        ("I cannot tell.", None, True),
        ("4 * 3 = 12 and 12 + 5 = 17. The answer is 17.", None, False),  # no entropies, no confidence
    ],
)
def test_answer_confidence_is_that_of_the_last_mention_of_the_answer(response, answer_token, entropies):
    record = _scored(response, entropies)
    expected = None if answer_token is None else pytest.approx(math.exp(-0.1 * answer_token))
    assert record["answer_confidence"] == expected


def test_calibration_table_rates_equal_measure_calibration_of_the_same_points(tmp_path):
    judged = [(0.95, 0), (0.75, 0), (0.55, 1), (0.2, 0), (0.99, 1)]
    answers = [(0.97, 0), (0.6, 1), (0.91, 1), (0.72, 0)]
    _run_json(tmp_path, "gsm8k", 50.0, judged=judged[:3], answer_points=answers[:2])
    _run_json(tmp_path, "svamp", 50.0, judged=judged[3:], answer_points=answers[2:])
    [row], markdown = _table(tmp_path)
    for prefix, points in (("", judged), ("answer_", answers)):
        calibration = measure_calibration(points)
        for threshold, rate in calibration.overconfident_error_rate.items():
            assert float(row[f"{prefix}overconfident_error@{threshold:g}"]) == pytest.approx(100 * rate)
        assert float(row[f"{prefix}ece"]) == pytest.approx(100 * calibration.ece)
    assert (row["n_judged"], row["n_answer_judged"], row["n_answer_wrong"]) == ("5", "4", "2")
    assert "| CoMT+CCRL / toy | 1 | 5 | " in markdown.split("## Calibration")[1]


def _log(path, values_by_step, extra_lines=()):
    lines = [json.dumps({"step": step, "data": data}) for step, data in values_by_step.items()]
    path.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return str(path)


def test_curves_of_two_seeds_write_a_png_and_average_each_step(tmp_path):
    seed1 = _log(tmp_path / "ccrl_s1.jsonl", {1: {"ccrl/ece": 0.2, "ccrl/outcome_mean": 0.1}, 2: {"ccrl/ece": 0.1}})
    seed2 = _log(tmp_path / "ccrl_s2.jsonl", {1: {"ccrl/ece": 0.4}, 2: {"ccrl/ece": 0.3, "ccrl/outcome_mean": 0.5}})
    outcome = _log(tmp_path / "outcome_s1.jsonl", {1: {"ccrl/ece": 0.5, "ccrl/outcome_mean": 0.0}})
    png = tmp_path / "plots" / "curves.png"
    logs = [f"CCRL={seed1}", f"CCRL={seed2}", f"outcome={outcome}"]
    assert main(["curves", "--logs", *logs, "--out", str(png), "--quiet"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    curves = training_curves({"CCRL": [seed1, seed2], "outcome": [outcome]}, ["ccrl/ece", "ccrl/outcome_mean"])
    ece = curves["ccrl/ece"]["CCRL"]
    assert (ece.steps, ece.mean, ece.low, ece.high) == ((1, 2), pytest.approx((0.3, 0.2)), (0.2, 0.1), (0.4, 0.3))
    outcome_mean = curves["ccrl/outcome_mean"]["CCRL"]  # each seed logged it at one step only
    assert (outcome_mean.steps, outcome_mean.mean, outcome_mean.n_files) == ((1, 2), (0.1, 0.5), 2)


def test_a_torn_line_is_skipped_and_counted(tmp_path, caplog):
    path = _log(tmp_path / "run.jsonl", {1: {"ccrl/ece": 0.2}, 2: {"ccrl/ece": 0.1}}, ['{"step": 3, "data": {"ccr'])
    with caplog.at_level(logging.WARNING):
        log = read_metric_log(path)
    assert sorted(log.steps) == [1, 2] and log.skipped_lines == 1
    assert "skipped 1 unreadable line(s) of 3" in caplog.text and "run.jsonl" in caplog.text


def test_a_missing_log_file_is_an_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "no_such.jsonl"
    assert main(["curves", "--logs", f"CCRL={missing}", "--out", str(tmp_path / "c.png")]) == 2
    error = capsys.readouterr().err
    assert f"{missing}: no such file" in error and "Traceback" not in error
