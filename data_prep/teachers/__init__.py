"""Teacher backends behind one interface (:mod:`data_prep.teachers.base`), one module per backend.

- :class:`OpenAITeacher` (:mod:`~data_prep.teachers.openai_compatible`): any OpenAI-compatible chat endpoint.
- :class:`VLLMTeacher` (:mod:`~data_prep.teachers.vllm_offline`): vLLM's offline ``LLM.chat`` on a GPU node.
- :class:`TransformersTeacher` (:mod:`~data_prep.teachers.transformers_local`): a local transformers model.
- :class:`TemplateTeacher` (:mod:`~data_prep.teachers.template`): **a deterministic test/demo teacher, not a model**.

Each backend's ``name_for(model)`` is its identity in the result-store key; :func:`teacher_name` gives it by kind
name without building the teacher (the CLI's dry run counts what the store holds with it).

Example::

    >>> teacher_name("template", None), teacher_name("openai", "llama"), teacher_name("openai", None)
    ('template-v1', 'openai:llama', None)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from data_prep.teachers.base import Messages, SamplingParams, Teacher, TeacherError, TeacherReply
from data_prep.teachers.openai_compatible import OpenAITeacher
from data_prep.teachers.template import TemplateTeacher, template_meta_thought
from data_prep.teachers.transformers_local import TransformersTeacher
from data_prep.teachers.vllm_offline import VLLMTeacher

__all__ = [
    "TeacherReply",
    "Messages",
    "OpenAITeacher",
    "SamplingParams",
    "TEACHERS",
    "Teacher",
    "TeacherError",
    "TemplateTeacher",
    "TransformersTeacher",
    "VLLMTeacher",
    "make_teacher",
    "teacher_name",
    "template_meta_thought",
]

logger = logging.getLogger(__name__)

# The CLI's --teacher choices, in the order its help lists them.
_BACKENDS: dict[str, Any] = {
    "openai": OpenAITeacher,
    "vllm": VLLMTeacher,
    "transformers": TransformersTeacher,
    "template": TemplateTeacher,
}
TEACHERS = tuple(_BACKENDS)


def _backend(kind: str) -> Any:
    if kind not in _BACKENDS:
        raise ValueError(f"teacher={kind!r} is unknown. Choose one of: {', '.join(TEACHERS)}.")
    return _BACKENDS[kind]


def teacher_name(kind: str, model: str | None) -> str | None:
    """The store identity a teacher of ``kind`` serving ``model`` will have; None when it is known only at start."""
    return _backend(kind).name_for(model)


def make_teacher(kind: str, *, model: str | None = None, base_urls: list[str] | None = None, **kwargs: Any) -> Any:
    """A teacher by kind name (the CLI's ``--teacher``): ``openai``, ``vllm``, ``transformers`` or ``template``."""
    started = time.perf_counter()
    backend = _backend(kind)
    if kind == "openai":
        teacher = backend(base_urls or [], model, **kwargs)
    elif kind == "template":
        teacher = backend(**kwargs)
    else:
        if not model:
            raise ValueError(f"teacher {kind!r} needs --model (a local path or hub id of the teacher model).")
        teacher = backend(model, **kwargs)
    logger.debug("made teacher %s in %.3fs", kind, time.perf_counter() - started)
    return teacher
