"""Batched decoding for the ``hf_cpu`` rollout: many requests, each with its own sampling params and seed.

One call of :func:`decode_batch` left-pads the prompts, runs one prefill and then one forward pass per new token for
the whole batch (KV cache), and samples every row from its own ``torch.Generator``. Decoded in a fixed ``shape``
(rows x prompt width), what a row gets depends on its prompt, its params and its seed only, not on which other
requests share its batch or in which order they arrived: its logits are then bit-identical whatever the batch
around it (``tests/test_batch_decode.py``; without a fixed shape they differ in the last bits), and its random
draws come from its own stream. That is what makes a verl run on ``hf_cpu`` reproducible while requests are
coalesced by arrival time.

Per row, as in verl's vLLM server: ``temperature`` (0: greedy), ``top_k`` (<= 0: off), ``top_p``,
``repetition_penalty`` (sampling only), ``max_new_tokens``, stop ids (the stop token is kept, as vLLM returns it;
``ignore_eos`` drops them). Entropies and log-probs are those of :func:`sampling_distribution_logits` (the
tempered distribution before top-k/top-p truncation), as ``generate_with_entropies`` reports them for the eval.

Example::

    >>> rows = [DecodeRow(prompt_ids=[5, 6, 7], max_new_tokens=4, temperature=0.0),
    ...         DecodeRow(prompt_ids=[5, 6], max_new_tokens=4, temperature=1.0, top_k=20, seed=3)]
    >>> results = decode_batch(model, rows, pad_token_id=0)  # doctest: +SKIP
    >>> results[1].token_ids, results[1].entropies             # doctest: +SKIP
    ([41, 9, 2], [0.71, 0.02, 0.0])

Deliberately not handled: beam search, stop strings, logit bias, ``n > 1`` (verl sends one request per sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from verl_ccrl.entropy import entropy_from_logits
from verl_ccrl.eval.generation import sampling_distribution_logits

__all__ = ["DecodeResult", "DecodeRow", "decode_batch"]

_SEED_MODULUS = 2**63 - 1


@dataclass(frozen=True)
class DecodeRow:
    """One request: its prompt and sampling params. ``seed=None`` draws the row's seed from torch's global RNG."""

    prompt_ids: Sequence[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_k: int = -1
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop_ids: frozenset[int] = field(default_factory=frozenset)
    seed: int | None = None


@dataclass(frozen=True)
class DecodeResult:
    """The new tokens of one row (the stop token included when it stopped on one) and per token its entropy and
    log-probability (nats) under the tempered, untruncated distribution."""

    token_ids: list[int]
    entropies: list[float]
    log_probs: list[float]
    finish_reason: str  # "stop" (a stop id) or "length" (max_new_tokens)


def _row_generator(row: DecodeRow) -> torch.Generator:
    seed = row.seed if row.seed is not None else int(torch.randint(0, _SEED_MODULUS, (1,)).item())
    return torch.Generator().manual_seed(seed)


def _penalised(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    # transformers' RepetitionPenaltyLogitsProcessor rule: shrink the logits of every token already in the sequence.
    chosen = logits.gather(-1, seen)
    logits = logits.clone()
    logits.scatter_(-1, seen, torch.where(chosen > 0, chosen / penalty, chosen * penalty))
    return logits


def _truncated(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """``logits`` with every token outside the top-k and outside the top-p nucleus set to -inf (one row)."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        # Keep each token whose preceding mass is below top_p: the most likely token always stays.
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= top_p
        logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), float("-inf"))
    return logits


def _prepared(row: DecodeRow, raw_logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """One sampling row's logits after the repetition penalty, the temperature and top-k/top-p truncation."""
    logits = raw_logits.float()
    if row.repetition_penalty != 1.0:
        logits = _penalised(logits, history, row.repetition_penalty)
    return _truncated(logits / row.temperature, row.top_k, row.top_p)


def _next_tokens(
    rows: Sequence[DecodeRow],
    active: Sequence[int],
    logits: torch.Tensor,
    histories: Sequence[torch.Tensor],
    generators: Sequence[torch.Generator],
) -> list[int]:
    """The next token of each row in ``active``: the argmax for greedy rows (temperature 0), else a draw from the
    row's prepared distribution with the row's own generator.

    The draw is the one ``torch.multinomial(probs, 1, generator=g)`` makes, computed for all rows at once: for one
    sample ATen takes ``argmax(probs / E)`` with ``E ~ Exp(1)`` drawn from ``g`` (``multinomial``'s fast path in
    ``aten/src/ATen/native/Distributions.cpp``). Drawing each row's ``E`` from its own generator and dividing and
    arg-maxing the whole batch gives the same tokens, bit for bit (``tests/test_batch_decode.py`` checks it against
    ``torch.multinomial``), with one small op per row and token instead of about eight. E.g. rows at temperature
    0 and 1 with logits ``[[0, 2, 1], [0, 2, 1]]``: ``[1, t]``, ``t`` drawn from the second row's generator.
    """
    tokens: dict[int, int] = {}
    greedy = [index for index in active if rows[index].temperature == 0]
    if greedy:
        tokens.update(zip(greedy, torch.argmax(logits[greedy], dim=-1).tolist()))
    sampled = [index for index in active if rows[index].temperature != 0]
    if sampled:
        vocab = logits.shape[-1]
        prepared = logits[sampled].float()
        plain: dict[float, list[int]] = {}
        for position, index in enumerate(sampled):
            row = rows[index]
            if row.repetition_penalty == 1.0 and not 0 < row.top_k < vocab and row.top_p >= 1.0:
                plain.setdefault(row.temperature, []).append(position)
            else:
                prepared[position] = _prepared(row, logits[index], histories[index])
        # Rows with only a temperature: one division per distinct value, as _prepared divides one row.
        for temperature, positions in plain.items():
            prepared[positions] = prepared[positions] / temperature
        probs = torch.softmax(prepared, dim=-1)
        noise = torch.empty_like(probs)
        for position, index in enumerate(sampled):
            noise[position].exponential_(1, generator=generators[index])
        tokens.update(zip(sampled, torch.argmax(probs / noise, dim=-1).tolist()))
    return [tokens[index] for index in active]


def _reported(logits: torch.Tensor, temperatures: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the entropy ``[B]`` and log-probabilities ``[B, V]`` of its tempered, untruncated distribution."""
    entropies = torch.empty(logits.shape[0])
    log_probs = torch.empty(logits.shape, dtype=torch.float32)
    # Rows usually share one temperature: one vectorised pass per distinct value.
    for temperature in set(temperatures):
        rows = torch.tensor([index for index, value in enumerate(temperatures) if value == temperature])
        reported = sampling_distribution_logits(logits[rows], temperature)
        entropies[rows] = entropy_from_logits(reported)
        log_probs[rows] = torch.log_softmax(reported, dim=-1)
    return entropies, log_probs


def _left_padded(
    rows: Sequence[DecodeRow], pad_token_id: int, shape: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    input_ids = torch.full(shape, pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros(shape, dtype=torch.long)
    for index, row in enumerate(rows):
        start = shape[1] - len(row.prompt_ids)
        input_ids[index, start:] = torch.tensor(list(row.prompt_ids), dtype=torch.long)
        attention_mask[index, start:] = 1
    return input_ids, attention_mask


def _preallocated_cache(model: Any, capacity: int) -> Any:
    """A transformers ``DynamicCache`` whose layers keep keys and values in buffers of ``capacity`` positions.

    ``DynamicLayer`` appends each step's keys with ``torch.cat``, copying the whole cache every token (a fifth of
    the toy world's decode time). Here a step writes its slot in place and attention reads a view of the filled
    positions: the same values in the same shape, so every logit stays bit-identical
    (``tests/test_batch_decode.py``). Not for beam search or cropping (``decode_batch`` uses neither).
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            super().lazy_initialization(key_states, value_states)
            self.key_buffer = key_states.new_empty((*key_states.shape[:2], capacity, key_states.shape[3]))
            self.value_buffer = value_states.new_empty((*value_states.shape[:2], capacity, value_states.shape[3]))
            self.filled = 0

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.filled + key_states.shape[-2]
            self.key_buffer[:, :, self.filled : end] = key_states
            self.value_buffer[:, :, self.filled : end] = value_states
            self.filled = end
            self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
            return self.keys, self.values

    cache = DynamicCache(config=model.config)
    cache.layers = [PreallocatedLayer() for _ in cache.layers]
    return cache


def decode_batch(
    model: Any, rows: Sequence[DecodeRow], *, pad_token_id: int, shape: tuple[int, int] | None = None
) -> list[DecodeResult]:
    """Decode every row of ``rows`` in one batch with ``model`` (a transformers causal LM); results in row order.

    A row stops at its first stop id or after its ``max_new_tokens``; the batch runs until every row has stopped.
    ``shape=(batch_rows, prompt_width)`` pads the batch to that many rows (idle ones) and every prompt to that
    width: the CPU kernels' summation order depends on the matrix shapes (a row's entropies move by ~1e-6 between
    a batch of 1 and one of 12), so only a fixed shape makes a row's result independent of its batch. Default: the
    rows as given, padded to the longest prompt. Rows with an empty prompt are rejected.
    """
    if not rows:
        return []
    for index, row in enumerate(rows):
        if not row.prompt_ids:
            raise ValueError(f"row {index}: empty prompt_ids; a request needs at least one prompt token")
        if row.max_new_tokens < 1:
            raise ValueError(f"row {index}: max_new_tokens={row.max_new_tokens}; it must be at least 1")
    requested = len(rows)
    longest = max(len(row.prompt_ids) for row in rows)
    shape = shape or (requested, longest)
    if shape[0] < requested or shape[1] < longest:
        raise ValueError(
            f"shape={shape} does not hold {requested} rows with prompts of up to {longest} tokens; split the batch "
            "or widen the shape"
        )
    generators = [_row_generator(row) for row in rows]
    # Idle rows: one pad token, already finished; they only keep the matrix shapes fixed.
    rows = list(rows) + [DecodeRow(prompt_ids=[pad_token_id], max_new_tokens=1)] * (shape[0] - len(rows))
    input_ids, attention_mask = _left_padded(rows, pad_token_id, shape)
    # Positions count real tokens only, so a row's positions do not depend on how much padding its batch needs.
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    histories = [torch.tensor(list(row.prompt_ids), dtype=torch.long) for row in rows]
    tokens: list[list[int]] = [[] for _ in rows]
    entropies: list[list[float]] = [[] for _ in rows]
    log_probs: list[list[float]] = [[] for _ in rows]
    finish: list[str | None] = [None] * requested + ["idle"] * (len(rows) - requested)
    cache = _preallocated_cache(model, shape[1] + max(row.max_new_tokens for row in rows))
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, past_key_values=cache
        ).logits[:, -1, :]
        next_position = position_ids[:, -1:] + 1
        for _ in range(max(row.max_new_tokens for row in rows)):
            step_tokens = torch.full((len(rows), 1), pad_token_id, dtype=torch.long)
            active = [index for index, reason in enumerate(finish) if reason is None]
            step_entropies, step_log_probs = _reported(logits, [rows[index].temperature for index in range(len(rows))])
            chosen = _next_tokens(rows, active, logits, histories, generators)
            chosen_entropies = step_entropies[active].tolist()
            chosen_log_probs = step_log_probs[active, chosen].tolist()
            step_tokens[active, 0] = torch.tensor(chosen, dtype=torch.long)
            for index, token, entropy, log_prob in zip(active, chosen, chosen_entropies, chosen_log_probs):
                row = rows[index]
                entropies[index].append(entropy)
                log_probs[index].append(log_prob)
                tokens[index].append(token)
                if row.repetition_penalty != 1.0:
                    histories[index] = torch.cat([histories[index], torch.tensor([token])])
                if token in row.stop_ids:
                    finish[index] = "stop"
                elif len(tokens[index]) >= row.max_new_tokens:
                    finish[index] = "length"
            if all(reason is not None for reason in finish):
                break
            attention_mask = torch.cat([attention_mask, torch.ones((len(rows), 1), dtype=torch.long)], dim=-1)
            logits = model(
                input_ids=step_tokens,
                attention_mask=attention_mask,
                position_ids=next_position,
                past_key_values=cache,
            ).logits[:, -1, :]
            next_position = next_position + 1
    return [
        DecodeResult(
            token_ids=tokens[i], entropies=entropies[i], log_probs=log_probs[i], finish_reason=finish[i] or "length"
        )
        for i in range(requested)
    ]
