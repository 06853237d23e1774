"""Small Qwen2 configurations for the toy world, and a random model with the toy tokenizer saved where verl loads it.

Sizes (parameters with the toy vocabulary of 516 tokens, tied embeddings):

========= ====== ====== ===== ============ ===========
size      hidden layers heads intermediate parameters
========= ====== ====== ===== ============ ===========
``xs``    64     2      2     256          0.16 M
``s``     128    4      4     512          1.12 M
``m``     192    6      6     768          3.64 M
========= ====== ====== ===== ============ ===========

Example::

    >>> config = qwen2_config("s", vocab_size=200, eos_token_id=2, pad_token_id=0)
    >>> config.hidden_size, config.num_hidden_layers, config.tie_word_embeddings
    (128, 4, True)
"""

from __future__ import annotations

import os

__all__ = ["SIZES", "build_model", "qwen2_config"]

SIZES = {
    "xs": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256},
    "s": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
    "m": {"hidden_size": 192, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 768},
}


def qwen2_config(size: str, *, vocab_size: int, eos_token_id: int, pad_token_id: int):
    """The ``Qwen2Config`` of ``size`` (a key of :data:`SIZES`) for a vocabulary of ``vocab_size`` tokens."""
    from transformers import Qwen2Config

    from toy_world.tokenizer import MAX_POSITION_EMBEDDINGS

    if size not in SIZES:
        raise ValueError(f"size={size!r} is unknown. Choose one of: {', '.join(SIZES)}.")
    dims = SIZES[size]
    return Qwen2Config(
        vocab_size=vocab_size,
        num_key_value_heads=dims["num_attention_heads"],
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        torch_dtype="float32",
        **dims,
    )


def build_model(size: str = "s", seed: int = 0):
    """A randomly initialised ``Qwen2ForCausalLM`` of ``size`` and the toy tokenizer: ``(model, tokenizer)``."""
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    from toy_world.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    config = qwen2_config(
        size, vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return model, tokenizer


def save(model, tokenizer, output_dir: str) -> str:
    """Save ``model`` and ``tokenizer`` to ``output_dir`` as verl and transformers load them; returns the path."""
    os.makedirs(output_dir, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir
