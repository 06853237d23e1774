"""vLLM's offline engine as a teacher, on a GPU node (``vllm`` imported only when started)."""

from __future__ import annotations

import asyncio
from typing import Any

from data_prep.teachers.base import InProcessTeacher, Messages, SamplingParams, TeacherError, TeacherReply

__all__ = ["VLLMTeacher"]


class VLLMTeacher(InProcessTeacher):
    """vLLM's offline engine (``LLM.chat``) on a GPU node; large batches, one call at a time.

    ``engine_kwargs`` go to ``vllm.LLM`` (e.g. ``tensor_parallel_size=8``, ``max_model_len=4096``). ``vllm`` is
    imported in :meth:`start` only, so CPU installs never need it.
    """

    def __init__(self, model: str, *, batch_size: int = 512, **engine_kwargs: Any):
        self.model = model
        self.name = self.name_for(model)
        self.batch_size = batch_size
        self.engine_kwargs = engine_kwargs
        self._llm = None

    @staticmethod
    def name_for(model: str | None) -> str | None:
        """Its store identity: ``vllm:<model as given>`` (None without a model)."""
        return f"vllm:{model}" if model else None

    def _loaded(self) -> bool:
        return self._llm is not None

    async def start(self) -> None:
        try:
            import vllm
        except ImportError as error:
            raise TeacherError(
                "teacher 'vllm' needs the vllm package on a GPU node. Fix: pip install 'verl-ccrl[gpu]', or serve the "
                "model with `vllm serve` and use --teacher openai.",
                retryable=False,
            ) from error
        self._vllm = vllm
        self._llm = await asyncio.to_thread(vllm.LLM, model=self.model, **self.engine_kwargs)

    def _generate_sync(self, messages_batch: list[Messages], sampling: SamplingParams) -> list[TeacherReply]:
        params = self._vllm.SamplingParams(
            temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens, seed=sampling.seed
        )
        outputs = self._llm.chat(messages_batch, params, use_tqdm=False)
        return [
            TeacherReply(output.outputs[0].text, output.outputs[0].finish_reason, len(output.outputs[0].token_ids))
            for output in outputs
        ]

    async def close(self) -> None:
        self._llm = None
