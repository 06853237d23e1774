"""Tiny local fixtures for CPU runs of verl: a random Qwen2 model with a trained tokenizer, and an RL parquet.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here on generated GSM8K-style sentences (digits
split one per token, as Qwen's tokenizer does), with a Qwen-style ``<|im_start|>``/``<|im_end|>`` chat template;
the model is a randomly initialised ``Qwen2ForCausalLM`` small enough to train on two CPU cores. Problems are
generated arithmetic word problems (no benchmark text). Used by tests and by :mod:`verl_ccrl.integration.cpu.run_smoke`.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

__all__ = ["ToyProblem", "build_tiny_model", "build_tiny_rl_parquet", "generate_toy_problems"]

DATA_SOURCE = "ccrl_toy"
PAD_TOKEN = "<|endoftext|>"
CHAT_START = "<|im_start|>"
CHAT_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD_TOKEN, CHAT_START, CHAT_END]
# Renders every message as <|im_start|>role\ncontent<|im_end|>\n. Each turn renders on its own exactly as inside the
# whole conversation, which verl's multi-turn SFT dataset checks turn by turn.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Prompt plus response of the smoke runs (~60 + 64 tokens) fit with room to spare.
MAX_POSITION_EMBEDDINGS = 512

_NAMES = ["Tom", "Ava", "Liam", "Mia", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sara"]
_ITEMS = ["apples", "pencils", "marbles", "stickers", "cookies", "books", "coins", "shells"]


@dataclass(frozen=True)
class ToyProblem:
    question: str
    reference: str  # GSM8K-style worked solution ending in "#### <answer>"
    answer: str


def _toy_problem(rng: random.Random) -> ToyProblem:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        total = a + b
        question = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        reference = f"{name} has {a} + {b} = {total} {item}.\n#### {total}"
        return ToyProblem(question, reference, str(total))
    if kind == 1:
        boxes, per_box = rng.randint(2, 12), rng.randint(2, 12)
        total = boxes * per_box
        question = f"{name} buys {boxes} boxes with {per_box} {item} in each box. How many {item} is that in total?"
        reference = f"{boxes} boxes hold {boxes} * {per_box} = {total} {item}.\n#### {total}"
        return ToyProblem(question, reference, str(total))
    if kind == 2:
        start, given = rng.randint(20, 90), rng.randint(1, 19)
        left = start - given
        question = f"{name} had {start} {item} and gave away {given}. How many {item} are left?"
        reference = f"{name} has {start} - {given} = {left} {item} left.\n#### {left}"
        return ToyProblem(question, reference, str(left))
    per_day, days, spent = rng.randint(2, 9), rng.randint(2, 7), rng.randint(1, 9)
    earned = per_day * days
    left = earned - spent
    question = (
        f"{name} earns {per_day} dollars a day for {days} days and then spends {spent} dollars. "
        "How many dollars does " + name + " have left?"
    )
    reference = (
        f"{name} earns {per_day} * {days} = {earned} dollars.\n"
        f"After spending, {name} has {earned} - {spent} = {left} dollars.\n#### {left}"
    )
    return ToyProblem(question, reference, str(left))


def generate_toy_problems(n: int, seed: int = 0) -> list[ToyProblem]:
    """``n`` generated arithmetic word problems with worked solutions (deterministic in ``seed``)."""
    rng = random.Random(seed)
    return [_toy_problem(rng) for _ in range(n)]


def _tokenizer_corpus(seed: int) -> list[str]:
    lines = []
    for problem in generate_toy_problems(600, seed=seed + 1_000_003):
        lines.extend([problem.question, problem.reference, f"The answer is {problem.answer}."])
    return lines


def build_tiny_tokenizer(seed: int = 0, vocab_size: int = 512):
    """A byte-level BPE (single-digit splitting, Qwen special tokens and chat template) as a fast HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_tokenizer_corpus(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=CHAT_END,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[CHAT_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITION_EMBEDDINGS,
    )


def build_tiny_model(output_dir: str, seed: int = 0) -> str:
    """Save a random tiny Qwen2 causal LM and its tokenizer to ``output_dir``; returns the path verl loads.

    2 layers, hidden size 64, 2 heads, tied embeddings: about 60k parameters, so two GRPO steps take seconds.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    os.makedirs(output_dir, exist_ok=True)
    tokenizer = build_tiny_tokenizer(seed=seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def build_tiny_rl_parquet(path: str, n: int = 64, seed: int = 0) -> str:
    """Write ``n`` generated problems as a verl RL parquet (the columns verl's ``RLHFDataset`` reads); returns path."""
    import pandas as pd

    rows = []
    for index, problem in enumerate(generate_toy_problems(n, seed=seed)):
        rows.append(
            {
                "data_source": DATA_SOURCE,
                "prompt": [{"role": "user", "content": problem.question}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": problem.answer},
                "extra_info": {"question": problem.question, "reference": problem.reference, "index": index},
            }
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m verl_ccrl.integration.cpu.tiny_model",
        description="Build the tiny random Qwen2 model and its tokenizer.",
    )
    parser.add_argument("output_dir", help="directory to save the model and tokenizer to (verl loads it by path)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and of the tokenizer corpus")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.output_dir, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
