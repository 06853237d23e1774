"""Versioned prompt templates: the teacher's CoMT instruction and the student's instruction.

The version string is part of every result-store key: editing a template without bumping its version would mix
outputs of two prompts in one store, so :func:`comt_template` derives the version of a custom template file from
its content hash.

``comt-v1`` (the default) paraphrases the paper's instruction: describe the reasoning steps in natural language using
only variable names, do not calculate any specific numbers. The teacher sees the problem and its reference solution
(it *rewrites* a known solution, so the strategy is right) and answers with the meta-thought only.

Example::

    >>> template = comt_template()
    >>> template.version
    'comt-v1'
    >>> messages = template.render("Ann has 3 bags of 4 pears. How many pears?", "3 * 4 = 12\\n#### 12")
    >>> [m["role"] for m in messages], "only variable names" in messages[-1]["content"]
    (['system', 'user'], True)
    >>> student_messages("Ann has 3 bags.")[0]["content"].endswith('after "####".')
    True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

__all__ = [
    "COMT_V1_SYSTEM",
    "COMT_V1_USER",
    "ComtTemplate",
    "STUDENT_INSTRUCTION",
    "comt_template",
    "student_messages",
]

# The instruction appended to every question the student sees: RL prompts, eval prompts and both SFT sets, so the
# CoMT and CoT SFT sets differ only in the assistant target.
STUDENT_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'

COMT_V1_SYSTEM = (
    "You are an expert math teacher. You write the abstract strategy behind a solution, never the arithmetic."
)

COMT_V1_USER = """Rewrite the reference solution of the problem below as a meta-thought: an abstract, step-by-step \
strategy.

Rules:
- Describe the reasoning steps in natural language using only variable names for quantities \
(for example: total_apples = apples_per_box * number_of_boxes).
- Give each quantity from the problem a descriptive variable name the first time you use it.
- Do not calculate any specific numbers. Do not write any number that is not stated in the problem.
- Do not state the final numeric answer; end with the variable that holds the answer.
- Write at most {max_steps} short steps, plain text, no preamble.

Problem:
{question}

Reference solution:
{reference}

Meta-thought:"""

# Markers the template (and the demo teacher) use to find the sections back in a rendered prompt.
PROBLEM_MARKER = "Problem:\n"
REFERENCE_MARKER = "Reference solution:\n"
ANSWER_MARKER = "\n\nMeta-thought:"


@dataclass(frozen=True)
class ComtTemplate:
    """A CoMT prompt: ``{question}``, ``{reference}`` and ``{max_steps}`` fields; ``version`` keys the store."""

    version: str
    system: str
    user: str
    max_steps: int = 8

    def __post_init__(self):
        for name in ("{question}",):
            if name not in self.user:
                raise ValueError(
                    f"ComtTemplate.user must contain the field {name}; got a template without it. Fix: add it where "
                    "the problem text goes."
                )
        try:
            self.user.format(question="", reference="", max_steps=self.max_steps)
        except (KeyError, IndexError, AttributeError, ValueError) as error:
            problem = f"unknown field {{{error.args[0]}}}" if isinstance(error, KeyError) else str(error)
            raise ValueError(
                f"ComtTemplate.user is not a valid template ({problem}). Fix: write a literal brace as {{{{ or }}}}; "
                "the fields are {question}, {reference} and {max_steps}."
            ) from None

    def render(self, question: str, reference: str) -> list[dict[str, str]]:
        user = self.user.format(
            question=question.strip(), reference=_strip_calculator(reference).strip(), max_steps=self.max_steps
        )
        messages = [{"role": "system", "content": self.system}] if self.system else []
        return messages + [{"role": "user", "content": user}]


def _strip_calculator(text: str) -> str:
    import re

    return re.sub(r"<<[^<>]*>>", "", text)


def comt_template(path: str | None = None) -> ComtTemplate:
    """The built-in ``comt-v1`` template, or a custom one from ``path`` (a text file holding the user message with
    ``{question}``, ``{reference}``, ``{max_steps}`` fields; the system message is kept) versioned
    ``custom-<sha256[:12]>`` of its content."""
    if path is None:
        return ComtTemplate("comt-v1", COMT_V1_SYSTEM, COMT_V1_USER)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"prompt_file={path!r} does not exist. Fix: pass a text file with a {{question}} field."
        )
    if not os.path.isfile(path):
        raise ValueError(f"prompt_file={path!r} is not a file. Fix: pass a text file with a {{question}} field.")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        user = data.decode("utf-8")
        digest = hashlib.sha256((COMT_V1_SYSTEM + "\0" + user).encode()).hexdigest()[:12]
        return ComtTemplate(f"custom-{digest}", COMT_V1_SYSTEM, user)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"prompt_file={path!r}: line {line} is not UTF-8. Fix: save the file as UTF-8.") from None
    except ValueError as error:
        raise ValueError(f"prompt_file={path!r}: {error}") from None


def student_messages(question: str, instruction: str = STUDENT_INSTRUCTION) -> list[dict[str, str]]:
    """The student's prompt: the raw question, a blank line, then the fixed instruction."""
    return [{"role": "user", "content": f"{question.strip()}\n\n{instruction}"}]
