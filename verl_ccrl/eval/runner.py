"""One evaluation run: read the eval files, generate, score, write run JSONs and sample files, re-merge the table.

Example::

    config = EvalConfig(data=("eval_gsm8k.parquet", "eval_svamp.parquet"), model="ckpt/merged", method="CoMT+CCRL",
                        model_name="Qwen2.5-1.5B", out_dir="results", limit=50)
    outputs = run_evaluation(config)
    outputs["runs"]["gsm8k"]         # results/runs/CoMT-CCRL__Qwen2.5-1.5B__gsm8k-<hash>.json (__seedN with a seed)
    outputs["table"]["markdown"]     # results/results.md (every run under results/, plus --merge files)
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from verl_ccrl.alignment import TokenAligner
from verl_ccrl.eval.config import EvalConfig, TableConfig
from verl_ccrl.eval.data import load_eval_files
from verl_ccrl.eval.results import RUN_SCHEMA, find_run_files, load_runs, now_iso, run_file_name, write_json
from verl_ccrl.eval.scoring import answer_points, judged_points, score_sample, summarize_benchmark
from verl_ccrl.eval.table import write_table

__all__ = ["run_evaluation", "merge_table"]

logger = logging.getLogger(__name__)

# Prompts handed to the backend at once: large enough to keep batches full, small enough to show progress.
_CHUNK_BATCHES = 8


def _generate_with_progress(backend, examples, batch_size: int, label: str):
    from tqdm import tqdm

    chunk = batch_size * _CHUNK_BATCHES
    generations = []
    with tqdm(total=len(examples), desc=label, unit="problem", disable=None) as progress:
        for start in range(0, len(examples), chunk):
            part = examples[start : start + chunk]
            generations.extend(backend.generate([example.messages for example in part]))
            progress.update(len(part))
    return generations


def run_evaluation(config: EvalConfig, backend: Any = None) -> dict[str, Any]:
    """Evaluate ``config.model`` on every benchmark of ``config.data``; returns the paths written.

    ``backend`` (anything with ``tokenizer``, ``generate(conversations)`` and ``describe()``) replaces loading one
    from ``config``, for tests and for evaluating several label sets with one loaded model.
    """
    from verl_ccrl.eval.backends import check_model_dir, load_backend

    # Cheap checks before the model loads (minutes for a large one): a bad file fails at once.
    by_benchmark = load_eval_files(config.data, limit=config.limit)
    if backend is None:
        check_model_dir(config.model)
        backend = load_backend(config)
    aligner = TokenAligner(backend.tokenizer)
    runs_dir = os.path.join(config.out_dir, "runs")
    samples_dir = os.path.join(config.out_dir, "samples")
    os.makedirs(samples_dir, exist_ok=True)
    written: dict[str, str] = {}
    for benchmark, examples in by_benchmark.items():
        generations = _generate_with_progress(backend, examples, config.batch_size, f"{config.method} {benchmark}")
        records = []
        for example, generation in zip(examples, generations):
            records.append(
                score_sample(
                    example,
                    generation.text,
                    token_spans=aligner.char_spans(generation.token_ids, generation.text),
                    entropies=generation.entropies,
                    n_tokens=len(generation.token_ids),
                    finish_reason=generation.finish_reason,
                )
            )
        name = run_file_name(config.method, config.model_name, benchmark, config.seed)
        samples_path = os.path.join(samples_dir, name[: -len(".json")] + ".jsonl")
        with open(samples_path + ".tmp", "w") as handle:
            for record in records:
                handle.write(json.dumps(record, allow_nan=False) + "\n")
        os.replace(samples_path + ".tmp", samples_path)
        metrics = summarize_benchmark(records, config.thresholds)
        run = {
            "schema": RUN_SCHEMA,
            "version": 1,
            "method": config.method,
            "model_name": config.model_name,
            "benchmark": benchmark,
            "seed": config.seed,
            "created_at": now_iso(),
            "model_path": os.path.abspath(config.model),
            "generation": {
                **backend.describe(),
                "decoding": "greedy",
                "max_new_tokens": config.max_new_tokens,
                "limit": config.limit,
            },
            "source_files": sorted({os.path.abspath(example.source_file) for example in examples}),
            "samples_file": os.path.relpath(samples_path, runs_dir),
            "metrics": metrics,
            # Calibration points, so the table can pool a row's benchmarks without reading the samples.
            "judged": [[round(confidence, 6), int(correct)] for confidence, correct in judged_points(records)],
            # (confidence of the final answer, response correct): scoring.answer_confidence.
            "answer_points": [[round(confidence, 6), int(correct)] for confidence, correct in answer_points(records)],
        }
        written[benchmark] = write_json(os.path.join(runs_dir, name), run)
        logger.info(
            "%s %s%s %s: accuracy %.1f%% over %d, %.0f tokens",
            config.method,
            config.model_name,
            "" if config.seed is None else f" seed {config.seed}",
            benchmark,
            metrics["accuracy"],
            metrics["n"],
            metrics["mean_response_tokens"],
        )
    table = merge_table(
        TableConfig(
            runs_dir=config.out_dir,
            merge=config.merge,
            id_benchmarks=config.id_benchmarks,
            ood_benchmarks=config.ood_benchmarks,
            thresholds=config.thresholds,
        )
    )
    return {"runs": written, "table": table}


def merge_table(config: TableConfig) -> dict[str, str]:
    """Re-merge every run JSON under ``config.runs_dir`` (and ``config.merge``) into the table files."""
    paths = list(config.merge)
    if config.runs_dir is not None:
        paths = find_run_files(config.runs_dir) + paths
    runs = load_runs(paths, strict_paths=config.merge)
    return write_table(
        runs,
        config.table_dir,
        config.id_benchmarks,
        config.ood_benchmarks,
        config.thresholds,
        config.baseline,
        config.start,
    )
