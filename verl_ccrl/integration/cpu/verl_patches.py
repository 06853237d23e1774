"""The verl 0.9.1 functions that cannot run on CPU whatever the platform reports (1, 2), or run there a Python loop
per token (3), wrapped for CPU runs.

Installed by :func:`verl_ccrl.integration.cpu.register` only when ``VERL_PLATFORM=cpu``; GPU runs never see them. Each
wraps a module attribute of verl, which is what verl's callers look up at call time, except the one caller that imported
a name at module load (``verl/workers/engine_workers.py:38``): the external-module import in ``verl/__init__.py:49``
runs before that module loads in every process, and :func:`install_verl_patches` also rebinds it if it loaded first.

1. Process groups. verl asks for ``f"cpu:gloo,{device}:{backend}"`` (``verl/utils/distributed.py:63`` and ``:89``),
   which on the cpu platform is ``"cpu:gloo,cpu:gloo"``, and torch rejects a device type named twice; no platform
   value makes that string valid. The wrappers ask for plain ``"gloo"``.
2. Critic (value-head) models. ``verl/utils/model.py:645`` loads them with ``attn_implementation="flash_attention_2"``
   hard-coded, ignoring ``model.override_config.attn_implementation``, and flash-attention needs CUDA. The wrapper
   loads the token-classification head with the attention the model config already carries (``sdpa`` on CPU runs,
   set by ``verl/workers/config/model.py:185``).
3. Token log-probabilities. Without flash-attn's cross-entropy kernel (CUDA only), ``logprobs_from_logits``
   (``verl/utils/torch_functional.py:106``) falls back to ``logprobs_from_logits_v2`` (``:197`` and ``:201-205``),
   which loops in Python over the first dimension to bound peak memory; the FSDP engine hands it logits flattened to
   ``(tokens, vocab)`` (``verl/workers/engine/fsdp/transformer_impl.py:1522``), so that is one iteration per token:
   measured, 28 % of the toy world's actor time (``py-spy``, 256 responses a step). The wrapper computes the same
   formulas (``logsumexp`` in float32/64, ``log_softmax`` in bf16) on chunks of rows whose logits hold at most
   ``LOGPROB_CHUNK_ELEMENTS`` values, so peak memory stays bounded for a 150k-token vocabulary too.
"""

from __future__ import annotations

import os
import sys

import torch

_GLOO = "gloo"
_CPU_ATTENTION_FALLBACK = "sdpa"
# Logit values per chunk in the log-probability wrapper: 64 MiB of float32 (about 100 rows of a 150k vocabulary).
LOGPROB_CHUNK_ELEMENTS = 1 << 24


def _gloo_initialize_global_process_group_ray(original):
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or _GLOO)

    initialize_global_process_group_ray.__wrapped__ = original
    return initialize_global_process_group_ray


def _gloo_initialize_global_process_group(original):
    # Replaces verl/utils/distributed.py:62-75 (the torchrun path of the SFT trainer), which takes no backend argument.
    def initialize_global_process_group(timeout_second=36000):
        from datetime import timedelta

        torch.distributed.init_process_group(
            backend=_GLOO,
            timeout=timedelta(seconds=timeout_second),
            init_method=os.environ.get("DIST_INIT_METHOD", None),
        )
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    initialize_global_process_group.__wrapped__ = original
    return initialize_global_process_group


def _configured_attention_valuehead_model(original):
    # Replaces the first attempt of verl/utils/model.py:641-650; anything else (e.g. the trl value-head fallback for
    # architectures without a token-classification class) is left to the original.
    def load_valuehead_model(local_path, torch_dtype, model_config, trust_remote_code):
        from transformers import AutoModelForTokenClassification

        attention = getattr(model_config, "_attn_implementation", None) or _CPU_ATTENTION_FALLBACK
        if attention.startswith("flash_attention"):
            attention = _CPU_ATTENTION_FALLBACK
        try:
            return AutoModelForTokenClassification.from_pretrained(
                pretrained_model_name_or_path=local_path,
                torch_dtype=torch_dtype,
                config=model_config,
                attn_implementation=attention,
                trust_remote_code=trust_remote_code,
            )
        except ValueError:
            return original(local_path, torch_dtype, model_config, trust_remote_code)

    load_valuehead_model.__wrapped__ = original
    return load_valuehead_model


def _chunked_logprobs_from_logits(original):
    def logprobs_from_logits_v2(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        vocab = logits.shape[-1]
        rows = logits.reshape(-1, vocab)
        row_labels = labels.reshape(-1, 1)
        chunk = max(1, LOGPROB_CHUNK_ELEMENTS // max(1, vocab))
        pieces = []
        for chunk_logits, chunk_labels in zip(rows.split(chunk), row_labels.split(chunk), strict=True):
            if chunk_logits.dtype in (torch.float32, torch.float64):
                picked = chunk_logits.gather(-1, chunk_labels).squeeze(-1)
                pieces.append(picked - torch.logsumexp(chunk_logits, dim=-1))
            else:  # as verl: logsumexp is unstable in bf16, log_softmax is not
                pieces.append(
                    torch.nn.functional.log_softmax(chunk_logits, dim=-1).gather(-1, chunk_labels).squeeze(-1)
                )
        return torch.cat(pieces).view(labels.shape)

    logprobs_from_logits_v2.__wrapped__ = original
    return logprobs_from_logits_v2


# (verl module, function name, wrapper factory, modules that import the name at load time)
_SEAMS = (
    (
        "verl.utils.distributed",
        "initialize_global_process_group_ray",
        _gloo_initialize_global_process_group_ray,
        ("verl.workers.engine_workers",),
    ),
    (
        "verl.utils.distributed",
        "initialize_global_process_group",
        _gloo_initialize_global_process_group,
        ("verl.trainer.sft_trainer",),
    ),
    ("verl.utils.model", "load_valuehead_model", _configured_attention_valuehead_model, ()),
    ("verl.utils.torch_functional", "logprobs_from_logits_v2", _chunked_logprobs_from_logits, ()),
)


def verl_original(function):
    """verl's own ``function``: what a wrapper above was built from, or ``function`` itself if it is not wrapped."""
    return getattr(function, "__wrapped__", function)


def install_verl_patches() -> None:
    """Wrap the verl functions above (idempotent). Call only when the cpu platform is selected."""
    import importlib

    for module_name, function_name, wrap, importers in _SEAMS:
        module = importlib.import_module(module_name)
        current = getattr(module, function_name)
        if verl_original(current) is not current:
            continue
        replacement = wrap(current)
        setattr(module, function_name, replacement)
        for importer_name in importers:
            importer = sys.modules.get(importer_name)
            if importer is not None and getattr(importer, function_name, None) is current:
                setattr(importer, function_name, replacement)
