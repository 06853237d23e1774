"""Command line: ``python -m verl_ccrl explain ...`` and ``python -m verl_ccrl demo``."""

from __future__ import annotations

import argparse
import re
import sys

from verl_ccrl.alignment import token_char_spans
from verl_ccrl.analysis import analyze_response, read_within_bounds
from verl_ccrl.config import CCRLConfig
from verl_ccrl.metrics import calibration_metrics
from verl_ccrl.number_format import format_number
from verl_ccrl.reward import score_response


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
    return "\n".join(lines)


def explain(args: argparse.Namespace) -> int:
    score = None
    if args.ground_truth is not None:  # the score holds the same analysis: one pass, not two
        score = score_response(args.problem, args.response, args.ground_truth, reference=args.reference)
        mentions, bound = score.mentions, score.bounded_reason
    else:
        read, bound = read_within_bounds(args.problem, args.response, args.reference)
        mentions = [] if read is None else analyze_response(args.problem, args.response, args.reference, mentions=read)
    rows = [
        [f"{m.start}:{m.end}", m.text, format_number(m.value, "both"), m.kind, m.verdict or "-", m.reason]
        for m in mentions
    ]
    if rows:
        print(_table(rows, ["span", "text", "value", "kind", "verdict", "reason"]))
    else:
        print(f"Numbers not judged: {bound} (see verl_ccrl/bounds.py)." if bound else "No number mentions.")
    if score is not None:
        print(f"\nfinal answer: {score.answer!r}  correct: {score.answer_correct}  R_outcome: {score.outcome:g}")
    return 0


# The demo's responses are written for it; the entropies are illustrative stand-ins for a policy's (low where the
# "model" was sure, high where it hesitated), so the breakdown shows how each case is scored.
_DEMO_EXAMPLES = [
    {
        "title": "correct chain, confident",
        "problem": "A baker fills 6 trays with 14 rolls each and sells 45 rolls. How many rolls are left?",
        "response": "6 * 14 = 84 rolls. 84 - 45 = 39 rolls left. #### 39",
        "ground_truth": "39",
        "hesitant": [],
    },
    {
        "title": "confident intermediate error that cascades",
        "problem": "A baker fills 6 trays with 14 rolls each and sells 45 rolls. How many rolls are left?",
        "response": "6 * 14 = 74 rolls. 74 - 45 = 29 rolls left. #### 29",
        "ground_truth": "39",
        "hesitant": [],
    },
    {
        "title": "the same error, but hesitant at it",
        "problem": "A baker fills 6 trays with 14 rolls each and sells 45 rolls. How many rolls are left?",
        "response": "6 * 14 = 74 rolls. 74 - 45 = 29 rolls left. #### 29",
        "ground_truth": "39",
        "hesitant": ["74"],
    },
    {
        "title": "prose, checked against the reference solution",
        "problem": "Mia reads twice as many pages on Sunday as the 35 pages she read on Saturday. Total pages?",
        "response": "On Sunday she read 70 pages, so in total she read 105 pages. The answer is 105.",
        "ground_truth": "105",
        "reference": "Sunday: 2 * 35 = <<2*35=70>>70 pages. Total: 35 + 70 = <<35+70=105>>105. #### 105",
        "hesitant": ["105"],
    },
]

_DEMO_TOKEN = re.compile(r" ?\d| ?[^\W\d]+| ?[^\w\s]+|\s+")  # one digit per token, like Qwen's tokenizer


def _demo_tokens(response: str, hesitant: list[str]) -> tuple[list[tuple[int, int]], list[float]]:
    pieces = [match.group().encode() for match in _DEMO_TOKEN.finditer(response)]
    spans = token_char_spans(pieces, response)
    hesitant_chars: set[int] = set()
    for text in hesitant:
        for match in re.finditer(rf"(?<!\d){re.escape(text)}(?!\d)", response):
            hesitant_chars.update(range(match.start(), match.end()))
    entropies = [1.2 if any(i in hesitant_chars for i in range(start, end)) else 0.05 for start, end in spans]
    return spans, entropies


def demo(args: argparse.Namespace) -> int:
    config = CCRLConfig()
    print(f"CCRL reward demo: alpha={config.alpha} beta={config.beta} tau={config.tau} "
          f"confidence=exp(-mean entropy)\n")  # fmt: skip
    all_mentions = []
    for example in _DEMO_EXAMPLES:
        spans, entropies = _demo_tokens(example["response"], example["hesitant"])
        score = score_response(
            example["problem"], example["response"], example["ground_truth"],
            reference=example.get("reference"), token_spans=spans, entropies=entropies, config=config,
        )  # fmt: skip
        all_mentions.append(score.mentions)
        print(f"== {example['title']}\nresponse: {example['response']}")
        rows = [
            [m.text, m.kind, m.verdict or "-", "-" if m.confidence is None else f"{m.confidence:.3f}",
             f"{m.term:+.3f}" if m.in_reward else "", m.reason]
            for m in score.mentions
        ]  # fmt: skip
        print(_table(rows, ["number", "kind", "verdict", "confidence", "s_i", "reason"]))
        print(
            f"R = R_outcome {score.outcome:+.3f} + confidence term {score.confidence_term:+.3f} = {score.total:+.3f}\n"
        )
    metrics = calibration_metrics(all_mentions, thresholds=config.overconfidence_thresholds)
    print("calibration over the demo batch: " + ", ".join(f"{k}={v:.3g}" for k, v in metrics.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_ccrl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    explain_parser = commands.add_parser("explain", help="Print the number-by-number analysis of one response.")
    explain_parser.add_argument("--problem", required=True, help="The problem text (what counts as given).")
    explain_parser.add_argument("--response", required=True, help="The model response to analyse.")
    explain_parser.add_argument(
        "--reference", default=None, help="A reference solution or a bare final answer (for the 'reference' check)."
    )
    explain_parser.add_argument(
        "--ground-truth", default=None, help="The final answer; if given, the outcome part is printed too."
    )
    explain_parser.set_defaults(handler=explain)
    demo_parser = commands.add_parser("demo", help="Score a handful of example responses and print the breakdown.")
    demo_parser.set_defaults(handler=demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
