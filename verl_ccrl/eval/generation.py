"""A generated response with its per-token entropies, and transformers ``generate`` that produces them.

:func:`generate_with_entropies` is how the eval's ``TransformersBackend`` generates with entropies (batched,
greedy, through ``generate``); the ``hf_cpu`` rollout decodes with its own loop
(``verl_ccrl.integration.cpu.batch_decode``: per-row sampling params and seeds) and reports the same distribution,
:func:`sampling_distribution_logits`, which both import from here. torch is imported inside the functions, so
importing this module (and ``verl_ccrl.eval``) does not import torch.

The entropy at each generated token is that of :func:`sampling_distribution_logits` of the *raw* next-token logits
(``output_logits``, before any logits processor): the policy's own distribution at the sampling temperature, or at
temperature 1 when decoding greedily. ``output_scores`` would be the processed scores (truncated by top-k/top-p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["Generation", "eos_token_id_list", "generate_with_entropies", "sampling_distribution_logits"]


@dataclass(frozen=True)
class Generation:
    """One response: its tokens (stop token excluded), text, per-token entropies and why it ended."""

    token_ids: list[int]
    text: str
    entropies: list[float]
    finish_reason: str  # "stop" (an EOS token) or "length" (max_new_tokens reached)
    prompt_tokens: int


def eos_token_id_list(*candidates: Any) -> list[int]:
    """The distinct EOS ids of several sources (a generation config's id or list, a tokenizer's id), in order.

    >>> eos_token_id_list([151645, 151643], 151643, None)
    [151645, 151643]
    """
    ids: list[int] = []
    for candidate in candidates:
        for token_id in candidate if isinstance(candidate, list | tuple) else [candidate]:
            if token_id is not None and int(token_id) not in ids:
                ids.append(int(token_id))
    return ids


def sampling_distribution_logits(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The logits whose softmax entropies and log-probabilities are reported for: ``logits / temperature``.

    This is the distribution the sampler draws from *before* top-k/top-p truncation, in float32, which is also
    what verl's actor scores (it divides by the rollout temperature and never truncates), so rollout and actor
    entropies and log-probabilities are comparable. Truncation is left out on purpose: a top-k/top-p cut makes the
    entropy depend on a sampling knob rather than on the policy's uncertainty.

    Greedy decoding (``temperature == 0``) samples from a point mass, whose entropy is 0 whatever the model thinks;
    it reports the untempered distribution (temperature 1) instead, the policy's own uncertainty.
    """
    scale = temperature if temperature > 0 else 1.0
    return logits.float() / scale


def generate_with_entropies(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, temperature: float = 0.0, **generate_kwargs
) -> tuple[list[list[int]], torch.Tensor, torch.Tensor]:
    """``model.generate`` plus, per generated token, its entropy and log-probability (nats, float32, on CPU).

    ``temperature`` is the sampling temperature (0: greedy), passed on to ``generate`` when sampling; the other
    ``generate_kwargs`` go to ``generate`` as they are (``do_sample``, ``top_k``, ``max_new_tokens`` or a
    ``generation_config``). Returns the new token ids of each row (a finished row is padded to the longest; cut at
    the stop token yourself) and two ``[batch, new tokens]`` tensors.
    """
    import torch

    from verl_ccrl.entropy import entropy_from_logits

    if temperature > 0:
        # One temperature for the sampler and for the reported distribution, so they cannot disagree.
        generate_kwargs["temperature"] = temperature
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_logits=True,
            return_dict_in_generate=True,
            **generate_kwargs,
        )
        new_tokens = output.sequences[:, input_ids.shape[1] :]
        entropies, log_probs = [], []
        # One [batch, V] tensor of raw logits per step; working step by step avoids a second [B, T, V] copy.
        for step, raw_logits in enumerate(output.logits[: new_tokens.shape[1]]):
            step_logits = sampling_distribution_logits(raw_logits, temperature)
            entropies.append(entropy_from_logits(step_logits))
            chosen = new_tokens[:, step : step + 1].to(step_logits.device)
            log_probs.append(torch.log_softmax(step_logits, dim=-1).gather(-1, chosen).squeeze(-1))
    if not entropies:
        empty = torch.zeros(new_tokens.shape[0], 0)
        return new_tokens.cpu().tolist(), empty, empty
    return new_tokens.cpu().tolist(), torch.stack(entropies, dim=1).cpu(), torch.stack(log_probs, dim=1).cpu()
