"""Differences from a baseline method, paired by seed, and each method's change from the start, in results.md
(``python -m verl_ccrl.eval table --baseline / --start``)."""

from __future__ import annotations

import statistics

import pytest
from eval_runs import write_run

from verl_ccrl.eval.config import EvalError, TableConfig
from verl_ccrl.eval.contrast import difference, t_quantile_975
from verl_ccrl.eval.runner import merge_table

# Accuracies in % as the evaluation writes them.
ARM_ID = {1: 72.0, 2: 70.0, 3: 75.0}
BASE_ID = {1: 66.0, 2: 69.0, 3: 68.0}


def _study(directory, arms=("CCRL", "outcome")):
    # A wrong number with confidence 0.95 and a right one with 0.6: OCE@0.5 is 100 % for every seed.
    for seed in (1, 2, 3):
        write_run(directory, "outcome", "toy", "toy_id", BASE_ID[seed], seed=seed, judged=[(0.95, False), (0.6, True)])
        if "CCRL" in arms:
            judged = [(0.95, False), (0.6, True), (0.3, False)]  # one of two wrong numbers confident: 50 %
            write_run(directory, "CCRL", "toy", "toy_id", ARM_ID[seed], seed=seed, judged=judged)
    write_run(directory, "SFT", "toy", "toy_id", 60.0, judged=[(0.3, False), (0.6, True)])  # no seed: the start


def _section_cells(text, title, method):
    section = text[text.index(f"## {title}") :]
    [line] = [line for line in section.splitlines() if line.startswith(f"| {method} ")]
    header = [cell.strip() for cell in section.splitlines()[2].strip("|").split("|")]
    return dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))


def test_paired_difference_and_its_interval_follow_students_t():
    deltas = [ARM_ID[s] - BASE_ID[s] for s in (1, 2, 3)]
    result = difference(ARM_ID, BASE_ID)
    half = t_quantile_975(2) * statistics.stdev(deltas) / 3**0.5
    assert result.n == 3
    assert result.mean == pytest.approx(statistics.fmean(deltas))
    assert (result.low, result.high) == pytest.approx((result.mean - half, result.mean + half))


def test_seeds_the_baseline_lacks_are_left_out_and_one_shared_seed_gives_no_interval():
    assert difference({1: 5.0, 2: 6.0, 9: 100.0}, {1: 4.0, 2: 4.0}).mean == pytest.approx(1.5)
    assert difference({1: 5.0, 9: 6.0}, {1: 4.0, 2: 4.0}) is None


def test_results_gain_a_differences_section_marking_intervals_that_exclude_zero(tmp_path):
    _study(tmp_path)
    merge_table(TableConfig(runs_dir=str(tmp_path), id_benchmarks=("toy_id",), ood_benchmarks=(), baseline="outcome"))
    text = (tmp_path / "results.md").read_text()
    section = text[text.index("## Differences from outcome") :]
    [ccrl_line] = [line for line in section.splitlines() if line.startswith("| CCRL")]
    cells = [cell.strip() for cell in ccrl_line.strip("|").split("|")]
    header = [cell.strip() for cell in section.splitlines()[2].strip("|").split("|")]
    by_column = dict(zip(header, cells, strict=True))
    assert by_column["Seeds"] == "3"
    assert by_column["OCE@0.5"].startswith("-50.0 [-50.0, -50.0]") and "\\*" in by_column["OCE@0.5"]
    expected = statistics.fmean(ARM_ID[s] - BASE_ID[s] for s in (1, 2, 3))
    assert by_column["ID avg"].startswith(f"{expected:+.1f} [")
    assert "SFT" not in section  # a method without seeds has nothing to pair


@pytest.mark.parametrize("option, label", [("baseline", "grpo"), ("start", "base")])
def test_a_baseline_or_start_that_names_no_method_is_an_error_listing_the_methods(option, label, tmp_path):
    _study(tmp_path)
    config = TableConfig(runs_dir=str(tmp_path), id_benchmarks=("toy_id",), ood_benchmarks=(), **{option: label})
    with pytest.raises(EvalError, match=rf"--{option} '{label}'.*\['CCRL', 'SFT', 'outcome'\]"):
        merge_table(config)


def test_results_gain_each_seeded_methods_change_from_the_start_with_an_interval_over_seeds(tmp_path):
    _study(tmp_path)
    merge_table(TableConfig(runs_dir=str(tmp_path), id_benchmarks=("toy_id",), ood_benchmarks=(), start="SFT"))
    text = (tmp_path / "results.md").read_text()
    change = difference(ARM_ID, {seed: 60.0 for seed in ARM_ID})
    ccrl = _section_cells(text, "Change from SFT", "CCRL")
    assert ccrl["Seeds"] == "3"
    assert ccrl["ID avg"] == f"{change.mean:+.1f} [{change.low:+.1f}, {change.high:+.1f}] **\\***"
    # The start's one wrong number is not confident (OCE@0.5 0 %), one of CCRL's two is (50 %) in every seed.
    assert ccrl["OCE@0.5"].startswith("+50.0 [+50.0, +50.0]")
    assert _section_cells(text, "Change from SFT", "outcome")["Seeds"] == "3"
    assert "## Differences from" not in text  # --baseline not given


def test_a_start_evaluated_with_several_seeds_is_an_error_naming_them(tmp_path):
    _study(tmp_path)
    config = TableConfig(runs_dir=str(tmp_path), id_benchmarks=("toy_id",), ood_benchmarks=(), start="outcome")
    with pytest.raises(EvalError, match=r"--start 'outcome': its runs have 3 training seeds \(1, 2, 3\).*--baseline"):
        merge_table(config)
