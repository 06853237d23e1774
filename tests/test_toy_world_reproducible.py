"""Same seed, same numbers: the toy-world recipe's RL (verl's real GRPO trainer, the hf_cpu rollout) run twice with
one seed gives bit-identical actor weights and evaluation results, with one agent-loop worker or two (the recipe's
default on CPU); another seed gives other weights.

Two recipe runs, three 2-step RL runs in all, from the committed base model (``SFT_MODEL``: no SFT stage); about
3-5 minutes on two cores, most of it Ray and worker start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE_MODEL = ROOT / "toy_world" / "checkpoints" / "base"
SMALL_STUDY = {
    "VARIANTS": "ccrl",
    "RL_TOTAL_STEPS": "2",
    "N_SFT": "16",
    "N_RL": "64",
    "N_EVAL": "6",
    "TRAIN_BATCH_SIZE": "4",
    "ROLLOUT_N": "4",
    "MAX_RESPONSE_LENGTH": "128",
    "SFT_MODEL": str(BASE_MODEL),
}


def _study(out_dir: Path, seeds: str, **settings: str) -> None:
    env = {
        **os.environ,
        **SMALL_STUDY,
        **settings,
        "SEEDS": seeds,
        "OUT_DIR": str(out_dir),
        "PYTHON": sys.executable,
        # torchrun and verl's console scripts live beside the interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "recipes" / "toy_world.sh")],
        cwd=out_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def _actor_weights(out_dir: Path, seed: int) -> str:
    rl_dir = out_dir / "checkpoints" / f"toy_ccrl_seed{seed}" / "rl"
    step = (rl_dir / "latest_checkpointed_iteration.txt").read_text().strip()
    weights = rl_dir / f"global_step_{step}" / "actor" / "huggingface" / "model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def _eval_metrics(out_dir: Path, seed: int) -> dict[str, dict]:
    runs = {}
    for path in (out_dir / "results").rglob("*.json"):
        run = json.loads(path.read_text())
        if isinstance(run, dict) and run.get("seed") == seed and run.get("method") == "CoMT+CCRL":
            runs[run["benchmark"]] = {"metrics": run["metrics"], "judged": run["judged"]}
    return runs


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("first") / "study", tmp_path_factory.mktemp("second") / "study"
    _study(first, "1 2")
    _study(second, "1", AGENT_WORKERS="1")
    return first, second


def test_the_same_seed_trains_bit_identical_weights_with_one_agent_worker_or_two(two_studies):
    first, second = two_studies
    assert _actor_weights(first, 1) == _actor_weights(second, 1)


def test_the_same_seed_gives_the_same_evaluation(two_studies):
    first, second = two_studies
    metrics = _eval_metrics(first, 1)
    assert set(metrics) == {"toy_id", "toy_ood_combo", "toy_ood_steps"}
    assert metrics == _eval_metrics(second, 1)


def test_another_seed_trains_other_weights(two_studies):
    first, _ = two_studies
    assert _actor_weights(first, 1) != _actor_weights(first, 2)
