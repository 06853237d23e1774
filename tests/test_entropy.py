import math

import pytest
import torch

from verl_ccrl.entropy import entropy_from_logits, entropy_from_logprobs, entropy_upper_bound_from_logprobs


def exact_entropy(logits):
    probs = torch.softmax(logits.double(), dim=-1)
    return -(probs * torch.log(probs)).sum(-1)


def top_k(logits, k):
    return torch.log_softmax(logits.double(), dim=-1).topk(k, dim=-1).values


def test_full_distribution_gives_the_exact_entropy():
    torch.manual_seed(0)
    logits = torch.randn(8, 1000) * 4
    assert torch.allclose(entropy_from_logits(logits).double(), exact_entropy(logits), atol=1e-4)


def test_truncated_estimate_is_a_lower_bound_and_the_upper_bound_holds():
    torch.manual_seed(1)
    logits = torch.randn(64, 5000) * torch.linspace(0.5, 8, 64)[:, None]
    exact = exact_entropy(logits)
    for k in (1, 5, 20, 100):
        estimate = entropy_from_logprobs(top_k(logits, k)).double()
        upper = entropy_upper_bound_from_logprobs(top_k(logits, k), vocab_size=5000).double()
        assert torch.all(estimate <= exact + 1e-4), k
        assert torch.all(exact <= upper + 1e-4), k


def test_midpoint_error_is_at_most_half_the_gap():
    torch.manual_seed(4)
    logits = torch.randn(64, 5000) * torch.linspace(0.5, 8, 64)[:, None]
    exact = exact_entropy(logits)
    for k in (1, 5, 20, 100):
        lower = entropy_from_logprobs(top_k(logits, k)).double()
        upper = entropy_upper_bound_from_logprobs(top_k(logits, k), vocab_size=5000).double()
        midpoint = entropy_from_logprobs(top_k(logits, k), vocab_size=5000).double()
        assert torch.all((midpoint - exact).abs() <= (upper - lower) / 2 + 1e-4), k


def test_error_shrinks_as_k_grows():
    torch.manual_seed(2)
    logits = torch.randn(64, 5000) * 3
    exact = exact_entropy(logits)
    errors = [
        (exact - entropy_from_logprobs(top_k(logits, k), vocab_size=5000).double()).abs().max().item()
        for k in (5, 20, 100, 1000)
    ]
    assert errors == sorted(errors, reverse=True) and errors[-1] < errors[0] / 5


def test_confidence_error_is_small_at_the_confidences_that_matter():
    # Stress case: one strong token over a flat floor across a 151k vocabulary, so the top-20 cut misses real mass.
    torch.manual_seed(3)
    logits = torch.randn(256, 151_000) * 1.0
    logits[:, 0] += torch.linspace(14.0, 22.0, 256)
    exact = exact_entropy(logits)
    confident = exact < math.log(2)  # c = exp(-H) > 0.5
    assert confident.sum() > 100
    estimate = entropy_from_logprobs(top_k(logits, 20), vocab_size=151_000).double()
    confidence_error = (torch.exp(-exact) - torch.exp(-estimate))[confident].abs().max().item()
    assert confidence_error < 0.05


def test_padding_with_minus_infinity_is_ignored():
    log_probs = torch.log(torch.tensor([[0.5, 0.5, 0.0]]))
    assert entropy_from_logprobs(log_probs).item() == pytest.approx(math.log(2), abs=1e-6)


def test_certain_token_has_zero_entropy():
    assert entropy_from_logprobs(torch.tensor([[0.0]])).item() == pytest.approx(0.0, abs=1e-7)
