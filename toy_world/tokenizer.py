"""A word-and-digit tokenizer for the toy world, saved as a Hugging Face ``PreTrainedTokenizerFast``.

Every digit is its own token (so a number's confidence is the confidence of its digits, as with Qwen's tokenizer),
every word of the templates is one token with its leading space or newline, and other characters are single
tokens. The vocabulary is the fixed set of pieces the templates, the student instruction and the chat roles produce
(153 tokens), so encoding a toy-world text and decoding it gives the text back exactly; a character outside it
encodes as ``[UNK]``. Special tokens and the chat template are those of :mod:`verl_ccrl.integration.cpu.tiny_model`, so verl's
SFT and RL datasets render conversations the same way.

Example::

    >>> tokenizer = build_tokenizer()
    >>> ids = tokenizer("Tom has 120 apples.")["input_ids"]
    >>> tokenizer.convert_ids_to_tokens(ids)
    ['Tom', ' has', ' ', '1', '2', '0', ' apples', '.']
    >>> tokenizer.decode(ids)
    'Tom has 120 apples.'
"""

from __future__ import annotations

import re

from data_prep.prompts import STUDENT_INSTRUCTION
from toy_world.problems import ITEMS, NAMES, OPS, ORDINALS, generate_problems, render_problem

# The CPU fixtures' special tokens and chat template: verl's multi-turn SFT dataset checks that each turn renders on
# its own exactly as inside the conversation, which this template does.
from verl_ccrl.integration.cpu.tiny_model import CHAT_END, CHAT_START, CHAT_TEMPLATE, PAD_TOKEN

__all__ = ["PIECE_PATTERN", "build_tokenizer", "vocabulary"]

UNK_TOKEN = "[UNK]"
MAX_POSITION_EMBEDDINGS = 512
# A word with its leading whitespace character, a single digit, a punctuation mark with its leading whitespace
# character, or a lone whitespace character (the space before a number).
PIECE_PATTERN = r"\s?[A-Za-z_']+|\d|\s?[^\sA-Za-z_'\d]|\s"
_PIECES = re.compile(PIECE_PATTERN)


def _turns(problem) -> list[str]:
    # As the chat template renders them: the first word of a turn follows a newline.
    turns = [
        f"user\n{problem.question}\n\n{STUDENT_INSTRUCTION}",
        f"assistant\n{problem.cot}",
        f"assistant\n{problem.comt}",
    ]
    # And on their own (a text that starts with its first word, as in the examples and the data files).
    return turns + [problem.question, problem.cot, problem.comt, STUDENT_INSTRUCTION]


def _vocabulary_texts() -> list[str]:
    texts = ["system\n", "0123456789"]
    for name in NAMES:
        for item in ITEMS:
            # Every operation at every step position, with this name and item: every template word and variable.
            for start in range(0, len(ORDINALS), 1):
                ops = tuple(OPS[(start + k) % len(OPS)] for k in range(len(ORDINALS)))
                problem = render_problem("v", "train", ops, (60, 4, 2, 3, 2, 5), name, item)
                texts += _turns(problem)
    for split in ("train", "ood_steps"):  # anything the fixed values above could miss
        for problem in generate_problems(split, 50, seed=0):
            texts += _turns(problem)
    return texts


def vocabulary() -> dict[str, int]:
    """Token -> id: the special tokens first, then every piece of the toy world's texts in sorted order."""
    pieces = sorted({piece for text in _vocabulary_texts() for piece in _PIECES.findall(text)})
    tokens = [PAD_TOKEN, CHAT_START, CHAT_END, UNK_TOKEN] + pieces
    return {token: index for index, token in enumerate(tokens)}


def build_tokenizer():
    """The toy world's tokenizer as a ``PreTrainedTokenizerFast`` (``save_pretrained`` it next to the model)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(vocab=vocabulary(), unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(PIECE_PATTERN), behavior="isolated")
    # Pieces carry their own whitespace, so decoding concatenates them.
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=UNK_TOKEN,
        eos_token=CHAT_END,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[CHAT_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITION_EMBEDDINGS,
    )
