"""Configuration of an evaluation run and of the results table: dataclasses with help text and validation.

Every field's help text lives in its metadata (the CLI's ``--help`` is built from it); every check lives in
``__post_init__`` and raises :class:`EvalConfigError` naming the field, the value, the reason and the fix.

Example::

    >>> config = EvalConfig(data=("eval_gsm8k.parquet",), model="/ckpt/qwen", method="CoMT+CCRL", out_dir="results")
    >>> config.model_name, config.backend, config.id_benchmarks
    ('qwen', 'transformers', ('gsm8k', 'svamp'))
    >>> EvalConfig(data=("x.parquet",), model="/m", method="CoT-SFT", out_dir="o", batch_size=0)
    Traceback (most recent call last):
    ...
    verl_ccrl.eval.config.EvalConfigError: --batch-size (batch_size=0) must be an integer >= 1: prompts generated together. Pass e.g. --batch-size 8.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.eval.benchmarks import DEFAULT_ID_BENCHMARKS, DEFAULT_OOD_BENCHMARKS, canonical_benchmark_name

__all__ = [
    "BACKENDS",
    "DEFAULT_CURVE_METRICS",
    "DTYPES",
    "CurvesConfig",
    "EvalConfig",
    "EvalConfigError",
    "EvalError",
    "TableConfig",
]

BACKENDS = ("transformers", "vllm")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class EvalError(Exception):
    """A problem the user can fix (bad file, missing field, bad flag); the CLI prints it without a traceback."""


class EvalConfigError(EvalError, ValueError):
    """A flag or config field with a bad value."""


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A config field: its default, its ``--help`` text and any argparse settings (``nargs``, ``choices``...)."""
    return field(default=default, metadata={"help": help, **cli})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _benchmarks_option(kind: str, default: tuple[str, ...]) -> Any:
    return _option(
        default,
        f"{kind} benchmarks, averaged into the table's '{kind} avg' column (canonical names, see docs/evaluation.md; "
        f"names are canonicalised, so 'openai/gsm8k' works). Default: {' '.join(default)}.",
        nargs="*",
    )


def _thresholds_option() -> Any:
    return _option(
        OVERCONFIDENCE_THRESHOLDS,
        "Confidence thresholds t of the overconfident-error rate (the share of wrong computed numbers, and of wrong "
        "final answers, with confidence > t), each in [0, 1); the table's OCE column shows the highest. To compare "
        "with a training run's ccrl/* metrics, pass its ccrl.overconfidence_thresholds. Default: "
        f"{' '.join(f'{t:g}' for t in OVERCONFIDENCE_THRESHOLDS)} (the paper's).",
        nargs="+",
        metavar="T",
    )


@dataclass
class TableConfig:
    """Which run JSONs form the results table, where it goes, and which benchmarks are ID / OOD."""

    runs_dir: str | None = _option(
        None,
        "Directory scanned (recursively) for run JSONs written by an evaluation run; files of other kinds are ignored.",
        metavar="DIR",
    )
    merge: tuple[str, ...] = _option(
        (), "Extra run JSON files to include (e.g. copied from another machine).", nargs="*"
    )
    table_dir: str | None = _option(None, "Where results.md/.csv and the PNG plots go. Default: the runs directory.")
    id_benchmarks: tuple[str, ...] = _benchmarks_option("ID", DEFAULT_ID_BENCHMARKS)
    ood_benchmarks: tuple[str, ...] = _benchmarks_option("OOD", DEFAULT_OOD_BENCHMARKS)
    thresholds: tuple[float, ...] = _thresholds_option()
    baseline: str | None = _option(
        None,
        "A method label (as given to --method): results.md gains every other seeded method's difference from it, "
        "paired by seed, with a 95 %% interval.",
        metavar="METHOD",
    )
    start: str | None = _option(
        None,
        "The method label of the checkpoint every seeded run began from (one evaluation without --seed, e.g. "
        "CoMT-SFT): results.md gains each seeded method's change from it, with a 95 %% interval over seeds.",
        metavar="METHOD",
    )

    def __post_init__(self) -> None:
        self.merge = _tuple_of_strings("merge", self.merge)
        self.thresholds = _thresholds(self.thresholds)
        if self.runs_dir is None and not self.merge:
            raise EvalConfigError(
                "--runs-dir is not set and --merge lists no file: there is nothing to tabulate. Pass --runs-dir "
                "DIR (the --out-dir of your evaluation runs)."
            )
        if self.runs_dir is not None and not os.path.isdir(self.runs_dir):
            raise EvalConfigError(
                f"--runs-dir (runs_dir={self.runs_dir!r}) is not a directory. Pass the --out-dir of an evaluation run."
            )
        for path in self.merge:
            if not os.path.isfile(path):
                raise EvalConfigError(f"--merge: {path!r} is not a file. Pass run JSON files written by an evaluation.")
        if self.table_dir is None:
            self.table_dir = self.runs_dir if self.runs_dir is not None else os.path.dirname(self.merge[0]) or "."
        self.id_benchmarks, self.ood_benchmarks = _benchmark_sets(self.id_benchmarks, self.ood_benchmarks)


@dataclass
class EvalConfig:
    """One evaluation run: a model, a method label, the eval files, the backend and where results go."""

    data: tuple[str, ...] = _option(
        (),
        "Eval parquet files in verl's RL format (columns prompt, reward_model, extra_info; see docs/evaluation.md). "
        "Each row's benchmark comes from extra_info.source, else data_source, else the file stem; write NAME=FILE to force a name."
        " A file may hold several benchmarks.",
        nargs="+",
        required=True,
    )
    model: str = _option(
        "",
        "Directory of a saved Hugging Face model and tokenizer (config.json, weights, tokenizer files with a chat "
        "template), e.g. a merged verl checkpoint.",
        required=True,
        metavar="PATH",
    )
    method: str = _option(
        "", "Training method label, a row of the table, e.g. 'CoMT+CCRL', 'CoT-SFT', 'CoT-SFT+RL'.", required=True
    )
    out_dir: str = _option(
        "",
        "Output directory: runs/*.json (one per method x model x benchmark; a rerun replaces its file), samples/*.jsonl"
        " (every response, scored), and the merged results.md/.csv and PNG plots.",
        metavar="DIR",
        required=True,
    )
    model_name: str | None = _option(
        None, "Model label in the table, e.g. 'Qwen2.5-1.5B'. Default: the --model directory's name."
    )
    backend: str = _option(
        "transformers",
        "'transformers': greedy generate() on CPU or GPU with exact entropies from the raw logits. 'vllm': greedy vLLM "
        "on GPU, entropies estimated from the top --top-k log-probs.",
        choices=BACKENDS,
    )
    max_new_tokens: int = _option(512, "Most tokens generated per response.")
    batch_size: int = _option(
        8,
        "Prompts generated together (transformers backend; vLLM schedules itself). The raw logits of a batch are kept "
        "until it ends: batch x max-new-tokens x vocab x 4 bytes.",
    )
    limit: int | None = _option(
        None, "Evaluate only the first N rows of each benchmark (quick checks). Default: all rows."
    )
    device: str = _option(
        "auto", "transformers backend: 'cpu', 'cuda', 'cuda:1', ... 'auto' = cuda when available, else cpu."
    )
    dtype: str = _option(
        "auto",
        "Model weights dtype. 'auto' = float32 on CPU, bfloat16 on GPU. Entropies are computed in float32 either way.",
        choices=DTYPES,
    )
    top_k: int = _option(
        20, "vllm backend: log-probs per position for the entropy estimate (docs/training.md, 'The top-k estimate')."
    )
    gpu_memory_utilization: float = _option(0.85, "vllm backend: share of GPU memory vLLM may take, in (0, 1].")
    tensor_parallel_size: int = _option(1, "vllm backend: GPUs per model.")
    id_benchmarks: tuple[str, ...] = _benchmarks_option("ID", DEFAULT_ID_BENCHMARKS)
    ood_benchmarks: tuple[str, ...] = _benchmarks_option("OOD", DEFAULT_OOD_BENCHMARKS)
    merge: tuple[str, ...] = _option((), "Extra run JSON files to include in the merged table.", nargs="*")
    seed: int | None = _option(
        None,
        "The training seed of the evaluated model (an integer >= 0); runs of the same method and model with "
        "different seeds become one table row with mean and spread. Default: none (one run per method x model).",
        metavar="N",
    )
    thresholds: tuple[float, ...] = _thresholds_option()

    def __post_init__(self) -> None:
        self.data = _tuple_of_strings("data", self.data)
        self.thresholds = _thresholds(self.thresholds)
        if not self.data:
            raise EvalConfigError(
                "--data lists no file. Pass one or more eval parquet files, e.g. --data eval.parquet."
            )
        for name in ("model", "method", "out_dir"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise EvalConfigError(f"{_flag(name)} ({name}={value!r}) is empty. {fields_help()[name]}")
        self.method = self.method.strip()
        if self.model_name is None or not str(self.model_name).strip():
            self.model_name = os.path.basename(os.path.normpath(self.model)) or self.model
        self.model_name = str(self.model_name).strip()
        _one_of("backend", self.backend, BACKENDS)
        _one_of("dtype", self.dtype, DTYPES)
        _positive_int("max_new_tokens", self.max_new_tokens, "most tokens per response", 512)
        _positive_int("batch_size", self.batch_size, "prompts generated together", 8)
        _positive_int("top_k", self.top_k, "log-probs per position", 20)
        _positive_int("tensor_parallel_size", self.tensor_parallel_size, "GPUs per model", 1)
        if self.limit is not None:
            _positive_int("limit", self.limit, "rows per benchmark", 50)
        if isinstance(self.gpu_memory_utilization, bool) or not 0 < float(self.gpu_memory_utilization) <= 1:
            raise EvalConfigError(
                f"--gpu-memory-utilization (gpu_memory_utilization={self.gpu_memory_utilization!r}) must be in "
                "(0, 1]. Pass e.g. 0.85."
            )
        device = str(self.device).strip().lower()
        if not (device in ("auto", "cpu", "cuda", "mps") or device.startswith("cuda:")):
            raise EvalConfigError(f"--device (device={self.device!r}) is not a device. Pass auto, cpu, cuda or cuda:N.")
        self.device = device
        self.merge = _tuple_of_strings("merge", self.merge)
        self.id_benchmarks, self.ood_benchmarks = _benchmark_sets(self.id_benchmarks, self.ood_benchmarks)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise EvalConfigError(
                f"--seed (seed={self.seed!r}) must be an integer >= 0: the training seed of the model. Pass e.g. "
                "--seed 1, or leave it out for a model trained once."
            )


DEFAULT_CURVE_METRICS = (
    "ccrl/outcome_mean",
    "ccrl/confidence_term_mean",
    "ccrl/overconfident_error_rate@0.9",
    "ccrl/ece",
    "ccrl/mean_confidence_correct",
    "ccrl/mean_confidence_wrong",
    "actor/entropy",  # the policy's mean token entropy: its sharpening
)


@dataclass
class CurvesConfig:
    """Training curves from verl's ``file`` logger: which logs, under which labels, which metrics, where to."""

    logs: tuple[str, ...] = _option(
        (),
        "LABEL=FILE pairs: a JSONL log of verl's file logger (trainer.logger including 'file'; the path is "
        "VERL_FILE_LOGGER_PATH). Several files with the same LABEL are seeds: one line, their mean, with a min-max "
        "band.",
        nargs="+",
        required=True,
        metavar="LABEL=FILE",
    )
    out: str = _option("", "The PNG written: one panel per metric, x = training step.", required=True, metavar="PNG")
    metrics: tuple[str, ...] = _option(
        DEFAULT_CURVE_METRICS,
        "Metric names of the log's 'data', one panel each; a metric missing from a file is skipped for that file.",
        nargs="+",
        metavar="METRIC",
    )

    def __post_init__(self) -> None:
        self.logs = _tuple_of_strings("logs", self.logs)
        self.metrics = _tuple_of_strings("metrics", self.metrics)
        if not self.logs or not self.metrics:
            empty = "--logs" if not self.logs else "--metrics"
            raise EvalConfigError(f"{empty} lists nothing. Pass e.g. --logs CCRL=ccrl_seed1.jsonl.")
        if not str(self.out).strip():
            raise EvalConfigError("--out (out='') is empty. Pass the PNG to write, e.g. --out curves.png.")
        self.paths_by_label()  # a malformed LABEL=FILE fails here, before any file is read

    def paths_by_label(self) -> dict[str, list[str]]:
        """``--logs`` as label -> files, labels in their first-seen order.

        >>> CurvesConfig(logs=("CCRL=a.jsonl", "outcome=b.jsonl", "CCRL=c.jsonl"), out="x.png").paths_by_label()
        {'CCRL': ['a.jsonl', 'c.jsonl'], 'outcome': ['b.jsonl']}
        """
        grouped: dict[str, list[str]] = {}
        for entry in self.logs:
            label, separator, path = entry.partition("=")
            if not separator or not label.strip() or not path.strip():
                raise EvalConfigError(
                    f"--logs: {entry!r} is not LABEL=FILE. Write e.g. --logs CCRL=logs/ccrl_seed1.jsonl (several "
                    "files with one label are that label's seeds)."
                )
            grouped.setdefault(label.strip(), []).append(path.strip())
        return grouped


def fields_help(cls: type = EvalConfig) -> dict[str, str]:
    """Field name -> help text (the CLI's ``--help``)."""
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def _positive_int(name: str, value: Any, meaning: str, example: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EvalConfigError(
            f"{_flag(name)} ({name}={value!r}) must be an integer >= 1: {meaning}. Pass e.g. {_flag(name)} {example}."
        )


def _one_of(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EvalConfigError(f"{_flag(name)} ({name}={value!r}) is not one of {list(choices)}. Pick one of those.")


def _tuple_of_strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise EvalConfigError(f"{_flag(name)} ({name}={value!r}) must be a list of strings, e.g. ['a', 'b'].")
    return tuple(str(item) for item in value)


def _thresholds(value: Any) -> tuple[float, ...]:
    """``--thresholds`` as sorted floats (the CLI passes strings); refused unless distinct values in [0, 1)."""
    items = [value] if isinstance(value, str) or not hasattr(value, "__iter__") else list(value)
    try:
        thresholds = [float(item) for item in items if not isinstance(item, bool)]
    except (TypeError, ValueError):
        thresholds = []
    if (
        not thresholds
        or len(thresholds) != len(items)
        or len(set(thresholds)) != len(thresholds)
        or not all(math.isfinite(t) and 0.0 <= t < 1.0 for t in thresholds)
    ):
        raise EvalConfigError(
            f"--thresholds (thresholds={value!r}) must be one or more distinct confidences in [0, 1): a wrong number "
            "counts as overconfident above each. Pass e.g. --thresholds 0.5 0.7 0.9, or the training run's "
            "ccrl.overconfidence_thresholds."
        )
    return tuple(sorted(thresholds))


def _benchmark_sets(id_names: Any, ood_names: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    id_set = tuple(dict.fromkeys(canonical_benchmark_name(n) for n in _tuple_of_strings("id_benchmarks", id_names)))
    ood_set = tuple(dict.fromkeys(canonical_benchmark_name(n) for n in _tuple_of_strings("ood_benchmarks", ood_names)))
    both = sorted(set(id_set) & set(ood_set))
    if both:
        raise EvalConfigError(
            f"--id-benchmarks and --ood-benchmarks both list {both}; a benchmark is either in-distribution or "
            "out-of-distribution. Remove it from one of the two."
        )
    return id_set, ood_set
