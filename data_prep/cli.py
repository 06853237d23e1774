"""``python -m data_prep``: build CoMT/CoT SFT, RL and eval parquet files. Run with ``--help`` for every flag.

Commands:

- ``build``: one training source end to end: CoMT generation (teacher, validation, resumable store), the CoMT and
  CoT SFT parquet files, the RL training parquet, the source's eval parquet and ``report.json``.
- ``comt``: CoMT generation only (into the store) plus the CoMT SFT parquet.
- ``rl``: RL/eval parquet of one source and split, no teacher.
- ``eval``: one eval parquet per benchmark (all seven by default).
- ``sources``: the known sources, hub ids and splits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from typing import Any

from data_prep.comt import ComtConfig, generate_comt_async
from data_prep.outputs import (
    cot_target,
    target_token_stats,
    write_eval_parquet,
    write_rl_parquet,
    write_sft_parquet,
)
from data_prep.prompts import comt_template
from data_prep.records import DataError, Record
from data_prep.sources import BENCHMARKS, EVAL_SPLITS, SOURCES, LoadStats, SourceUnavailableError, load_source
from data_prep.store import ResultStore, StoreLockedError, request_key
from data_prep.teachers import TEACHERS, SamplingParams, TeacherError, make_teacher

__all__ = ["build_parser", "main"]

logger = logging.getLogger("data_prep")


# ------------------------------------------------------------------------------------------------ parser


def _add_data_args(parser: argparse.ArgumentParser, *, source_required: bool = True) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--source",
        required=source_required,
        choices=sorted(SOURCES),
        help="Which source to read (see `python -m data_prep sources`). 'gsm_symbolic' is the offline "
        "reasoning-gym generator (no download); 'gsm_symbolic_apple' is Apple's benchmark.",
    )
    group.add_argument(
        "--input",
        dest="input_path",
        default=None,
        help="Read the training split from this local .jsonl/.json/.parquet/.csv file (same columns as "
        "the hub dataset) instead of the hub: for air-gapped clusters.",
    )
    group.add_argument("--hub-id", default=None, help="Override the source's default hub dataset id.")
    group.add_argument("--hub-config", default=None, help="Override the hub dataset config (e.g. p1 for GSM-Symbolic).")
    group.add_argument(
        "--limit",
        type=int,
        default=None,
        help="Use only the first N well-formed problems (of each split). Default: all.",
    )
    group.add_argument("--seed", type=int, default=0, help="Seed of the offline generator (gsm_symbolic). Default 0.")
    group.add_argument(
        "--skip-malformed",
        action="store_true",
        help="Skip malformed rows and count them in the report, instead of stopping at the first one "
        "with an error naming the file, row and field.",
    )


def _add_teacher_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("teacher")
    group.add_argument(
        "--teacher",
        choices=TEACHERS,
        default="transformers",
        help="Backend: 'openai' (any OpenAI-compatible server: vllm serve, SGLang, hosted APIs), "
        "'vllm' (offline engine, GPU node), 'transformers' (local model, CPU; the default) or "
        "'template' (a deterministic TEST/DEMO teacher that rewrites the reference solution by "
        "replacing computed numbers with variable names; not a model, never for real data).",
    )
    group.add_argument(
        "--model",
        default=None,
        help="Teacher model: served name for 'openai' (default: the server's first model), local path "
        "or hub id for 'vllm'/'transformers'.",
    )
    group.add_argument(
        "--base-url",
        action="append",
        dest="base_urls",
        default=None,
        help="OpenAI-compatible base URL, e.g. http://node1:8000/v1. Repeat to spread requests over "
        "several servers (least in-flight first).",
    )
    group.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="Environment variable holding the API key (unset: 'EMPTY', fine for vllm serve).",
    )
    group.add_argument(
        "--concurrency", type=int, default=64, help="'openai': requests in flight over all servers. Default 64."
    )
    group.add_argument("--timeout", type=float, default=300.0, help="'openai': seconds per request. Default 300.")
    group.add_argument(
        "--max-retries",
        type=int,
        default=8,
        help="'openai': retries per request on 429/5xx/connection errors/timeouts, with exponential "
        "backoff and jitter (Retry-After honoured). Default 8.",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="'vllm'/'transformers'/'template': conversations per generate call (default 512/8/64).",
    )
    group.add_argument("--tensor-parallel-size", type=int, default=1, help="'vllm': GPUs per engine. Default 1.")
    group.add_argument("--device", default="cpu", help="'transformers': torch device. Default cpu.")
    group.add_argument("--dtype", default="float32", help="'transformers': torch dtype name. Default float32.")
    group.add_argument(
        "--template-delay",
        type=float,
        default=0.0,
        help="'template': seconds to sleep per call (tests use it to simulate a slow teacher).",
    )

    comt = parser.add_argument_group("CoMT generation and validation")
    comt.add_argument(
        "--prompt-file",
        default=None,
        help="Custom CoMT user prompt (text with {question}, {reference}, {max_steps}); its version "
        "is the hash of its content. Default: the built-in 'comt-v1' (data_prep/prompts.py).",
    )
    comt.add_argument(
        "--max-attempts",
        type=int,
        default=3,
        help="Teacher calls per problem at most (first try + regenerations of rejected ones). Default 3.",
    )
    comt.add_argument(
        "--max-chars",
        type=int,
        default=2000,
        help="Reject a meta-thought longer than this many characters. Default 2000.",
    )
    comt.add_argument("--temperature", type=float, default=0.7, help="Teacher sampling temperature. Default 0.7.")
    comt.add_argument("--top-p", type=float, default=0.95, help="Teacher nucleus sampling. Default 0.95.")
    comt.add_argument("--max-tokens", type=int, default=512, help="Teacher max new tokens. Default 512.")
    comt.add_argument("--sampling-seed", type=int, default=None, help="Seed sent with each teacher request.")
    comt.add_argument(
        "--store",
        default=None,
        help="Result store (JSONL) of every teacher call; default OUT_DIR/teacher_results.jsonl. "
        "Rerunning with the same store skips finished problems (resume after a crash or kill).",
    )
    comt.add_argument(
        "--fsync",
        action="store_true",
        help="fsync the store after every result (survives power loss; slower). A killed process "
        "loses nothing written either way.",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", required=True, help="Directory for the parquet files and report.json.")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Load and check the data, print the plan (and the first teacher prompt), write nothing, call no teacher.",
    )
    parser.add_argument("--no-progress", action="store_true", help="No tqdm progress bars.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Debug logging.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep",
        description="Build CoMT-SFT / CoT-SFT / RL / eval parquet files for verl-ccrl (arXiv 2601.21909).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="CoMT + CoT SFT, RL train and eval parquet of one source, and report.json.",
        description="End to end for one training source. Writes OUT_DIR/{comt_sft,cot_sft,rl_train}.parquet, "
        "OUT_DIR/eval_<source>.parquet and OUT_DIR/report.json.",
    )
    _add_data_args(build)
    build.add_argument("--train-split", default="train", help="Split used for SFT and RL training. Default train.")
    build.add_argument(
        "--eval-split",
        default=None,
        help="Split of the eval parquet (default: the source's test split). 'none' skips it.",
    )
    build.add_argument("--eval-input", default=None, help="Local file for the eval split (like --input).")
    build.add_argument(
        "--student-tokenizer",
        default=None,
        help="Tokenizer (path or hub id) of the student model: the report gives mean tokens of CoMT vs "
        "CoT targets under it (the paper: ~133 vs ~255). Without it, words are counted.",
    )
    _add_teacher_args(build)
    _add_common(build)

    comt = commands.add_parser("comt", help="CoMT generation into the store plus OUT_DIR/comt_sft.parquet.")
    _add_data_args(comt)
    comt.add_argument("--train-split", default="train", help="Split to generate for. Default train.")
    _add_teacher_args(comt)
    _add_common(comt)

    rl = commands.add_parser("rl", help="RL (or eval) parquet of one source and split; no teacher.")
    _add_data_args(rl)
    rl.add_argument("--split", default="train", help="Split to convert. Default train.")
    rl.add_argument("--output", default=None, help="Parquet path. Default OUT_DIR/rl_<split>.parquet.")
    _add_common(rl)

    evaluate = commands.add_parser("eval", help="One eval parquet per benchmark: OUT_DIR/eval_<name>.parquet.")
    evaluate.add_argument(
        "--benchmarks", default="all", help=f"Comma-separated names, or 'all' = {','.join(BENCHMARKS)}."
    )
    evaluate.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="Local file for a benchmark instead of the hub, e.g. tabmwp=problems_test.json (repeatable).",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="First N problems per benchmark.")
    evaluate.add_argument("--seed", type=int, default=0, help="Seed of the offline generator (gsm_symbolic).")
    evaluate.add_argument(
        "--skip-malformed",
        action="store_true",
        help="Skip and count malformed rows (e.g. TabMWP's non-numeric answers) instead of stopping.",
    )
    _add_common(evaluate)

    commands.add_parser("sources", help="List the sources, their hub ids and splits.")
    return parser


# ------------------------------------------------------------------------------------------------ helpers


def _teacher_from_args(args: argparse.Namespace):
    kind = args.teacher
    if kind == "openai":
        if not args.base_urls:
            raise SystemExit("error: --teacher openai needs --base-url http://HOST:PORT/v1 (repeatable).")
        return make_teacher(
            "openai",
            model=args.model,
            base_urls=args.base_urls,
            api_key_env=args.api_key_env,
            concurrency=args.concurrency,
            timeout_s=args.timeout,
            max_retries=args.max_retries,
        )
    if kind == "vllm":
        return make_teacher(
            "vllm", model=args.model, batch_size=args.batch_size or 512, tensor_parallel_size=args.tensor_parallel_size
        )
    if kind == "transformers":
        return make_teacher(
            "transformers", model=args.model, batch_size=args.batch_size or 8, device=args.device, dtype=args.dtype
        )
    return make_teacher("template", batch_size=args.batch_size or 64, delay_s=args.template_delay)


def _comt_config(args: argparse.Namespace) -> ComtConfig:
    sampling = SamplingParams(
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.sampling_seed
    )
    return ComtConfig(max_attempts=args.max_attempts, max_chars=args.max_chars, sampling=sampling)


def _load(args, split: str, input_path: str | None) -> tuple[list[Record], LoadStats]:
    stats = LoadStats()
    records = load_source(
        args.source,
        split,
        input_path=input_path,
        limit=args.limit,
        seed=args.seed,
        skip_malformed=args.skip_malformed,
        hub_id=getattr(args, "hub_id", None),
        hub_config=getattr(args, "hub_config", None),
        stats=stats,
    )
    logger.info(
        "loaded %d %s/%s problems (%d rows read, skipped %s)",
        len(records),
        args.source,
        split,
        stats.rows,
        dict(stats.skipped) or "none",
    )
    return records, stats


def _dry_run_plan(args, records: list[Record], store_path: str) -> dict[str, Any]:
    template = comt_template(args.prompt_file)
    plan: dict[str, Any] = {"problems": len(records), "prompt_version": template.version, "store": store_path}
    teacher_name = {
        "template": "template-v1",
        "openai": f"openai:{args.model}" if args.model else None,
        "vllm": f"vllm:{args.model}",
        "transformers": None,
    }.get(args.teacher)
    if args.teacher == "transformers" and args.model:
        path = os.path.normpath(args.model)
        teacher_name = f"transformers:{os.path.basename(path) if os.path.isdir(args.model) else args.model}"
    if teacher_name and os.path.exists(store_path):
        sampling = _comt_config(args).sampling.as_dict()
        with ResultStore(store_path, lock=False, repair=False) as store:
            done = sum(
                1
                for r in records
                if store.first_valid(request_key(r.key, template.version, teacher_name, sampling))
                or len(store.attempts(request_key(r.key, template.version, teacher_name, sampling)))
                >= args.max_attempts
            )
        plan["already_done_in_store"] = done
    plan["to_request"] = len(records) - plan.get("already_done_in_store", 0)
    if records:
        plan["first_prompt"] = template.render(records[0].question, records[0].reference)
    return plan


def _tokenizer(path: str | None):
    if not path:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _print_summary(title: str, summary: dict[str, Any]) -> None:
    print(f"\n== {title} ==", file=sys.stderr)
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))


# ----------------------------------------------------------------------------------------------- commands


async def _generate(args, records: list[Record], store_path: str):
    teacher = _teacher_from_args(args)
    with ResultStore(store_path, fsync=args.fsync) as store:
        run = await generate_comt_async(
            records, teacher, store, _comt_config(args), comt_template(args.prompt_file), progress=not args.no_progress
        )
        store_stats = {
            "path": store_path,
            "entries": len(store),
            "appended_this_run": store.appended,
            "duplicates_on_load": store.duplicates,
            "repaired_partial_bytes": store.repaired_bytes,
        }
    extra = getattr(teacher, "stats", None)
    return run, store_stats, dict(extra) if extra else {}


def cmd_comt(args, *, with_rest: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    store_path = args.store or os.path.join(args.out_dir, "teacher_results.jsonl")
    records, stats = _load(args, args.train_split, args.input_path)
    if args.dry_run:
        plan = _dry_run_plan(args, records, store_path)
        plan["load"] = stats.as_dict()
        _print_summary("dry run: nothing written, no teacher called", plan)
        return plan
    run, store_stats, teacher_stats = asyncio.run(_generate(args, records, store_path))
    report: dict[str, Any] = {
        "source": args.source,
        "split": args.train_split,
        "load": stats.as_dict(),
        "comt": run.summary(),
        "store": store_stats,
    }
    if teacher_stats:
        report["teacher_http"] = teacher_stats
    pairs = [(record, run.meta_thoughts[record.key]) for record in records if record.key in run.meta_thoughts]
    files = {}
    if pairs:
        files["comt_sft"] = write_sft_parquet(pairs, os.path.join(args.out_dir, "comt_sft.parquet"))
    else:
        logger.warning("no meta-thought was accepted: comt_sft.parquet not written (see rejection_reasons).")
    if with_rest:
        files["cot_sft"] = write_sft_parquet(
            [(r, cot_target(r)) for r in records], os.path.join(args.out_dir, "cot_sft.parquet")
        )
        files["rl_train"] = write_rl_parquet(records, os.path.join(args.out_dir, "rl_train.parquet"))
        eval_split = args.eval_split or EVAL_SPLITS.get(args.source, "test")
        if eval_split.lower() != "none":
            eval_records, eval_stats = _load(args, eval_split, args.eval_input)
            report["eval_load"] = eval_stats.as_dict()
            files[f"eval_{args.source}"] = write_eval_parquet(
                eval_records, os.path.join(args.out_dir, f"eval_{args.source}.parquet")
            )
        tokenizer = _tokenizer(args.student_tokenizer)
        report["target_length"] = {
            "comt": target_token_stats([target for _, target in pairs], tokenizer),
            "cot": target_token_stats([cot_target(r) for r in records], tokenizer),
            "paper_reference": "about 133 (CoMT) vs 255 (CoT) tokens",
        }
    report["files"] = files
    report["elapsed_s"] = round(time.perf_counter() - started, 2)
    os.makedirs(args.out_dir, exist_ok=True)
    report_path = os.path.join(args.out_dir, "report.json" if with_rest else "comt_report.json")
    with open(report_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False, default=str)
    _print_summary(f"summary (also in {report_path})", report)
    return report


def cmd_rl(args) -> dict[str, Any]:
    records, stats = _load(args, args.split, args.input_path)
    output = args.output or os.path.join(args.out_dir, f"rl_{args.split}.parquet")
    summary = {"source": args.source, "split": args.split, "load": stats.as_dict(), "output": output}
    if not args.dry_run:
        write_rl_parquet(records, output)
    _print_summary("dry run: nothing written" if args.dry_run else "rl", summary)
    return summary


def cmd_eval(args) -> dict[str, Any]:
    names = list(BENCHMARKS) if args.benchmarks == "all" else [n.strip() for n in args.benchmarks.split(",") if n]
    inputs = {}
    for item in args.input:
        if "=" not in item:
            raise SystemExit(f"error: --input {item!r} must be NAME=PATH, e.g. tabmwp=problems_test.json.")
        name, path = item.split("=", 1)
        inputs[name.strip()] = path
    unknown = [name for name in list(names) + list(inputs) if name not in SOURCES]
    if unknown:
        raise SystemExit(f"error: unknown benchmark(s) {unknown}; known: {', '.join(SOURCES)}.")
    summary: dict[str, Any] = {}
    for name in names:
        stats = LoadStats()
        split = EVAL_SPLITS.get(name, "test")
        records = load_source(
            name,
            split,
            input_path=inputs.get(name),
            limit=args.limit,
            seed=args.seed,
            skip_malformed=args.skip_malformed,
            stats=stats,
        )
        path = os.path.join(args.out_dir, f"eval_{name}.parquet")
        if not args.dry_run:
            write_eval_parquet(records, path)
        summary[name] = {"split": split, "problems": len(records), "load": stats.as_dict(), "output": path}
    _print_summary("dry run: nothing written" if args.dry_run else "eval", summary)
    return summary


def cmd_sources() -> None:
    for spec in SOURCES.values():
        hub = f"{spec.hub_id}" + (f" ({spec.hub_config})" if spec.hub_config else "") if spec.hub_id else "offline"
        print(
            f"{spec.name:20s} {spec.role:16s} {hub:36s} splits={','.join(spec.splits)} data_source={spec.data_source}"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpx2", "openai", "httpcore", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        _dispatch(args)
    except (DataError, ValueError, FileNotFoundError, StoreLockedError, TeacherError, SourceUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "sources":
        cmd_sources()
    elif args.command == "build":
        cmd_comt(args, with_rest=True)
    elif args.command == "comt":
        cmd_comt(args)
    elif args.command == "rl":
        cmd_rl(args)
    elif args.command == "eval":
        cmd_eval(args)
