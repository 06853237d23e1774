"""The command line of ``python -m data_prep``: every option, declared once, and what a teacher is built from.

Options are tables (``_ROWS``, ``_DATA``, ``_TEACHER``, ``_COMT``, ``_COMMON``) that each command adds whole; the
defaults of sampling, validation and the OpenAI client come from the classes that use them.

Example::

    >>> args = build_parser().parse_args(["rl", "--source", "gsm8k", "--out-dir", "out", "--limit", "5"])
    >>> args.command, args.source, args.limit, args.skip_malformed
    ('rl', 'gsm8k', 5, False)
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from data_prep.comt import ComtConfig
from data_prep.sources import BENCHMARKS, RENAMED_SOURCES, SOURCES
from data_prep.teachers import TEACHERS, OpenAITeacher, SamplingParams

__all__ = ["build_parser", "source_name", "teacher_kwargs"]

_SAMPLING = SamplingParams()
_COMT = ComtConfig(sampling=_SAMPLING)
_CLIENT = {name: p.default for name, p in inspect.signature(OpenAITeacher).parameters.items()}


def source_name(value: str) -> str:
    """``--source``'s type: a known source, or an error saying what a renamed one is called now."""
    if value in RENAMED_SOURCES:
        raise argparse.ArgumentTypeError(f"{value!r} was renamed: use {RENAMED_SOURCES[value]}.")
    if value not in SOURCES:
        raise argparse.ArgumentTypeError(f"{value!r} is unknown; choose one of: {', '.join(sorted(SOURCES))}.")
    return value


def _option(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, kwargs


def _client_option(flag: str, name: str, kind: type, help: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """An option of the 'openai' teacher whose default is OpenAITeacher's argument ``name``."""
    return _option(flag, type=kind, default=_CLIENT[name], help=f"'openai': {help} Default %(default)s.")


# How many rows, which generated ones, and what a malformed row does: every command that reads rows.
_ROWS = (
    _option("--limit", type=int, help="Use only the first N well-formed problems (of each split or benchmark)."),
    _option("--seed", type=int, default=0, help="Seed of the offline generator (reasoning_gym_gsm). Default 0."),
    _option(
        "--skip-malformed",
        action="store_true",
        help="Skip malformed rows (and undecodable lines of the input and the store) and count them in the report, "
        "instead of stopping at the first one with an error naming the file, row and field.",
    ),
)

_DATA = (
    _option(
        "--source",
        required=True,
        type=source_name,
        metavar="{" + ",".join(sorted(SOURCES)) + "}",
        help="Which source to read (see `python -m data_prep sources`). 'reasoning_gym_gsm' is the offline "
        "reasoning-gym generator (no download); 'gsm_symbolic_apple' is Apple's GSM-Symbolic benchmark.",
    ),
    _option(
        "--input",
        dest="input_path",
        help="Read the training split from this local .jsonl/.json/.parquet/.csv file (same columns as "
        "the hub dataset) instead of the hub: for air-gapped clusters.",
    ),
    _option("--hub-id", help="Override the source's default hub dataset id."),
    _option("--hub-config", help="Override the hub dataset config (e.g. p1 for GSM-Symbolic)."),
)

_TEACHER = (
    _option(
        "--teacher",
        choices=TEACHERS,
        default="transformers",
        help="Backend: 'openai' (any OpenAI-compatible server: vllm serve, SGLang, hosted APIs), "
        "'vllm' (offline engine, GPU node), 'transformers' (local model, CPU; the default) or "
        "'template' (a deterministic TEST/DEMO teacher that rewrites the reference solution by "
        "replacing computed numbers with variable names; not a model, never for real data).",
    ),
    _option(
        "--model",
        help="Teacher model: served name for 'openai' (default: the server's first model), local path "
        "or hub id for 'vllm'/'transformers'.",
    ),
    _option(
        "--base-url",
        action="append",
        dest="base_urls",
        help="OpenAI-compatible base URL, e.g. http://node1:8000/v1. Repeat to spread requests over "
        "several servers (least in-flight first).",
    ),
    _option(
        "--api-key-env",
        default=_CLIENT["api_key_env"],
        help="Environment variable holding the API key (unset: 'EMPTY', fine for vllm serve).",
    ),
    _client_option("--concurrency", "concurrency", int, "requests in flight over all servers."),
    _client_option("--timeout", "timeout_s", float, "seconds one request may take in all, a trickling body included."),
    _client_option(
        "--max-retries",
        "max_retries",
        int,
        "retries per request on 429/5xx/connection errors/timeouts, with exponential backoff and jitter "
        f"(Retry-After honoured up to the backoff cap of {_CLIENT['backoff_max_s']:g} s).",
    ),
    _option(
        "--batch-size",
        type=int,
        help="'vllm'/'transformers'/'template': conversations per generate call (default 512/8/64).",
    ),
    _option("--tensor-parallel-size", type=int, default=1, help="'vllm': GPUs per engine. Default 1."),
    _option("--device", default="cpu", help="'transformers': torch device. Default cpu."),
    _option("--dtype", default="float32", help="'transformers': torch dtype name. Default float32."),
    _option(
        "--template-delay",
        type=float,
        default=0.0,
        help="'template': seconds to sleep per call (tests use it to simulate a slow teacher).",
    ),
)

_COMT_OPTIONS = (
    _option(
        "--prompt-file",
        help="Custom CoMT user prompt (text with {question}, {reference}, {max_steps}; a literal brace is written "
        "{{ or }}); its version is the hash of its content. Default: the built-in 'comt-v1' (data_prep/prompts.py).",
    ),
    _option(
        "--max-attempts",
        type=int,
        default=_COMT.max_attempts,
        help="Teacher calls per problem at most (first try + regenerations of rejected ones). Default %(default)s.",
    ),
    _option(
        "--max-chars",
        type=int,
        default=_COMT.max_chars,
        help="Reject a meta-thought longer than this many characters. Default %(default)s.",
    ),
    _option(
        "--temperature",
        type=float,
        default=_SAMPLING.temperature,
        help="Teacher sampling temperature. Default %(default)s.",
    ),
    _option("--top-p", type=float, default=_SAMPLING.top_p, help="Teacher nucleus sampling. Default %(default)s."),
    _option(
        "--max-tokens", type=int, default=_SAMPLING.max_tokens, help="Teacher max new tokens. Default %(default)s."
    ),
    _option("--sampling-seed", type=int, default=_SAMPLING.seed, help="Seed sent with each teacher request."),
    _option(
        "--store",
        help="Result store (JSONL file) of every teacher call; default OUT_DIR/teacher_results.jsonl. "
        "Rerunning with the same store skips finished problems (resume after a crash or kill).",
    ),
    _option(
        "--fsync",
        action="store_true",
        help="fsync the store after every result (survives power loss; slower). A killed process "
        "loses nothing written either way.",
    ),
)

_COMMON = (
    _option("--out-dir", required=True, help="Directory for the parquet files and report.json."),
    _option(
        "--dry-run",
        action="store_true",
        help="Load and check the data, print the plan (and the first teacher prompt), write nothing, call no teacher.",
    ),
    _option("--no-progress", action="store_true", help="No tqdm progress bars."),
    _option("-v", "--verbose", action="store_true", help="Debug logging."),
)


def _add(target: argparse.ArgumentParser | argparse._ArgumentGroup, *tables: tuple) -> None:
    for table in tables:
        for flags, kwargs in table:
            target.add_argument(*flags, **kwargs)


def _add_data(parser: argparse.ArgumentParser) -> None:
    _add(parser.add_argument_group("data"), _DATA, _ROWS)


def _add_teacher(parser: argparse.ArgumentParser) -> None:
    _add(parser.add_argument_group("teacher"), _TEACHER)
    _add(parser.add_argument_group("CoMT generation and validation"), _COMT_OPTIONS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep",
        description="Build CoMT-SFT / CoT-SFT / RL / eval parquet files for verl-ccrl (arXiv 2601.21909).",
        epilog="Exit status: 0 done; 2 an error (named on stderr); 3 finished, but some teacher requests failed "
        "for good (the count and the fix on stderr; rerun the same command to resume).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="CoMT + CoT SFT, RL train and eval parquet of one source, and report.json.",
        description="End to end for one training source. Writes OUT_DIR/{comt_sft,cot_sft,rl_train}.parquet, "
        "OUT_DIR/eval_<source>.parquet and OUT_DIR/report.json.",
    )
    _add_data(build)
    _add(
        build,
        (
            _option("--train-split", default="train", help="Split used for SFT and RL training. Default train."),
            _option(
                "--eval-split", help="Split of the eval parquet (default: the source's test split). 'none' skips it."
            ),
            _option("--eval-input", help="Local file for the eval split (like --input)."),
            _option(
                "--student-tokenizer",
                help="Tokenizer (path or hub id) of the student model: the report gives mean tokens of CoMT vs "
                "CoT targets under it (the paper: ~133 vs ~255). Without it, words are counted.",
            ),
        ),
    )
    _add_teacher(build)
    _add(build, _COMMON)

    comt = commands.add_parser("comt", help="CoMT generation into the store plus OUT_DIR/comt_sft.parquet.")
    _add_data(comt)
    _add(comt, (_option("--train-split", default="train", help="Split to generate for. Default train."),))
    _add_teacher(comt)
    _add(comt, _COMMON)

    rl = commands.add_parser("rl", help="RL (or eval) parquet of one source and split; no teacher.")
    _add_data(rl)
    _add(
        rl,
        (
            _option("--split", default="train", help="Split to convert. Default train."),
            _option("--output", help="Parquet path. Default OUT_DIR/rl_<split>.parquet."),
        ),
        _COMMON,
    )

    evaluate = commands.add_parser("eval", help="One eval parquet per benchmark: OUT_DIR/eval_<name>.parquet.")
    _add(
        evaluate,
        (
            _option("--benchmarks", default="all", help=f"Comma-separated names, or 'all' = {','.join(BENCHMARKS)}."),
            _option(
                "--input",
                action="append",
                default=[],
                metavar="NAME=PATH",
                help="Local file for a benchmark instead of the hub, e.g. tabmwp=problems_test.json (repeatable).",
            ),
        ),
        _ROWS,
        _COMMON,
    )

    commands.add_parser("sources", help="List the sources, their hub ids and splits.")
    return parser


def teacher_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``make_teacher``'s keyword arguments for the parsed ``--teacher`` options."""
    kind = args.teacher
    if kind == "openai":
        if not args.base_urls:
            raise SystemExit("error: --teacher openai needs --base-url http://HOST:PORT/v1 (repeatable).")
        return {
            "model": args.model,
            "base_urls": args.base_urls,
            "api_key_env": args.api_key_env,
            "concurrency": args.concurrency,
            "timeout_s": args.timeout,
            "max_retries": args.max_retries,
        }
    if kind == "vllm":
        return {
            "model": args.model,
            "batch_size": args.batch_size or 512,
            "tensor_parallel_size": args.tensor_parallel_size,
        }
    if kind == "transformers":
        return {"model": args.model, "batch_size": args.batch_size or 8, "device": args.device, "dtype": args.dtype}
    return {"batch_size": args.batch_size or 64, "delay_s": args.template_delay}
