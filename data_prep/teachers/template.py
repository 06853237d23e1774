"""The demo teacher: **a deterministic test/demo teacher, not a model.**

It finds the reference solution in the CoMT prompt and replaces every computed number with a variable name
(``result_1``...), so its output passes validation. Use it to test the pipeline offline; never to build training data.

Example::

    >>> import asyncio
    >>> from data_prep.prompts import comt_template
    >>> messages = comt_template().render("Ann has 3 bags of 4 pears. How many pears?", "3 * 4 = 12 pears.\\n#### 12")
    >>> teacher = TemplateTeacher()
    >>> print(asyncio.run(teacher.generate([messages], SamplingParams()))[0].text)
    Step 1: 3 * 4 = result_1 pears.
    The answer is result_1.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from data_prep.prompts import ANSWER_MARKER, PROBLEM_MARKER, REFERENCE_MARKER
from data_prep.teachers.base import Messages, SamplingParams, TeacherReply
from verl_ccrl import analyze_response

__all__ = ["TemplateTeacher", "prompt_sections", "template_meta_thought"]

_LIST_MARKER = re.compile(r"^(?:[-*•]\s+|\d{1,2}[.)]\s+)+")


def _section(text: str, start_marker: str, end_marker: str) -> str | None:
    start = text.find(start_marker)
    if start < 0:
        return None
    start += len(start_marker)
    end = text.find(end_marker, start)
    return text[start:] if end < 0 else text[start:end]


def prompt_sections(messages: Messages) -> tuple[str, str | None]:
    """``(question, reference)`` found back in a rendered CoMT prompt; the reference is None in any other prompt.

    >>> prompt_sections([{"role": "user", "content": "Problem:\\nAnn has 3.\\n\\nReference solution:\\n3\\n\\nMeta-thought:"}])
    ('Ann has 3.', '3')
    """
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    question = _section(user, PROBLEM_MARKER, "\n\n" + REFERENCE_MARKER) or user
    return question, _section(user, REFERENCE_MARKER, ANSWER_MARKER)


def template_meta_thought(question: str, reference: str) -> str:
    """The demo teacher's rewrite: the reference's steps with every computed number replaced by ``result_k``.

    >>> print(template_meta_thought("A box holds 12 eggs. Tom buys 7 boxes.", "7 * 12 = 84 eggs\\n#### 84"))
    Step 1: 7 * 12 = result_1 eggs
    The answer is result_1.
    """
    names: dict[Any, str] = {}
    steps: list[str] = []
    answer_name = None
    for line in reference.strip().splitlines():
        line = _LIST_MARKER.sub("", line.strip())
        if not line or line.endswith(":") and not any(ch.isdigit() for ch in line):
            continue  # drop headings ("Let's solve this step by step:"): they carry no step
        if line.startswith("####"):
            answer = analyze_response(question, line)
            for mention in answer:
                answer_name = names.get(mention.value) or answer_name
            continue
        pieces, last = [], 0
        for mention in analyze_response(question, line):
            if mention.kind != "computed":
                continue
            name = names.setdefault(mention.value, f"result_{len(names) + 1}")
            pieces.append(line[last : mention.start])
            pieces.append(name)
            last = mention.end
        pieces.append(line[last:])
        steps.append(f"Step {len(steps) + 1}: " + "".join(pieces))
    answer_name = answer_name or (list(names.values())[-1] if names else "the quantity asked for")
    return "\n".join(steps + [f"The answer is {answer_name}."])


class TemplateTeacher:
    """Deterministic demo/test teacher (no model): see the module docstring. ``delay_s`` sleeps per call."""

    NAME = "template-v1"

    def __init__(self, *, batch_size: int = 64, delay_s: float = 0.0):
        self.name = self.name_for()
        self.concurrency = 1
        self.batch_size = batch_size
        self.delay_s = delay_s
        self.calls = 0

    @staticmethod
    def name_for(model: str | None = None) -> str:
        """Its store identity (it has no model)."""
        return TemplateTeacher.NAME

    async def start(self) -> None:
        return None

    async def generate(
        self, messages_batch: list[Messages], sampling: SamplingParams | None = None
    ) -> list[TeacherReply]:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.calls += len(messages_batch)
        outputs = []
        for messages in messages_batch:
            question, reference = prompt_sections(messages)
            outputs.append(TeacherReply(template_meta_thought(question, reference or ""), "stop"))
        return outputs

    async def close(self) -> None:
        return None
