"""The ``hf_cpu`` rollout's batched decoding: the same answers as one-at-a-time ``generate``, rows independent of
their batch, per-row sampling params and seeds, and a server that batches concurrent requests without losing one.

The model is the committed toy base (``toy_world/checkpoints/base``), which writes real multi-token solutions, on
toy-world questions rendered with its chat template.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import torch

from verl_ccrl.entropy import entropy_from_logits
from verl_ccrl.eval.generation import generate_with_entropies
from verl_ccrl.integration.cpu.batch_decode import (
    DecodeRow,
    _left_padded,
    _next_tokens,
    _preallocated_cache,
    _prepared,
    decode_batch,
)

BASE_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "toy_world/checkpoints/base")
MAX_NEW_TOKENS = 160


@pytest.fixture(scope="module")
def model_and_prompts():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toy_world.problems import generate_problems

    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL)
    model = AutoModelForCausalLM.from_pretrained(BASE_MODEL, dtype=torch.float32, attn_implementation="sdpa").eval()
    prompts = [
        list(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": problem.question}],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=False,
            )
        )
        for problem in generate_problems("test", 6, seed=0)
    ]
    assert len({len(prompt) for prompt in prompts}) > 1, "the prompts must need padding"
    return model, tokenizer, prompts


def _row(prompt, tokenizer, **params) -> DecodeRow:
    return DecodeRow(
        prompt_ids=prompt, max_new_tokens=MAX_NEW_TOKENS, stop_ids=frozenset([tokenizer.eos_token_id]), **params
    )


def test_greedy_batch_equals_one_at_a_time_generate(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    batch = decode_batch(model, [_row(p, tokenizer, temperature=0.0) for p in prompts], pad_token_id=0)
    for prompt, result in zip(prompts, batch, strict=True):
        input_ids = torch.tensor([prompt])
        [tokens], entropies, log_probs = generate_with_entropies(
            model,
            input_ids,
            torch.ones_like(input_ids),
            do_sample=False,
            max_new_tokens=MAX_NEW_TOKENS,
            eos_token_id=[tokenizer.eos_token_id],
            pad_token_id=0,
        )
        assert result.token_ids == tokens
        assert result.token_ids[-1] == tokenizer.eos_token_id and result.finish_reason == "stop"
        # Cached vs uncached float32 attention: both lie within ~1.3e-5 of a float64 forward pass on this model.
        torch.testing.assert_close(torch.tensor(result.entropies), entropies[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(torch.tensor(result.log_probs), log_probs[0], atol=1e-5, rtol=1e-5)


def test_in_a_fixed_shape_a_row_is_bit_identical_whatever_else_is_in_its_batch(model_and_prompts):
    from verl_ccrl.integration.cpu.hf_rollout import DECODE_THREADS

    model, tokenizer, prompts = model_and_prompts
    rows = [_row(p, tokenizer, temperature=1.0, seed=100 + i) for i, p in enumerate(prompts)]
    shape = (12, 96)
    # On the server's decode threads (one): with two, on a machine loaded by other processes, the last bits of the
    # entropies changed with the batch's contents (seen in CI beside two toy-world runs; one thread holds there).
    threads = torch.get_num_threads()
    torch.set_num_threads(DECODE_THREADS)
    try:
        alone = decode_batch(model, [rows[2]], pad_token_id=0, shape=shape)[0]
        shuffled = decode_batch(model, [rows[4], rows[2], rows[0], rows[5]], pad_token_id=0, shape=shape)[1]
        everything = decode_batch(model, rows + rows, pad_token_id=0, shape=shape)[8]
    finally:
        torch.set_num_threads(threads)
    assert alone == shuffled == everything
    assert alone.token_ids[-1] == tokenizer.eos_token_id


def test_the_preallocated_cache_gives_the_logits_of_transformers_own_cache_bit_for_bit(model_and_prompts):
    from transformers import DynamicCache

    model, tokenizer, prompts = model_and_prompts
    rows = [_row(p, tokenizer, temperature=0.0) for p in prompts]
    width = max(len(p) for p in prompts)
    input_ids, attention_mask = _left_padded(rows, 0, (len(rows), width))
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    runs = []
    for cache in (DynamicCache(config=model.config), _preallocated_cache(model, capacity=width + 8)):
        ids, mask, positions, logits = input_ids, attention_mask, position_ids, []
        with torch.inference_mode():
            for _ in range(8):
                step = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache).logits
                logits.append(step[:, -1, :])
                ids = torch.argmax(step[:, -1:, :], dim=-1)
                mask = torch.cat([mask, torch.ones_like(ids)], dim=-1)
                positions = positions[:, -1:] + 1
        runs.append(torch.stack(logits))
    assert torch.equal(runs[0], runs[1])


def test_a_shape_too_small_for_the_batch_is_refused(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    rows = [_row(p, tokenizer, temperature=0.0) for p in prompts]
    with pytest.raises(ValueError, match="does not hold 6 rows"):
        decode_batch(model, rows, pad_token_id=0, shape=(4, 96))
    with pytest.raises(ValueError, match="widen the shape"):
        decode_batch(model, rows, pad_token_id=0, shape=(6, 8))


def test_a_batch_mixing_sampling_params_serves_each_row_its_own(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    prompt = prompts[0]
    rows = [
        _row(prompt, tokenizer, temperature=0.0),
        # top_k=1 leaves one token: sampling at any temperature is greedy, and reports that temperature's entropy.
        _row(prompt, tokenizer, temperature=0.5, top_k=1, seed=1),
        _row(prompt, tokenizer, temperature=1.3, top_p=0.9, seed=2),
        DecodeRow(prompt_ids=prompt, max_new_tokens=2, temperature=1.0, seed=3),
    ]
    greedy, top1, nucleus, short = decode_batch(model, rows, pad_token_id=0)
    assert top1.token_ids == greedy.token_ids
    assert len(short.token_ids) == 2 and short.finish_reason == "length"
    for result, temperature in ((greedy, 1.0), (top1, 0.5), (nucleus, 1.3), (short, 1.0)):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt + result.token_ids])).logits[0].float()
        predicted = logits[len(prompt) - 1 : -1] / temperature
        torch.testing.assert_close(torch.tensor(result.entropies), entropy_from_logits(predicted), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "params",
    [
        dict(temperature=1.0),
        dict(temperature=0.7),
        dict(temperature=1.3, top_k=5),
        dict(temperature=1.0, top_p=0.8),
        dict(temperature=0.9, repetition_penalty=1.2),
        dict(temperature=0.0),
    ],
    ids=["plain", "tempered", "top-k", "top-p", "repetition penalty", "greedy"],
)
def test_the_batched_draw_is_the_one_torch_multinomial_makes_row_by_row(params):
    vocab, batch, steps = 397, 12, 20
    rows = [DecodeRow(prompt_ids=[1, 2, 3], max_new_tokens=1, seed=seed, **params) for seed in range(batch)]
    # Every third row greedy: a batch mixing greedy and sampled rows keeps each row's own stream.
    rows = [DecodeRow([1], max_new_tokens=1, temperature=0.0) if i % 3 == 2 else row for i, row in enumerate(rows)]
    histories = [torch.tensor([1, 5, 9])] * batch
    batched = [torch.Generator().manual_seed(seed) for seed in range(batch)]
    reference = [torch.Generator().manual_seed(seed) for seed in range(batch)]
    logits = torch.randn(steps, batch, vocab, generator=torch.Generator().manual_seed(0)) * 4
    for step in range(steps):
        active = [i for i in range(batch) if (i + step) % 5]  # some rows already finished
        expected = []
        for i in active:
            row = rows[i]
            if row.temperature == 0:
                expected.append(int(torch.argmax(logits[step, i])))
                continue
            probs = torch.softmax(_prepared(row, logits[step, i], histories[i]), dim=-1)
            expected.append(int(torch.multinomial(probs, 1, generator=reference[i])))
        assert _next_tokens(rows, active, logits[step], histories, batched) == expected


def test_same_seed_gives_the_same_sample_and_another_seed_another(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    draws = [
        decode_batch(model, [_row(prompts[1], tokenizer, temperature=1.5, seed=seed)], pad_token_id=0)[0].token_ids
        for seed in (7, 7, 8, 9, 10)
    ]
    assert draws[0] == draws[1]
    assert len({tuple(draw) for draw in draws[1:]}) > 1


def test_rows_must_have_a_prompt_and_room_for_a_token(model_and_prompts):
    model, _, _ = model_and_prompts
    with pytest.raises(ValueError, match="row 1: empty prompt_ids"):
        decode_batch(model, [DecodeRow(prompt_ids=[5], max_new_tokens=1), DecodeRow([], 1)], pad_token_id=0)
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        decode_batch(model, [DecodeRow(prompt_ids=[5], max_new_tokens=0)], pad_token_id=0)


# ---- the server: coalescing concurrent requests


@pytest.fixture()
def server():
    from verl.workers.config import HFModelConfig, RolloutConfig

    from verl_ccrl.integration.cpu.hf_rollout import HFCPURolloutServer

    config = RolloutConfig(
        name="hf_cpu",
        prompt_length=96,
        response_length=MAX_NEW_TOKENS,
        tensor_model_parallel_size=1,
        seed=5,
        full_determinism=True,
        max_num_seqs=8,
    )
    return HFCPURolloutServer(config, HFModelConfig(path=BASE_MODEL), replica_rank=0)


SAMPLED = {"temperature": 1.0, "top_p": 1.0, "top_k": -1}


async def _generate_all(server, prompts, seeds):
    return await asyncio.gather(
        *[
            server.generate(prompt, {**SAMPLED, "seed": seed}, request_id=str(seed))
            for prompt, seed in zip(prompts, seeds, strict=True)
        ]
    )


def test_concurrent_requests_are_decoded_in_one_batch_and_equal_one_at_a_time(server, model_and_prompts):
    _, _, prompts = model_and_prompts
    ids = [1000 + index for index in range(len(prompts))]
    together = asyncio.run(_generate_all(server, prompts, ids))
    assert server.batches_served == 1
    one_by_one = [asyncio.run(_generate_all(server, [p], [rid]))[0] for p, rid in zip(prompts, ids, strict=True)]
    assert server.batches_served == 1 + len(prompts)
    for a, b in zip(together, one_by_one, strict=True):
        assert (a.token_ids, a.extra_fields["ccrl_entropies"]) == (b.token_ids, b.extra_fields["ccrl_entropies"])


def test_requests_arriving_one_after_another_join_one_batch(server, model_and_prompts):
    from verl_ccrl.integration.cpu.hf_rollout import COALESCE_SECONDS

    _, _, prompts = model_and_prompts

    async def scenario():
        tasks = []
        for index, prompt in enumerate(prompts[:6]):  # as verl's agent loop sends them: spaced, never all at once
            tasks.append(asyncio.create_task(server.generate(prompt, dict(SAMPLED), request_id=str(index))))
            await asyncio.sleep(COALESCE_SECONDS / 3)
        return await asyncio.gather(*tasks)

    outputs = asyncio.run(scenario())
    assert server.batches_served == 1
    assert all(output.token_ids for output in outputs)


def test_a_request_arriving_while_a_batch_runs_is_served_by_the_next(server, model_and_prompts):
    _, _, prompts = model_and_prompts

    async def scenario():
        first = [asyncio.create_task(server.generate(p, dict(SAMPLED), request_id="x")) for p in prompts[:4]]
        while not server._model_lock.locked():  # the first batch is decoding
            await asyncio.sleep(0.001)
        late = await server.generate(prompts[5], dict(SAMPLED), request_id="late")
        return await asyncio.gather(*first), late

    first, late = asyncio.run(scenario())
    assert server.batches_served == 2
    assert all(output.token_ids for output in first) and late.token_ids


def test_draining_waits_for_queued_requests_too(server, model_and_prompts):
    _, _, prompts = model_and_prompts

    async def scenario():
        tasks = [asyncio.create_task(server.generate(p, dict(SAMPLED), request_id="d")) for p in prompts[:3]]
        await asyncio.sleep(0)  # queued, not yet decoding
        await server.wait_for_requests_to_drain()
        drained = (list(server._pending), server.batches_served)
        await asyncio.gather(*tasks)
        return drained

    assert asyncio.run(scenario()) == ([], 1)
