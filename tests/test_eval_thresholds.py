"""``--thresholds``: the evaluation measures overconfidence at the thresholds a run was trained with; the default is
the one constant the training metrics use too."""

from __future__ import annotations

import csv

import pytest
from eval_runs import write_run

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS, measure_calibration
from verl_ccrl.config import CCRLConfig
from verl_ccrl.eval import EvalConfig, EvalConfigError, TableConfig
from verl_ccrl.eval.cli import main
from verl_ccrl.eval.scoring import summarize_benchmark

JUDGED = [(0.95, 0), (0.75, 0), (0.65, 0), (0.55, 1), (0.2, 0)]
ANSWERS = [(0.97, 0), (0.62, 0), (0.91, 1)]


def table(directory, *flags):
    write_run(directory, "CoMT+CCRL", "toy", "gsm8k", 50.0, judged=JUDGED, answer_points=ANSWERS)
    assert main(["table", "--runs-dir", str(directory), "--quiet", *flags]) == 0
    with open(directory / "results.csv", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    return row, (directory / "results.md").read_text()


def test_the_training_metrics_and_the_evaluation_share_one_default():
    eval_config = EvalConfig(data=("x.parquet",), model="m", method="m", out_dir="o")
    assert CCRLConfig().overconfidence_thresholds == OVERCONFIDENCE_THRESHOLDS == eval_config.thresholds


def test_the_table_reports_the_rates_at_the_thresholds_given(tmp_path):
    row, markdown = table(tmp_path, "--thresholds", "0.8", "0.6")
    table_part, calibration_part = markdown.split("## Calibration")
    assert "| OCE@0.8 |" in table_part.splitlines()[0] and "OCE@0.9" not in markdown
    assert "| OCE@0.6 | OCE@0.8 | ECE |" in calibration_part and "| Answer OCE@0.6 | Answer OCE@0.8 |" in markdown
    for prefix, points in (("", JUDGED), ("answer_", ANSWERS)):
        rates = measure_calibration(points, thresholds=(0.6, 0.8)).overconfident_error_rate
        assert {t: float(row[f"{prefix}overconfident_error@{t:g}"]) for t in (0.6, 0.8)} == pytest.approx(
            {t: 100 * rate for t, rate in rates.items()}
        )
    assert not any("@0.5" in column or "@0.7" in column or "@0.9" in column for column in row)


def test_without_the_flag_the_table_keeps_the_papers_thresholds(tmp_path):
    row, markdown = table(tmp_path)
    assert "| OCE@0.9 |" in markdown.splitlines()[0]
    assert {f"overconfident_error@{t:g}" for t in (0.5, 0.7, 0.9)} <= set(row)


def test_a_run_summary_measures_at_the_thresholds_given():
    record = {"correct": False, "n_tokens": 5, "finish_reason": "stop", "answer_confidence": 0.62}
    record["numbers"] = [{"kind": "computed", "verdict": "wrong", "confidence": 0.65}]
    summary = summarize_benchmark([record], thresholds=(0.6, 0.7))
    assert summary["calibration"]["overconfident_error_rate@0.6"] == 1.0
    assert summary["calibration"]["overconfident_error_rate@0.7"] == 0.0
    assert summary["answer_calibration"]["overconfident_error_rate@0.6"] == 1.0


@pytest.mark.parametrize("bad", [("1.5",), ("0.5", "0.5"), ("high",), (), ("-0.1",), ("nan",)])
def test_thresholds_outside_0_1_repeated_or_not_numbers_are_refused_naming_the_flag(tmp_path, bad):
    with pytest.raises(EvalConfigError, match=r"--thresholds \(thresholds=.*\) must be one or more distinct"):
        TableConfig(runs_dir=str(tmp_path), thresholds=bad)


def test_the_cli_reports_a_bad_threshold_as_an_error_line(tmp_path, capsys):
    assert main(["table", "--runs-dir", str(tmp_path), "--thresholds", "0.5", "1.5"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --thresholds") and "Traceback" not in error
