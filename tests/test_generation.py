"""``generate_with_entropies``, the eval's transformers backend (the ``hf_cpu`` rollout's decoder is checked against it
in ``test_batch_decode.py``): with sampling at a temperature, its entropies and log-probs are those of the tempered
distribution a forward pass predicts."""

import pytest
import torch

from verl_ccrl.entropy import entropy_from_logits
from verl_ccrl.eval.generation import eos_token_id_list, generate_with_entropies


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model

    path = build_tiny_model(str(tmp_path_factory.mktemp("generation_model") / "tiny-qwen"))
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_entropies_and_log_probs_are_those_of_the_tempered_forward_pass(tiny_model, temperature):
    prompt = torch.tensor([[5, 17, 42, 8, 99]])
    sampling = {"do_sample": True, "top_k": 0} if temperature else {"do_sample": False}
    torch.manual_seed(0)
    [tokens], entropies, log_probs = generate_with_entropies(
        tiny_model,
        prompt,
        torch.ones_like(prompt),
        temperature=temperature,
        max_new_tokens=8,
        eos_token_id=[],
        **sampling,
    )
    assert len(tokens) == entropies.shape[1] == log_probs.shape[1] == 8
    with torch.no_grad():
        logits = tiny_model(input_ids=torch.tensor([prompt[0].tolist() + tokens])).logits[0]
    # The distribution that produced response token t is the one predicted at the position before it; greedy
    # decoding reports the untempered distribution.
    predicted = logits[prompt.shape[1] - 1 : -1].float() / (temperature or 1.0)
    torch.testing.assert_close(entropies[0], entropy_from_logits(predicted), atol=1e-4, rtol=0)
    expected_log_probs = torch.log_softmax(predicted, dim=-1).gather(-1, torch.tensor(tokens).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(log_probs[0], expected_log_probs, atol=1e-4, rtol=0)


def test_eos_ids_of_several_sources_are_merged_without_repeats():
    assert eos_token_id_list((7, 3), None, 3, [9]) == [7, 3, 9]
