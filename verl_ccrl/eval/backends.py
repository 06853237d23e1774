"""Generation backends with one interface: greedy responses plus the model's per-token entropy (nats).

- :class:`TransformersBackend` (CPU or GPU): batched greedy ``generate`` with left padding, through
  :func:`~verl_ccrl.eval.generation.generate_with_entropies`: the entropy at each generated token is that of the
  *raw* next-token logits (temperature 1, the model's own distribution), what the policy believes.
- :class:`VLLMBackend` (GPU): greedy vLLM with ``logprobs=top_k``; entropies by ``entropies_from_position_logprobs``
  (the top-k midpoint estimate of the rollout, docs/training.md, "The top-k estimate"). vLLM is imported only here.

Both render prompts with the tokenizer's chat template (``add_generation_prompt=True``), stop at the model's EOS
tokens and return the response tokens *without* the stop token: its entropy belongs to no number, and "mean
response tokens" counts what the model wrote.

Example (a backend is built from an :class:`~verl_ccrl.eval.config.EvalConfig`)::

    backend = load_backend(config)                       # TransformersBackend or VLLMBackend
    [generation] = backend.generate([[{"role": "user", "content": "What is 2 + 3?"}]])
    generation.text, generation.token_ids, generation.entropies, generation.finish_reason
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from verl_ccrl.eval.config import EvalConfig, EvalError
from verl_ccrl.eval.generation import Generation, eos_token_id_list, generate_with_entropies

__all__ = ["TransformersBackend", "VLLMBackend", "check_model_dir", "load_backend", "render_prompts"]

logger = logging.getLogger(__name__)

Messages = Sequence[dict[str, str]]


def check_model_dir(path: str) -> None:
    """Raise :class:`EvalError` unless ``path`` is a saved Hugging Face model directory."""
    if not os.path.exists(path):
        raise EvalError(
            f"--model {path!r}: no such directory. Pass the directory of a saved Hugging Face model (config.json, "
            "weights and tokenizer files), e.g. a merged verl checkpoint; download hub models beforehand "
            "(`huggingface-cli download ORG/NAME --local-dir DIR`), since evaluation does not reach the hub."
        )
    if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "config.json")):
        raise EvalError(
            f"--model {path!r}: not a model directory (no config.json there). Pass the directory that holds "
            "config.json; for a verl FSDP checkpoint, merge it first (`python -m verl.model_merger merge ...`)."
        )


def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as error:  # missing/corrupt tokenizer files raise OSError, ValueError, ...
        raise EvalError(
            f"--model {path!r}: cannot load its tokenizer ({type(error).__name__}: {str(error)[:200]}). Save the "
            "tokenizer next to the weights (tokenizer.save_pretrained(DIR))."
        ) from error
    if not getattr(tokenizer, "chat_template", None):
        raise EvalError(
            f"--model {path!r}: its tokenizer has no chat template; prompts are chat messages. Copy the "
            "tokenizer_config.json (with chat_template) of the base instruct model into the directory."
        )
    return tokenizer


def render_prompts(tokenizer, conversations: Sequence[Messages]) -> list[list[int]]:
    """Prompt token ids: the chat template with the assistant turn opened (``add_generation_prompt=True``)."""
    prompts = []
    for messages in conversations:
        text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        # The template already holds any BOS it wants; encoding must not add another.
        prompts.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return prompts


def _eos_token_ids(tokenizer, model_path: str) -> list[int]:
    """EOS ids of the checkpoint's generation_config.json (Qwen instruct: <|im_end|> and <|endoftext|>) and tokenizer."""
    configured = None
    generation_config = os.path.join(model_path, "generation_config.json")
    if os.path.isfile(generation_config):
        with open(generation_config) as handle:
            configured = json.load(handle).get("eos_token_id")
    ids = eos_token_id_list(configured, tokenizer.eos_token_id)
    if not ids:
        raise EvalError(f"--model {model_path!r}: neither the tokenizer nor generation_config.json names an EOS token.")
    return ids


def _cut_at_stop(token_ids: list[int], stop_ids: set[int]) -> tuple[int, str]:
    for position, token_id in enumerate(token_ids):
        if token_id in stop_ids:
            return position, "stop"
    return len(token_ids), "length"


class TransformersBackend:
    """Greedy ``generate`` in batches (left padding), with exact entropies from the raw logits."""

    name = "transformers"

    def __init__(self, config: EvalConfig):
        import torch
        from transformers import AutoModelForCausalLM, GenerationConfig

        check_model_dir(config.model)
        self.tokenizer = _load_tokenizer(config.model)
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        self.eos_token_ids = _eos_token_ids(self.tokenizer, config.model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.convert_ids_to_tokens(self.eos_token_ids[0])
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EvalError(f"--device {config.device!r}: CUDA is not available here. Pass --device cpu.")
        dtype_name = config.dtype if config.dtype != "auto" else ("float32" if device == "cpu" else "bfloat16")
        try:
            model = AutoModelForCausalLM.from_pretrained(config.model, dtype=getattr(torch, dtype_name))
        except Exception as error:
            raise EvalError(
                f"--model {config.model!r}: cannot load the model ({type(error).__name__}: {str(error)[:300]}). "
                "Check that the directory holds a complete causal-LM checkpoint."
            ) from error
        self.model = model.to(device).eval()
        self.device = device
        self.dtype = dtype_name
        self.batch_size = config.batch_size
        self.max_new_tokens = config.max_new_tokens
        # A fresh config: a checkpoint's generation_config.json (temperature, top_k, repetition_penalty, ...)
        # must not turn greedy decoding into something else.
        self.generation_config = GenerationConfig(
            do_sample=False,
            max_new_tokens=config.max_new_tokens,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self.device, "dtype": self.dtype, "entropy": "exact (raw logits)"}

    def generate(self, conversations: Sequence[Messages]) -> list[Generation]:
        prompts = render_prompts(self.tokenizer, conversations)
        # Longest first: batches of similar length waste less compute on padding; results return in input order.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for index, generation in zip(batch, self._generate_batch([prompts[i] for i in batch])):
                results[index] = generation
        return results  # type: ignore[return-value]

    def _generate_batch(self, prompts: list[list[int]]) -> list[Generation]:
        padded = self.tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
        new_tokens, entropies, _ = generate_with_entropies(
            self.model,
            padded["input_ids"].to(self.device),
            padded["attention_mask"].to(self.device),
            generation_config=self.generation_config,
        )
        stop_ids = set(self.eos_token_ids)
        generations = []
        for row, (prompt, tokens) in enumerate(zip(prompts, new_tokens)):
            length, finish_reason = _cut_at_stop(tokens, stop_ids)
            token_ids = tokens[:length]
            generations.append(
                Generation(
                    token_ids=token_ids,
                    text=self.tokenizer.decode(token_ids, skip_special_tokens=True),
                    entropies=entropies[row, :length].tolist(),
                    finish_reason=finish_reason,
                    prompt_tokens=len(prompt),
                )
            )
        return generations


class VLLMBackend:
    """Greedy vLLM (GPU) with ``logprobs=top_k``; entropies estimated as the rollout does (``vllm_ccrl``)."""

    name = "vllm"

    def __init__(self, config: EvalConfig):
        check_model_dir(config.model)
        try:
            from vllm import LLM
        except ImportError as error:
            raise EvalError(
                f"--backend vllm: vLLM is not importable ({error}). Install it on a GPU machine "
                "(`pip install -e '.[gpu]'`), or use --backend transformers."
            ) from error
        from transformers import AutoConfig

        self.tokenizer = _load_tokenizer(config.model)
        self.eos_token_ids = _eos_token_ids(self.tokenizer, config.model)
        self.top_k = config.top_k
        self.max_new_tokens = config.max_new_tokens
        hf_config = AutoConfig.from_pretrained(config.model)
        # The log-probs are over the model's output rows (vocab_size in config.json), which may exceed len(tokenizer).
        self.vocab_size = getattr(hf_config, "vocab_size", None) or getattr(
            getattr(hf_config, "text_config", None), "vocab_size", None
        )
        self.dtype = "auto" if config.dtype == "auto" else config.dtype
        self.llm = LLM(
            model=config.model,
            tokenizer=config.model,
            dtype=self.dtype,
            gpu_memory_utilization=config.gpu_memory_utilization,
            tensor_parallel_size=config.tensor_parallel_size,
            max_logprobs=config.top_k,
            # The model's own distribution (before temperature/top-p): the policy at temperature 1, as in training.
            logprobs_mode="raw_logprobs",
            seed=0,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "dtype": self.dtype,
            "top_k": self.top_k,
            "entropy": f"top-{self.top_k} midpoint estimate (vocab_size={self.vocab_size})",
        }

    def generate(self, conversations: Sequence[Messages]) -> list[Generation]:
        from vllm import SamplingParams

        from verl_ccrl.entropy import entropies_from_position_logprobs

        prompts = render_prompts(self.tokenizer, conversations)
        params = SamplingParams(
            temperature=0.0, max_tokens=self.max_new_tokens, logprobs=self.top_k, stop_token_ids=self.eos_token_ids
        )
        outputs = self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        stop_ids = set(self.eos_token_ids)
        generations = []
        for prompt, output in zip(prompts, outputs):
            completion = output.outputs[0]
            tokens = list(completion.token_ids)
            length, _ = _cut_at_stop(tokens, stop_ids)
            position_logprobs = list(completion.logprobs or [])[:length]
            entropies = entropies_from_position_logprobs(position_logprobs, self.top_k, self.vocab_size)
            if len(entropies) != length:  # no log-probs returned: NaN, so numbers get no confidence
                entropies = [float("nan")] * length
            generations.append(
                Generation(
                    token_ids=tokens[:length],
                    text=self.tokenizer.decode(tokens[:length], skip_special_tokens=True),
                    entropies=entropies,
                    # vLLM knows best why it stopped (a stop token may or may not be in token_ids).
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                    prompt_tokens=len(prompt),
                )
            )
        return generations


def load_backend(config: EvalConfig):
    """The backend ``config.backend`` names, loaded (model on its device)."""
    if config.backend == "vllm":
        return VLLMBackend(config)
    return TransformersBackend(config)
