"""The CPU-only wrappers of verl functions (verl_ccrl/integration/cpu/verl_patches.py), checked against verl's own.

The wrappers are built from their factories here, not installed: installing rebinds verl's module attributes for the
rest of the process.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("verl")

from verl.utils import torch_functional  # noqa: E402

from verl_ccrl.integration.cpu import verl_patches  # noqa: E402

VERLS_ROW_LOOP = verl_patches.verl_original(torch_functional.logprobs_from_logits_v2)


def _logits_and_labels(shape: tuple[int, ...], vocab: int, dtype: torch.dtype, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(*shape, vocab, generator=generator) * 4).to(dtype)
    labels = torch.randint(0, vocab, shape, generator=generator)
    return logits, labels


@pytest.mark.parametrize("shape", [(37,), (3, 11)], ids=["flattened tokens", "batch x sequence"])
@pytest.mark.parametrize("chunk_elements", [1 << 24, 50], ids=["one chunk", "rows split into chunks"])
def test_chunked_log_probs_equal_verls_row_loop_in_float32(monkeypatch, shape, chunk_elements):
    monkeypatch.setattr(verl_patches, "LOGPROB_CHUNK_ELEMENTS", chunk_elements)
    logits, labels = _logits_and_labels(shape, vocab=23, dtype=torch.float32)
    chunked = verl_patches._chunked_logprobs_from_logits(VERLS_ROW_LOOP)(logits, labels)
    expected = VERLS_ROW_LOOP(logits, labels)
    assert chunked.shape == expected.shape == labels.shape
    torch.testing.assert_close(chunked, expected, rtol=0, atol=1e-6)


def test_chunked_log_probs_equal_verls_row_loop_in_bfloat16(monkeypatch):
    monkeypatch.setattr(verl_patches, "LOGPROB_CHUNK_ELEMENTS", 50)
    logits, labels = _logits_and_labels((29,), vocab=23, dtype=torch.bfloat16)
    chunked = verl_patches._chunked_logprobs_from_logits(VERLS_ROW_LOOP)(logits, labels)
    assert chunked.dtype == torch.bfloat16
    assert torch.equal(chunked, VERLS_ROW_LOOP(logits, labels))


def test_chunked_log_probs_give_verls_gradient():
    logits, labels = _logits_and_labels((19,), vocab=23, dtype=torch.float32)
    wrapped = logits.clone().requires_grad_(True)
    reference = logits.clone().requires_grad_(True)
    verl_patches._chunked_logprobs_from_logits(VERLS_ROW_LOOP)(wrapped, labels).sum().backward()
    VERLS_ROW_LOOP(reference, labels).sum().backward()
    torch.testing.assert_close(wrapped.grad, reference.grad, rtol=0, atol=1e-6)


def test_chunked_log_probs_are_the_log_softmax_of_the_label():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    labels = torch.tensor([1, 0])
    chunked = verl_patches._chunked_logprobs_from_logits(VERLS_ROW_LOOP)(logits, labels)
    expected = torch.tensor([-torch.log(torch.tensor(2.0)), 2.0 - torch.logsumexp(torch.tensor([2.0, 0.0]), 0)])
    torch.testing.assert_close(chunked, expected)
