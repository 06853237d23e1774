"""What the CPU log-probability wrapper buys: verl 0.9.1's row loop against the chunked wrapper, side by side.

    python benchmarks/cpu_logprobs.py [--tokens 51200] [--vocab 516] [--repeats 3]

Both compute the log-probability of each label token, forward and backward, on logits shaped as verl's FSDP engine
hands them over, ``(tokens, vocab)`` (the defaults: a toy-world step of 256 responses of about 200 tokens with the
toy vocabulary). Prints the median seconds of each and the ratio. ``verl_ccrl/integration/cpu/verl_patches.py``
says why the wrapper exists; ``tests/test_verl_patches.py`` checks it gives verl's values and gradients.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from verl.utils import torch_functional

from verl_ccrl.integration.cpu.verl_patches import _chunked_logprobs_from_logits, verl_original


def timed(function, logits: torch.Tensor, labels: torch.Tensor, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        leaf = logits.clone().requires_grad_(True)
        start = time.perf_counter()
        function(leaf, labels).sum().backward()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=51_200, help="rows of the logits (response tokens of a step)")
    parser.add_argument("--vocab", type=int, default=516, help="vocabulary size (516: the toy tokenizer)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the median is printed")
    args = parser.parse_args()
    torch.manual_seed(0)
    logits = torch.randn(args.tokens, args.vocab)
    labels = torch.randint(0, args.vocab, (args.tokens,))
    row_loop = verl_original(torch_functional.logprobs_from_logits_v2)
    loop_s = timed(row_loop, logits, labels, args.repeats)
    chunked_s = timed(_chunked_logprobs_from_logits(row_loop), logits, labels, args.repeats)
    print(
        f"logits {args.tokens} x {args.vocab}, float32, forward + backward, median of {args.repeats}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"verl's row loop   {loop_s:8.3f} s")
    print(f"chunked wrapper   {chunked_s:8.3f} s")
    print(f"ratio             {loop_s / chunked_s:8.1f}x")


if __name__ == "__main__":
    main()
