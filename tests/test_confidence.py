import math

import pytest
import torch

from verl_ccrl.confidence import entropy_to_confidence, number_confidence


def exact_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Reference: H = -sum p log p from full-vocabulary logits (what verl's actor computes)."""
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1)


def test_uniform_over_k_choices_gives_confidence_one_over_k():
    for k in (1, 2, 4, 10):
        logits = torch.full((1, 50), -1e9)
        logits[0, :k] = 0.0
        entropy = exact_entropy(logits).item()
        assert entropy_to_confidence(entropy) == pytest.approx(1 / k)


def test_mean_aggregation_is_exp_of_mean_entropy_from_torch():
    torch.manual_seed(0)
    logits = torch.randn(3, 100) * 3
    entropies = exact_entropy(logits)
    expected = torch.exp(-entropies.mean()).item()
    assert number_confidence(entropies.tolist()) == pytest.approx(expected)


def test_min_aggregation_takes_the_least_confident_token():
    assert number_confidence([0.1, 2.0, 0.3], aggregation="min") == pytest.approx(math.exp(-2.0))


def test_last_aggregation_takes_the_last_token():
    assert number_confidence([0.1, 2.0, 0.3], aggregation="last") == pytest.approx(math.exp(-0.3))


def test_normalized_entropy_estimator_uses_vocab_size():
    entropy = math.log(2)
    assert number_confidence([entropy], estimator="normalized_entropy", vocab_size=1024) == pytest.approx(0.9)


def test_normalized_entropy_without_vocab_size_is_an_error():
    with pytest.raises(ValueError, match="vocab_size"):
        entropy_to_confidence(0.5, estimator="normalized_entropy")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5, "x", None])
def test_untrustworthy_entropy_gives_no_confidence(bad):
    assert number_confidence([0.1, bad]) is None


def test_no_tokens_give_no_confidence():
    assert number_confidence([]) is None


def test_tiny_negative_roundoff_is_treated_as_zero():
    assert number_confidence([-1e-7]) == pytest.approx(1.0)


def test_confidence_falls_as_entropy_rises():
    values = [number_confidence([h]) for h in (0.0, 0.1, 0.5, 1.0, 3.0)]
    assert values == sorted(values, reverse=True)


def test_unknown_aggregation_is_an_error():
    with pytest.raises(ValueError, match="aggregation"):
        number_confidence([0.1], aggregation="median")
