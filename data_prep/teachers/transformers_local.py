"""A local transformers causal LM as a teacher (``model.generate``, CPU by default); for small models and demos."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from data_prep.teachers.base import InProcessTeacher, Messages, SamplingParams, TeacherReply

__all__ = ["TransformersTeacher"]

logger = logging.getLogger(__name__)


class TransformersTeacher(InProcessTeacher):
    """Batched ``model.generate`` of a local transformers causal LM (CPU by default); for small models and demos.

    ``model``: a local path or hub id (offline machines: a local path). The tokenizer's chat template renders the
    conversation; left padding batches prompts. ``device``: ``"cpu"``, ``"cuda"``... ``dtype``: torch dtype name.
    """

    def __init__(self, model: str, *, batch_size: int = 8, device: str = "cpu", dtype: str = "float32", seed: int = 0):
        self.model_path = model
        self.name = self.name_for(model)
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.seed = seed
        self._model = None
        self._tokenizer = None
        self._warned_truncation = False

    @staticmethod
    def name_for(model: str | None) -> str | None:
        """Its store identity: a local directory's last part, else the hub id (None without a model)."""
        if not model:
            return None
        return f"transformers:{os.path.basename(os.path.normpath(model)) if os.path.isdir(model) else model}"

    def _loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype))
        self._model.to(self.device).eval()

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _generate_sync(self, messages_batch: list[Messages], sampling: SamplingParams) -> list[TeacherReply]:
        torch = self._torch
        tokenizer = self._tokenizer
        prompts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages_batch]
        encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
        limit = getattr(self._model.config, "max_position_embeddings", None)
        max_new = sampling.max_tokens
        if limit and max(map(len, encoded)) + max_new > limit:
            # A small model's context cannot hold the prompt: keep its end (problem, reference, answer cue).
            max_new = min(max_new, limit // 2)
            keep = limit - max_new
            if not self._warned_truncation:
                self._warned_truncation = True
                logger.warning(
                    "prompts longer than the model's %d-token context: keeping their last %d tokens and "
                    "generating at most %d.",
                    limit,
                    keep,
                    max_new,
                )
            encoded = [ids[-keep:] for ids in encoded]
        inputs = tokenizer.pad({"input_ids": encoded}, return_tensors="pt", padding=True).to(self.device)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        do_sample = sampling.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": do_sample,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
        with torch.no_grad():
            output = self._model.generate(**inputs, **kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        generations = []
        eos = tokenizer.eos_token_id
        for row in new_tokens.tolist():
            row = [token for token in row if token != tokenizer.pad_token_id or token == eos]
            stopped = eos in row
            if stopped:
                row = row[: row.index(eos)]
            text = tokenizer.decode(row, skip_special_tokens=True)
            generations.append(TeacherReply(text, "stop" if stopped else "length", len(row)))
        return generations

    async def close(self) -> None:
        self._model = None
