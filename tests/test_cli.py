import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "verl_ccrl", *args], capture_output=True, text=True, timeout=120)


def test_explain_prints_one_row_per_number_with_its_verdict():
    result = run("explain", "--problem", "A box has 12 eggs; Tom buys 7 boxes.", "--response", "12 * 7 = 83 eggs.")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert [(row[1], row[3], row[4]) for row in rows] == [
        ("12", "extracted", "-"),
        ("7", "extracted", "-"),
        ("83", "computed", "wrong"),
    ]


def test_explain_prints_the_outcome_when_given_a_ground_truth():
    result = run("explain", "--problem", "p", "--response", "#### 5", "--ground-truth", "5")
    assert "correct: True" in result.stdout


def test_explain_without_response_fails_with_usage():
    result = run("explain", "--problem", "p")
    assert result.returncode == 2 and "--response" in result.stderr


def test_demo_scores_every_example():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("R = R_outcome") == 4 and "overconfident_error_rate@0.9" in result.stdout
