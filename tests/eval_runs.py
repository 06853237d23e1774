"""Run JSONs as ``python -m verl_ccrl.eval`` writes them, for the table and seed tests (test_eval, test_eval_seeds)."""

from __future__ import annotations

import json
from pathlib import Path

from verl_ccrl.eval.results import RUN_SCHEMA, run_file_name

__all__ = ["write_run"]


def write_run(directory, method, model, benchmark, accuracy, *, seed=None, n=10, tokens=100.0, judged=(),
              answer_points=None, created="2025-01-01") -> Path:  # fmt: skip
    """Write one run JSON under ``directory`` and return its path; ``seed`` / ``answer_points`` only when given,
    as runs written before those fields existed."""
    payload = {
        "schema": RUN_SCHEMA,
        "method": method,
        "model_name": model,
        "benchmark": benchmark,
        "created_at": created,
        "metrics": {"accuracy": accuracy, "n": n, "mean_response_tokens": tokens},
        "judged": [list(point) for point in judged],
    }
    if seed is not None:
        payload["seed"] = seed
    if answer_points is not None:
        payload["answer_points"] = [list(point) for point in answer_points]
    path = Path(directory) / run_file_name(method, model, benchmark, seed)
    path.write_text(json.dumps(payload))
    return path
