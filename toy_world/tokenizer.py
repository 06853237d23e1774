"""The toy world's tokenizer: a byte-level BPE saved as Qwen2's own tokenizer class, so verl loads it unchanged.

Every digit is its own token (so a number's confidence is the confidence of its digits, as with Qwen's tokenizer),
and every word of the templates is one token with its leading space. It is Qwen2's construction exactly (Qwen's
pre-tokenization regex, byte-level pieces, NFC, the ``Qwen2Tokenizer`` class) with merges trained on the toy world's
own texts until every piece they contain is one token (about 500 tokens): ``AutoTokenizer`` beside a ``qwen2``
config.json, which is how verl loads tokenizers, builds a ``Qwen2Tokenizer`` from the saved vocabulary and merges
whatever the saved file says, so any other construction would be silently re-tokenised. A character outside the
toy texts still encodes, byte by byte. Special tokens and the chat template are those of
:mod:`verl_ccrl.integration.cpu.tiny_model`, so verl's SFT and RL datasets render conversations the same way.

Example::

    >>> tokenizer = build_tokenizer()
    >>> ids = tokenizer("Tom has 120 apples.")["input_ids"]
    >>> [tokenizer.decode([i]) for i in ids]
    ['Tom', ' has', ' ', '1', '2', '0', ' apples', '.']
    >>> tokenizer.decode(ids)
    'Tom has 120 apples.'
"""

from __future__ import annotations

import json

from data_prep.prompts import STUDENT_INSTRUCTION
from toy_world.problems import ITEMS, NAMES, OPS, ORDINALS, generate_problems, render_problem

# The CPU fixtures' special tokens and chat template: verl's multi-turn SFT dataset checks that each turn renders on
# its own exactly as inside the conversation, which this template does.
from verl_ccrl.integration.cpu.tiny_model import CHAT_END, CHAT_START, CHAT_TEMPLATE, PAD_TOKEN

__all__ = ["MAX_POSITION_EMBEDDINGS", "build_tokenizer"]

MAX_POSITION_EMBEDDINGS = 512


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


def build_tokenizer():
    """The toy world's tokenizer, a ``Qwen2Tokenizer`` (``save_pretrained`` it next to the model).

    Deterministic: the merges are trained on the same texts in the same order every time.
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX, Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    # Qwen2Tokenizer's own normaliser and pre-tokeniser, so the merges learnt here are the ones it applies.
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    # No size limit and a minimum frequency of 1: merging goes on until every piece of the texts is one token.
    trainer = trainers.BpeTrainer(
        vocab_size=1_000_000,
        min_frequency=1,
        special_tokens=[PAD_TOKEN, CHAT_START, CHAT_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_vocabulary_texts(), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    return Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=[tuple(merge) for merge in model["merges"]],
        unk_token=None,
        eos_token=CHAT_END,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[CHAT_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITION_EMBEDDINGS,
    )
