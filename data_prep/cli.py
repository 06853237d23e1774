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
from data_prep.options import build_parser, teacher_kwargs
from data_prep.outputs import (
    cot_target,
    target_token_stats,
    write_eval_parquet,
    write_rl_parquet,
    write_sft_parquet,
)
from data_prep.prompts import comt_template
from data_prep.records import DataError, Record
from data_prep.sources import (
    BENCHMARKS,
    EVAL_SPLITS,
    RENAMED_SOURCES,
    SOURCES,
    LoadStats,
    SourceUnavailableError,
    load_source,
)
from data_prep.store import ResultStore, StoreLockedError, request_key
from data_prep.teachers import SamplingParams, TeacherError, make_teacher, teacher_name

__all__ = ["build_parser", "main"]

logger = logging.getLogger("data_prep")


# Exit statuses: 0 done; 2 an error that stopped the command; 3 finished, but some teacher requests failed for good.
EXIT_ERROR = 2
EXIT_UNFINISHED = 3


class UnfinishedRequestsError(RuntimeError):
    """The command finished and wrote its files, but some problems' teacher requests failed for good."""


# ------------------------------------------------------------------------------------------------ helpers


def _directory_path(path: str, flag: str) -> None:
    """Fail before any work when ``path`` cannot be (or become) a directory: it, or a parent, is a file."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(
            f"{flag} {path!r}: {existing!r} is a file, not a directory. Fix: pass a directory path (it is created "
            "when missing), or move the file away."
        )


def _teacher_from_args(args: argparse.Namespace):
    return make_teacher(args.teacher, **teacher_kwargs(args))


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
    name = teacher_name(args.teacher, args.model)
    if name and os.path.exists(store_path):
        sampling = _comt_config(args).sampling.as_dict()
        with ResultStore(store_path, lock=False, repair=False, skip_malformed=args.skip_malformed) as store:
            keys = [request_key(r.key, template.version, name, sampling) for r in records]
            plan["already_done_in_store"] = sum(
                1 for key in keys if store.first_valid(key) or len(store.attempts(key)) >= args.max_attempts
            )
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
    with ResultStore(store_path, fsync=args.fsync, skip_malformed=args.skip_malformed) as store:
        run = await generate_comt_async(
            records, teacher, store, _comt_config(args), comt_template(args.prompt_file), progress=not args.no_progress
        )
        store_stats = {
            "path": store_path,
            "entries": len(store),
            "appended_this_run": store.appended,
            "duplicates_on_load": store.duplicates,
            "repaired_partial_bytes": store.repaired_bytes,
            "undecodable_lines_skipped": store.undecodable_lines,
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
    if run.unfinished:
        raise UnfinishedRequestsError(
            f"{run.unfinished} of {run.total} problems have no meta-thought: their teacher requests failed for good "
            f"(causes under teacher_http in {report_path}); the files written hold only the others. Fix: check that "
            "the teacher answers (--base-url, the server's log), then rerun the same command: it resumes from "
            f"{store_path} and sends only those requests."
        )
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
    renamed = [f"{name!r} was renamed: use {RENAMED_SOURCES[name]}" for name in names if name in RENAMED_SOURCES]
    if renamed:
        raise SystemExit(f"error: {'; '.join(renamed)}.")
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
        return EXIT_ERROR
    except UnfinishedRequestsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNFINISHED
    return 0


def _dispatch(args: argparse.Namespace) -> None:
    if getattr(args, "out_dir", None):
        _directory_path(args.out_dir, "--out-dir")
    for flag, path in (("--store", getattr(args, "store", None)), ("--output", getattr(args, "output", None))):
        if path:
            _directory_path(os.path.dirname(os.path.abspath(path)), f"{flag}'s folder")
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
