"""hf_cpu's decode: what its loop's two shortcuts and a second intra-op thread buy, and whether any changes a bit.

    python benchmarks/hf_cpu_decode.py [--prompts 16] [--samples 16] [--repeats 3] [--busy-neighbour]

One GRPO step's generation of the toy-world quick preset, decoded as the ``hf_cpu`` server decodes it under
``rollout.full_determinism`` (:func:`verl_ccrl.integration.cpu.batch_decode.decode_batch`, one fixed shape of
prompts x samples rows by 96 prompt tokens, each row with its own seed, at most 160 new tokens), from the committed
toy base model. Each setting runs in a fresh process, since OpenMP reads ``OMP_WAIT_POLICY`` once, at start-up:
``textbook loop`` (1 thread, with transformers' ``DynamicCache``, which copies the cache with ``torch.cat`` every
token, and ``torch.multinomial`` row by row: the loop without ``decode_batch``'s preallocated cache and batched
draw); ``1 thread``; ``2 threads`` (OpenMP's default: idle threads spin a while before sleeping); ``2 threads, passive``
(``OMP_WAIT_POLICY=PASSIVE``: idle threads sleep at once). ``--busy-neighbour`` keeps one other process computing
throughout, as verl's trainer or agent loop would if they ran during the decode. Prints the median seconds of each,
the ratios to 1 thread, and whether every setting decoded the same tokens, entropies and log-probs, bit for bit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = (
    ("textbook loop", 1, None, True),
    ("1 thread", 1, None, False),
    ("2 threads", 2, None, False),
    ("2 threads, passive", 2, "PASSIVE", False),
)


def use_textbook_loop() -> None:
    """Swap ``decode_batch``'s preallocated cache and batched draw for transformers' cache and a per-row draw."""
    import torch
    from transformers import DynamicCache

    from verl_ccrl.integration.cpu import batch_decode

    def next_tokens_row_by_row(rows, active, logits, histories, generators):
        tokens = []
        for index in active:
            row = rows[index]
            if row.temperature == 0:
                tokens.append(int(torch.argmax(logits[index])))
                continue
            probs = torch.softmax(batch_decode._prepared(row, logits[index], histories[index]), dim=-1)
            tokens.append(int(torch.multinomial(probs, 1, generator=generators[index])))
        return tokens

    batch_decode._preallocated_cache = lambda model, capacity: DynamicCache(config=model.config)
    batch_decode._next_tokens = next_tokens_row_by_row


def decode_once(prompts: int, samples: int, repeats: int) -> dict:
    """In this process: time ``repeats`` decodes of one step's rows; a digest of what they produced."""
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from toy_world.problems import generate_problems
    from toy_world.train import prompt_text
    from verl_ccrl.integration.cpu.batch_decode import DecodeRow, decode_batch

    model_dir = ROOT / "toy_world" / "checkpoints" / "base"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = Qwen2ForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa").eval()
    rows = []
    for index, problem in enumerate(generate_problems("train", prompts, seed=0)):
        ids = tokenizer(prompt_text(problem.question), add_special_tokens=False)["input_ids"]
        stop = frozenset([tokenizer.eos_token_id])
        rows += [DecodeRow(ids, 160, temperature=1.0, stop_ids=stop, seed=index * samples + s) for s in range(samples)]
    seconds, digest = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        results = decode_batch(model, rows, pad_token_id=tokenizer.pad_token_id or 0, shape=(len(rows), 96))
        seconds.append(time.perf_counter() - start)
        digest = hashlib.sha256(
            json.dumps([[r.token_ids, r.entropies, r.log_probs] for r in results]).encode()
        ).hexdigest()
    return {"seconds": statistics.median(seconds), "digest": digest, "tokens": sum(len(r.token_ids) for r in results)}


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed decodes per setting; the median is printed")
    parser.add_argument("--busy-neighbour", action="store_true", help="one other process computes throughout")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--textbook", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.child)
        if args.textbook:
            use_textbook_loop()
        print(json.dumps(decode_once(args.prompts, args.samples, args.repeats)))
        return
    stop = multiprocessing.Event()
    neighbour = multiprocessing.Process(target=_burn, args=(stop,)) if args.busy_neighbour else None
    if neighbour:
        neighbour.start()
    measured = {}
    try:
        for label, threads, policy, textbook in SETTINGS:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            env.pop("OMP_WAIT_POLICY", None)
            if policy:
                env["OMP_WAIT_POLICY"] = policy
            command = [sys.executable, __file__, "--child", str(threads), "--prompts", str(args.prompts),
                       "--samples", str(args.samples), "--repeats", str(args.repeats)]  # fmt: skip
            command += ["--textbook"] if textbook else []
            output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            measured[label] = json.loads(output.strip().splitlines()[-1])
    finally:
        if neighbour:
            stop.set()
            neighbour.join()
    base = measured["1 thread"]["seconds"]
    rows = args.prompts * args.samples
    print(
        f"{rows} rows x up to 160 new tokens ({measured['1 thread']['tokens']} generated), toy base model, median "
        f"of {args.repeats}, {os.cpu_count()} CPUs{', one busy neighbour process' if neighbour else ''}"
    )
    for label, result in measured.items():
        print(f"{label:20s} {result['seconds']:7.2f} s   {base / result['seconds']:5.2f}x")
    same = len({result["digest"] for result in measured.values()}) == 1
    print(f"bit-identical tokens, entropies and log-probs in every setting: {same}")


if __name__ == "__main__":
    main()
