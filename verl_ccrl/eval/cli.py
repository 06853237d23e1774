"""``python -m verl_ccrl.eval``: evaluate a model on eval parquets, (``table``) re-merge the results table,
(``curves``) plot training curves from verl's file logger, or (``view``) write the page of every response's numbers.

Flags are generated from the dataclasses of :mod:`verl_ccrl.eval.config` (``EvalConfig``, ``TableConfig``,
``CurvesConfig``), so ``--help`` shows each field's help text. Problems the user can fix (bad file, missing field, bad flag, model not
found) print one ``error:`` line naming the file or field and the fix, and exit with status 2.

Example::

    python -m verl_ccrl.eval --model ckpt/merged --method CoMT+CCRL --model-name Qwen2.5-1.5B \\
        --data eval_gsm8k.parquet eval_svamp.parquet --out-dir results --limit 100
    python -m verl_ccrl.eval table --runs-dir results
    python -m verl_ccrl.eval curves --logs CCRL=ccrl_s1.jsonl CCRL=ccrl_s2.jsonl outcome=out_s1.jsonl --out curves.png
    python -m verl_ccrl.eval view results CCRL=ccrl_records --tokenizer ckpt/merged --out report.html
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import MISSING, fields

from verl_ccrl.eval.config import CurvesConfig, EvalConfig, EvalError, TableConfig

__all__ = ["build_curves_parser", "build_run_parser", "build_table_parser", "build_view_parser", "main"]

RUN_DESCRIPTION = (
    "Evaluate a model on eval parquet files (greedy decoding) and score every response with the CCRL number "
    "analysis: accuracy per benchmark, mean response tokens, and the calibration of computed numbers "
    "(overconfident-error rate at 0.5/0.7/0.9, ECE, reliability diagram). Writes OUT_DIR/runs/*.json (one per "
    "method x model x benchmark; a rerun replaces its file), OUT_DIR/samples/*.jsonl, and re-merges every run "
    "under OUT_DIR into results.md, results.csv, reliability.png and overconfidence.png. "
    "`python -m verl_ccrl.eval table --runs-dir DIR` re-merges without generating."
)
TABLE_DESCRIPTION = (
    "Re-merge the run JSONs under --runs-dir (and --merge files) into results.md, results.csv, reliability.png "
    "and overconfidence.png, without generating."
)
CURVES_DESCRIPTION = (
    "Plot training curves from the JSONL logs of verl's file logger (trainer.logger including 'file', path from "
    "VERL_FILE_LOGGER_PATH): one panel per metric against the training step, one line per label (the mean over "
    "that label's files, i.e. seeds, with a min-max band when there are 2+). Unreadable lines are skipped with a "
    "warning that counts them."
)

VIEW_DESCRIPTION = (
    "Write one self-contained HTML page (no server, no network) with every response of the inputs and every number "
    "in it marked given / correct / wrong / unverifiable / restatement, its confidence as the mark's strength and "
    "its reason on hover; filters, one problem across methods side by side, and the reliability diagram per method. "
    "Inputs: an evaluation's --out-dir (runs/ and samples/), and training record dirs (VERL_CCRL_RECORD_DIR of the "
    "ccrl reward manager, as DIR or LABEL=DIR; decoded with --tokenizer). Unreadable lines are skipped and counted."
)


def _add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    for config_field in fields(config_class):
        metadata = config_field.metadata
        flag = "--" + config_field.name.replace("_", "-")
        kwargs: dict = {"dest": config_field.name, "help": metadata.get("help", "")}
        annotation = str(config_field.type)
        if "nargs" in metadata:
            kwargs.update(nargs=metadata["nargs"], metavar="NAME" if "benchmarks" in config_field.name else "FILE")
        elif "choices" in metadata:
            kwargs["choices"] = metadata["choices"]
        elif annotation.startswith("int"):
            kwargs["type"] = int
        elif annotation.startswith("float"):
            kwargs["type"] = float
        if "metavar" in metadata:
            kwargs["metavar"] = metadata["metavar"]
        if metadata.get("required"):
            kwargs["required"] = True
        elif config_field.default is not MISSING:
            kwargs["default"] = config_field.default
            default = config_field.default
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
            if default not in (None, ()) and "Default:" not in kwargs["help"]:
                kwargs["help"] += f" Default: {shown}."
        parser.add_argument(flag, **kwargs)


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verl_ccrl.eval",
        description=RUN_DESCRIPTION,
        epilog="Subcommands: `python -m verl_ccrl.eval table --help`, `python -m verl_ccrl.eval curves --help`, "
        "`python -m verl_ccrl.eval view --help`.",
    )
    _add_config_arguments(parser, EvalConfig)
    parser.add_argument("--quiet", action="store_true", help="Log warnings only (no per-benchmark summary lines).")
    return parser


def build_table_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_ccrl.eval table", description=TABLE_DESCRIPTION)
    _add_config_arguments(parser, TableConfig)
    parser.add_argument("--quiet", action="store_true", help="Log warnings only.")
    return parser


def build_curves_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_ccrl.eval curves", description=CURVES_DESCRIPTION)
    _add_config_arguments(parser, CurvesConfig)
    parser.add_argument("--quiet", action="store_true", help="Log warnings only.")
    return parser


def build_view_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_ccrl.eval view", description=VIEW_DESCRIPTION)
    parser.add_argument(
        "inputs", nargs="+", metavar="DIR", help="RESULTS_DIR (an evaluation's --out-dir) and/or [LABEL=]RECORD_DIR."
    )
    parser.add_argument("--out", required=True, metavar="HTML", help="The page written, e.g. report.html.")
    parser.add_argument(
        "--tokenizer", default=None, metavar="MODEL_DIR", help="The policy's tokenizer; needed for record dirs."
    )
    parser.add_argument("--quiet", action="store_true", help="Log warnings only.")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    mode = arguments[0] if arguments and arguments[0] in ("table", "curves", "view", "run") else "run"
    if arguments and arguments[0] == mode:
        arguments = arguments[1:]
    parsers = {
        "table": build_table_parser,
        "curves": build_curves_parser,
        "view": build_view_parser,
        "run": build_run_parser,
    }
    namespace = vars(parsers[mode]().parse_args(arguments))
    quiet = namespace.pop("quiet")
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(levelname)s %(message)s")
    try:
        if mode == "table":
            from verl_ccrl.eval.runner import merge_table

            outputs = merge_table(TableConfig(**namespace))
        elif mode == "curves":
            from verl_ccrl.eval.plots import plot_training_curves

            config = CurvesConfig(**namespace)
            outputs = {"curves": plot_training_curves(config.paths_by_label(), config.out, config.metrics)}
        elif mode == "view":
            from verl_ccrl.eval.view import write_page

            written = write_page(namespace["inputs"], namespace["out"], namespace["tokenizer"])
            outputs = {"view": f"{written['page']} ({written['responses']} responses)"}
        else:
            from verl_ccrl.eval.runner import run_evaluation

            outputs = run_evaluation(EvalConfig(**namespace))["table"]
    except EvalError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, path in outputs.items():
        print(f"{name}: {path}")
    return 0
