"""Evaluation for the paper's results table: accuracy per benchmark, response length, and the calibration of the
numbers a response computes (overconfident-error rate, ECE, reliability diagram). See docs/evaluation.md.

``python -m verl_ccrl.eval --model DIR --method CoMT+CCRL --data eval_gsm8k.parquet --out-dir results`` generates
(transformers or vLLM, greedy), scores with :func:`verl_ccrl.score_response`, and writes per-run JSONs plus the
merged ``results.md`` / ``results.csv`` / ``reliability.png`` / ``overconfidence.png``;
``python -m verl_ccrl.eval table --runs-dir results`` re-merges; ``python -m verl_ccrl.eval curves --logs
LABEL=FILE ... --out curves.png`` plots training curves from verl's file logger; ``python -m verl_ccrl.eval view
results --out report.html`` writes one HTML page of every response with its numbers marked (docs/viewer.md).

Modules: ``benchmarks`` (names, ID/OOD sets), ``config`` (dataclasses), ``data`` (parquet reading), ``generation``
(a response with entropies; transformers generate), ``backends`` (transformers / vLLM), ``scoring`` (per response and
per benchmark), ``results`` (run JSONs), ``rows`` (the table's rows: mean and spread over seeds), ``table`` (its
files), ``contrast`` (each method's difference from a baseline, paired by seed), ``calibration_table`` (its
"Calibration" part), ``plots`` (its figures and the training curves), ``curves`` (reading the training logs),
``runner`` (one run end to end), ``view`` (the page of responses and numbers, with its ``view_page.html`` /
``view_page.js``), ``cli``. Importing this package imports neither vLLM nor matplotlib.

Example::

    >>> from verl_ccrl.eval import canonical_benchmark_name, DEFAULT_OOD_BENCHMARKS
    >>> canonical_benchmark_name("openai/gsm8k"), "gsm_hard" in DEFAULT_OOD_BENCHMARKS
    ('gsm8k', True)
"""

from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS, canonical_benchmark_name
from verl_ccrl.eval.config import CurvesConfig, EvalConfig, EvalConfigError, EvalError, TableConfig
from verl_ccrl.eval.curves import training_curves
from verl_ccrl.eval.data import EvalExample, load_eval_file, load_eval_files
from verl_ccrl.eval.results import load_runs
from verl_ccrl.eval.rows import build_rows
from verl_ccrl.eval.runner import merge_table, run_evaluation
from verl_ccrl.eval.scoring import (
    answer_confidence,
    calibration_summary,
    reliability_bins,
    score_sample,
    summarize_benchmark,
)
from verl_ccrl.eval.table import write_table

__all__ = [
    "DEFAULT_ID_BENCHMARKS",
    "DEFAULT_OOD_BENCHMARKS",
    "CurvesConfig",
    "EvalConfig",
    "EvalConfigError",
    "EvalError",
    "EvalExample",
    "TableConfig",
    "answer_confidence",
    "build_rows",
    "calibration_summary",
    "canonical_benchmark_name",
    "load_eval_file",
    "load_eval_files",
    "load_runs",
    "merge_table",
    "reliability_bins",
    "run_evaluation",
    "score_sample",
    "summarize_benchmark",
    "training_curves",
    "write_table",
]
