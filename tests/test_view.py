"""``python -m verl_ccrl.eval view``: the page, in a real headless Chromium (tests/chromium.py), on inputs written by
the project's own writers (tests/view_inputs.py). Without chromium the browser tests skip, except under CI=true,
where they fail: .ci/run installs it."""

from __future__ import annotations

import glob
import json
import os
from collections import Counter

import pytest
from chromium import Chromium, find_chromium
from view_inputs import write_toy_records, write_toy_results

from verl_ccrl.eval.cli import main
from verl_ccrl.eval.scoring import RELIABILITY_BINS, judged_points, reliability_bins

MARKER = "window.__viewerPwned"
HOSTILE = (
    "<script>window.__viewerPwned = 'script'</script>\n"
    "<img src=x onerror=\"window.__viewerPwned = 'img'\">\n"
    "</textarea><textarea>\n"
    "</script><script>window.__viewerPwned = 'breakout'</script>\n"
    "<a href=\"javascript:window.__viewerPwned = 'link'\">12 + 3 = 15</a> {{SCRIPT}} &lt;b&gt;\n"
    "#### 15"
)
HOSTILE_METHOD = "<img src=x onerror=window.__viewerPwned='method'>"
METHODS = {
    "CoMT+outcome-RL": (0.3, "confident", (1,)),
    "CoMT+CCRL": (0.3, "hesitant", (1, 2)),
    HOSTILE_METHOD: (0.2, "mixed", (None,)),
}


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and no chromium on PATH: .ci/run installs it (apt-get install -y chromium).")
        pytest.skip("no chromium on PATH (apt-get install -y chromium): the viewer's browser tests need it")
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def toy_tokenizer():
    from toy_world.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="module")
def results(tmp_path_factory, toy_tokenizer):
    """4 runs x 3 toy benchmarks x 3 problems = 36 responses (fewer than a page: all rendered); the first problem
    of each benchmark answered with HOSTILE."""
    out_dir = str(tmp_path_factory.mktemp("view") / "results")
    write_toy_results(out_dir, toy_tokenizer, 3, METHODS, override=lambda e: HOSTILE if e.index == 0 else None)
    return out_dir


def samples_of(results_dir):
    return [
        json.loads(line)
        for path in sorted(glob.glob(os.path.join(results_dir, "samples", "*.jsonl")))
        for line in open(path)
    ]


@pytest.fixture(scope="module")
def page(results, browser, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("page") / "report.html")
    assert main(["view", results, "--out", out, "--quiet"]) == 0
    opened = browser.open("file://" + out)
    opened.wait_for("document.body.dataset.ready === '1'")
    return opened


def expected_mark(number) -> str:
    """The page's mark, from the sample's fields (kind, verdict, reason) as documented in verl_ccrl.eval.view."""
    if number["kind"] == "extracted":
        return "given"
    if number["verdict"] in ("correct", "wrong"):
        return number["verdict"]
    return "restatement" if number["reason"].startswith("restates ") else "unverifiable"


def shown(page) -> int:
    return int(page.evaluate("document.getElementById('shown').dataset.shown"))


def set_filter(page, element_id: str, value) -> None:
    prop = "checked" if isinstance(value, bool) else "value"
    page.evaluate(
        f"(() => {{ const e = document.getElementById({json.dumps(element_id)}); e.{prop} = {json.dumps(value)};"
        " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )


def test_page_loads_from_a_file_url_with_no_console_error(page, results):
    assert page.problems == []
    n = len(samples_of(results))
    assert page.evaluate("document.getElementById('summary').textContent").startswith(f"{n} responses")
    assert shown(page) == n == page.evaluate("document.querySelectorAll('article.card').length")


def test_counts_of_marked_numbers_per_verdict_equal_those_in_the_samples(page, results):
    expected = Counter(expected_mark(number) for sample in samples_of(results) for number in sample["numbers"])
    assert expected["wrong"] and expected["correct"] and expected["given"] and expected["restatement"]
    for mark in ("given", "correct", "wrong", "unverifiable", "restatement"):
        in_dom = page.evaluate(f"document.querySelectorAll('#list mark.m-{mark}').length")
        in_summary = page.evaluate(f"document.querySelector('[data-mark-count={mark}]').dataset.count")
        assert in_dom == int(in_summary) == expected[mark], mark


def test_a_filter_changes_what_is_shown(page, results):
    samples = samples_of(results)
    wrong = sum(not sample["correct"] for sample in samples)
    assert 0 < wrong < len(samples)
    set_filter(page, "f-answer", "wrong")
    assert shown(page) == wrong == page.evaluate("document.querySelectorAll('article.card.wrong').length")
    assert page.evaluate("document.querySelectorAll('article.card.right').length") == 0
    set_filter(page, "f-answer", "")
    set_filter(page, "f-method", "CoMT+CCRL")
    assert shown(page) == len(samples_of_method(results, "CoMT+CCRL"))
    set_filter(page, "f-method", "")
    set_filter(page, "f-threshold", "0.5")
    set_filter(page, "f-confident", True)
    confident_wrong = sum(
        any(n["verdict"] == "wrong" and (n["confidence"] or 0) > 0.5 for n in sample["numbers"]) for sample in samples
    )
    assert shown(page) == confident_wrong < len(samples)
    set_filter(page, "f-confident", False)
    set_filter(page, "f-layout", "compare")  # one problem across methods: 4 runs answer each problem
    assert page.evaluate("document.querySelectorAll('section.group').length") == 9
    assert page.evaluate("document.querySelector('section.group .columns').children.length") == 4
    set_filter(page, "f-layout", "list")
    assert shown(page) == len(samples) and page.problems == []


def samples_of_method(results, method):
    runs = [json.load(open(path)) for path in glob.glob(os.path.join(results, "runs", "*.json"))]
    files = {os.path.basename(run["samples_file"]) for run in runs if run["method"] == method}
    return [line for name in files for line in open(os.path.join(results, "samples", name))]


def test_hostile_response_runs_no_script(page):
    assert page.evaluate(f"typeof {MARKER}") == "undefined"
    texts = page.evaluate("Array.from(document.querySelectorAll('#list .text')).map(e => e.textContent)")
    assert HOSTILE in texts  # rendered literally
    assert HOSTILE_METHOD in page.evaluate("document.getElementById('calibration').textContent")
    assert page.evaluate("document.querySelectorAll('#list img, #list a, #list textarea, #list script').length") == 0
    page.evaluate("document.querySelectorAll('#list mark').forEach(m => m.focus())")  # tooltips of hostile text
    assert page.evaluate(f"typeof {MARKER}") == "undefined" and page.problems == []


def test_hover_or_focus_shows_reason_confidence_entropy_and_token_span(page):
    page.evaluate(
        "document.querySelector('#list mark.m-wrong').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))"
    )
    tip = page.evaluate("document.getElementById('tip').textContent")
    assert tip.startswith("wrong: ") and ", not " in tip, tip
    assert "confidence 0." in tip or "confidence 1." in tip
    assert "mean entropy" in tip and "nats" in tip and "tokens " in tip and "characters " in tip
    page.evaluate("document.querySelector('#list mark.m-correct').focus()")
    assert page.evaluate("document.getElementById('tip').textContent").startswith("correct: ")


def test_a_click_on_a_reliability_bin_lists_its_numbers(page, results):
    records = [json.loads(line) for line in samples_of_method(results, "CoMT+CCRL")]
    last_bin = reliability_bins(judged_points(records))[-1]
    position = round(last_bin["low"] * RELIABILITY_BINS)
    page.evaluate(
        f'document.querySelector(\'rect.bin[data-method="CoMT+CCRL"][data-bin="{position}"]\').dispatchEvent('
        "new MouseEvent('click', {bubbles: true}))"
    )
    assert page.evaluate("document.querySelectorAll('#bin-list tr').length") == last_bin["count"] + 1  # + header
    assert 0 < shown(page) <= len(records)
    page.evaluate("document.querySelector('#bin-list button').click()")
    assert page.evaluate("document.getElementById('bin-list').hidden") is True


def test_training_records_show_beside_evaluation_samples(results, browser, toy_tokenizer, tmp_path):
    record_dir = write_toy_records(str(tmp_path / "records"), toy_tokenizer, 2)
    toy_tokenizer.save_pretrained(str(tmp_path / "tokenizer"))
    [record_file] = glob.glob(os.path.join(record_dir, "*.jsonl"))
    n_records = sum(1 for _ in open(record_file))
    with open(record_file, "a") as handle:  # a torn line and one whose ids no tokenizer decodes: skipped, counted
        handle.write('{"response_ids": [1, 2\n{"response_ids": ["x", -5], "ground_truth": "3"}\n')
    out = str(tmp_path / "report.html")
    arguments = ["view", results, f"CCRL-train={record_dir}", "--tokenizer", str(tmp_path / "tokenizer")]
    assert main([*arguments, "--out", out, "--quiet"]) == 0
    opened = browser.open("file://" + out)
    opened.wait_for("document.body.dataset.ready === '1'")
    set_filter(opened, "f-source", "train")
    assert shown(opened) == n_records == 6 and opened.problems == []
    assert "2 unreadable line(s) skipped" in opened.evaluate("document.getElementById('summary').textContent")
    assert opened.evaluate("document.querySelectorAll('#list mark.m-correct').length") > 0


def test_a_torn_line_is_skipped_counted_and_stated(results, tmp_path, caplog):
    torn = glob.glob(os.path.join(results, "samples", "*.jsonl"))[0]
    copy = tmp_path / "results"
    os.system(f"cp -r {results} {copy}")
    with open(copy / "samples" / os.path.basename(torn), "a") as handle:
        handle.write('{"benchmark": "toy_id", "response": "half a li\n')
        handle.write('{"response": "7 apples", "numbers": [{"text": "7"}]}\n')  # JSON, but no span or kind
    out = tmp_path / "report.html"
    assert main(["view", str(copy), "--out", str(out), "--quiet"]) == 0
    assert "2 unreadable line(s) skipped" in caplog.text
    assert '"skipped":{' in out.read_text() and os.path.basename(torn) in out.read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["/nonexistent/results"], "/nonexistent/results: no such directory. Pass an evaluation's --out-dir"),
        (["RECORDS"], "training records hold token ids, not text. Pass --tokenizer MODEL_DIR"),
    ],
)
def test_bad_input_is_one_error_line_naming_the_path_and_the_fix(arguments, message, tmp_path, capsys):
    records = tmp_path / "records"
    records.mkdir()
    (records / "ccrl-rewards-1.jsonl").write_text("{}\n")
    arguments = [str(records) if argument == "RECORDS" else argument for argument in arguments]
    assert main(["view", *arguments, "--out", str(tmp_path / "x.html")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error


def test_problems_where_the_responses_disagree_are_shown_side_by_side(page, results):
    by_problem = {}
    for sample in samples_of(results):
        by_problem.setdefault((sample["benchmark"], sample["question"]), set()).add(sample["correct"])
    disagreeing = [key for key, verdicts in by_problem.items() if verdicts == {True, False}]
    assert disagreeing
    set_filter(page, "f-answer", "disagree")
    set_filter(page, "f-layout", "compare")
    assert page.evaluate("document.querySelectorAll('section.group').length") == len(disagreeing)
    groups = page.evaluate(
        "Array.from(document.querySelectorAll('section.group')).map(g => [g.querySelectorAll('.card.right').length,"
        " g.querySelectorAll('.card.wrong').length])"
    )
    assert all(right and wrong for right, wrong in groups)
    set_filter(page, "f-answer", "")
    set_filter(page, "f-layout", "list")
