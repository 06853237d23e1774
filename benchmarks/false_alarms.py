"""False alarms of the number verifier on correct human solutions, and the time it takes to score them.

Feeds each solution of a GSM8K-format jsonl file (``{"question": ..., "answer": "... #### 18"}``) to
``score_response`` as if a model had written it, with no reference solution, so every verdict comes from the
response's own arithmetic. A human solution is (almost always) right, so every ``wrong`` verdict is a false alarm
unless the human text itself is false: the script prints each one with its line, for a person to judge.

    python benchmarks/false_alarms.py path/to/test.jsonl --style stripped
    python benchmarks/false_alarms.py path/to/train.jsonl --style model --limit 300 --show 50

Styles: ``published`` (as the file has it, with GSM8K's ``<<a*b=c>>`` calculator annotations), ``stripped`` (the
annotations removed), ``model`` (stripped, and ``#### x`` written as ``The answer is x.``, as a model would).

Figures: crashes; numbers judged wrong; false-alarm rate wrong / (correct + wrong); coverage (correct + wrong) /
computed, and the same over computed numbers that are not restatements (a restatement copies an earlier value and
gets no verdict by design); final-answer accuracy; milliseconds per response (median, p99, max; wall clock, and
CPU time of the process, which a loaded machine does not inflate) and how many responses took over 1 s. Benchmark files are not part of this repository: bring them to your machine yourself.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import traceback

from verl_ccrl.analysis import CORRECT, EXTRACTED, WRONG
from verl_ccrl.reward import score_response

_ANNOTATION = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"\n?####\s*(?P<answer>[^\n]*)\s*$")
STYLES = ("published", "stripped", "model")


def styled_solution(answer: str, style: str) -> tuple[str, str]:
    """(response, ground truth) of a GSM8K ``answer`` field in ``style``.

    >>> styled_solution("2 * 3 = <<2*3=6>>6 cups.\\n#### 6", "model")
    ('2 * 3 = 6 cups.\\nThe answer is 6.', '6')
    """
    match = _FINAL.search(answer)
    if match is None:
        raise ValueError(f"no '#### <answer>' line in {answer[-80:]!r}: is this a GSM8K-format file?")
    truth = match.group("answer").strip().replace(",", "")
    if style == "published":
        return answer, truth
    response = _ANNOTATION.sub("", answer)
    if style == "model":
        response = _FINAL.sub(f"\nThe answer is {truth}.", response)
    return response, truth


def _line_of(text: str, start: int) -> str:
    begin = text.rfind("\n", 0, start) + 1
    end = text.find("\n", start)
    return text[begin : end if end != -1 else len(text)].strip()


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def measure(rows: list[dict], style: str) -> dict:
    counts = {"computed": 0, "correct": 0, "wrong": 0, "restatements": 0, "answers_right": 0}
    alarms: list[tuple[int, str, str, str]] = []
    crashes: list[tuple[int, str]] = []
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    for row_index, row in enumerate(rows):
        response, truth = styled_solution(row["answer"], style)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            score = score_response(row["question"], response, truth)
        except Exception:  # noqa: BLE001 - a crash is a finding to count and show, not a reason to stop
            crashes.append((row_index, traceback.format_exc(limit=3)))
            continue
        finally:
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu_started)
        counts["answers_right"] += score.answer_correct
        for mention in score.mentions:
            if mention.kind == EXTRACTED:
                continue
            counts["computed"] += 1
            counts["correct"] += mention.verdict == CORRECT
            counts["restatements"] += mention.reason.startswith("restates")
            if mention.verdict == WRONG:
                counts["wrong"] += 1
                alarms.append((row_index, mention.text, mention.reason, _line_of(response, mention.start)))
    return {
        "counts": counts,
        "alarms": alarms,
        "crashes": crashes,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rows": len(rows),
    }


def report(result: dict, style: str, show: int) -> str:
    c, seconds = result["counts"], sorted(result["seconds"])
    judged = c["correct"] + c["wrong"]
    ratio = lambda a, b: f"{100 * a / b:.2f} %" if b else "n/a"  # noqa: E731
    lines = [
        f"style: {style}, responses: {result['rows']}",
        f"crashes: {len(result['crashes'])}",
        f"computed numbers: {c['computed']} (restatements {c['restatements']})",
        f"judged correct: {c['correct']}, judged wrong: {c['wrong']}",
        f"false-alarm rate wrong/(correct+wrong): {ratio(c['wrong'], judged)}",
        f"coverage (correct+wrong)/computed: {ratio(judged, c['computed'])}",
        f"coverage over computed non-restatements: {ratio(judged, c['computed'] - c['restatements'])}",
        f"final answer judged right: {ratio(c['answers_right'], result['rows'])}",
    ]
    if seconds:
        ms = [1000 * s for s in seconds]
        lines.append(
            f"ms per response: median {statistics.median(ms):.2f}, p99 {_percentile(ms, 0.99):.2f}, "
            f"max {ms[-1]:.1f}; over 1 s: {sum(s > 1 for s in seconds)}"
        )
        # CPU time of this process: what the scorer costs, free of other processes sharing the machine.
        cpu_ms = sorted(1000 * s for s in result["cpu_seconds"])
        lines.append(
            f"CPU ms per response: median {statistics.median(cpu_ms):.2f}, p99 {_percentile(cpu_ms, 0.99):.2f}, "
            f"max {cpu_ms[-1]:.1f}"
        )
    for row_index, text, reason, line in result["alarms"][:show]:
        lines.append(f"  wrong: row {row_index} {text!r} ({reason}) in: {line[:160]}")
    for row_index, trace in result["crashes"][:show]:
        lines.append(f"  crash: row {row_index}\n{trace}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jsonl", help="GSM8K-format file: one {'question', 'answer'} object per line.")
    parser.add_argument("--style", choices=STYLES, default="stripped", help="How the solution is written (see top).")
    parser.add_argument("--limit", type=int, default=None, help="Score only the first N rows.")
    parser.add_argument("--show", type=int, default=100, help="How many false alarms and crashes to print.")
    args = parser.parse_args(argv)
    with open(args.jsonl, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.limit]
    print(report(measure(rows, args.style), args.style, args.show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
