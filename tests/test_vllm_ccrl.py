"""The vllm_ccrl rollout without vLLM: what it asks vLLM for, what it gives verl back, and its start-up checks."""

import asyncio
import copy
import math
import random
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from verl_ccrl.entropy import entropies_from_position_logprobs
from verl_ccrl.integration.dry_run import compose
from verl_ccrl.integration.main_ppo import check_ccrl_config
from verl_ccrl.integration.vllm_rollout import (
    _TopKLogprobEngine,
    check_vllm_ccrl_config,
    entropies_from_flat_logprobs,
)


@dataclass
class FlatLogprobs:
    """vLLM's ``FlatLogprobs`` fields (vllm/logprobs.py), filled the way vLLM appends a position."""

    start_indices: list = field(default_factory=list)
    end_indices: list = field(default_factory=list)
    token_ids: list = field(default_factory=list)
    logprobs: list = field(default_factory=list)
    ranks: list = field(default_factory=list)
    decoded_tokens: list = field(default_factory=list)

    def append_position(self, sampled, sampled_rank, top):
        self.start_indices.append(len(self.logprobs))
        for rank, (token, value) in enumerate([sampled, *top]):
            self.token_ids.append(token)
            self.logprobs.append(value)
            self.ranks.append(sampled_rank if rank == 0 else rank)
            self.decoded_tokens.append(None)
        self.end_indices.append(len(self.logprobs))

    def as_dicts(self):
        """The same positions as vLLM's non-flat form: one dict per position, the sampled entry overwritten."""
        return [
            {self.token_ids[i]: SimpleNamespace(logprob=self.logprobs[i], rank=self.ranks[i]) for i in range(s, e)}
            for s, e in zip(self.start_indices, self.end_indices)
        ]


def random_positions(rng, positions, requested, vocab=50, outside_share=0.3):
    flat = FlatLogprobs()
    for _ in range(positions):
        weights = sorted((rng.random() ** 4 for _ in range(vocab)), reverse=True)
        total = sum(weights)
        logprobs = [math.log(w / total) for w in weights]
        top = list(enumerate(logprobs[:requested]))
        sampled_rank = rng.randint(requested + 1, vocab) if rng.random() < outside_share else rng.randint(1, requested)
        flat.append_position((sampled_rank - 1, logprobs[sampled_rank - 1]), sampled_rank, top)
    return flat


@pytest.mark.parametrize("requested, top_k, vocab_size", [(20, 20, None), (20, 20, 50), (20, 5, 50), (3, 3, 50)])
def test_flat_and_dict_logprobs_give_the_same_entropies(requested, top_k, vocab_size):
    flat = random_positions(random.Random(requested * 100 + top_k), positions=64, requested=requested)
    vectorised = entropies_from_flat_logprobs(
        flat.logprobs, flat.ranks, flat.start_indices, flat.end_indices, top_k, vocab_size
    )
    assert vectorised == pytest.approx(entropies_from_position_logprobs(flat.as_dicts(), top_k, vocab_size), abs=1e-12)


def test_a_flat_position_without_entries_gives_nan():
    flat = FlatLogprobs()
    flat.append_position((0, 0.0), 1, [(0, 0.0)])
    flat.start_indices.append(len(flat.logprobs))
    flat.end_indices.append(len(flat.logprobs))
    first, second = entropies_from_flat_logprobs(flat.logprobs, flat.ranks, flat.start_indices, flat.end_indices, 1)
    assert first == 0.0 and math.isnan(second)


class Params(SimpleNamespace):
    def clone(self):
        return copy.copy(self)


class FakeEngine:
    """Streams two outputs per request; the second is finished and carries flat log-probs."""

    def __init__(self, flat):
        self.flat = flat
        self.seen = None

    async def generate(self, prompt, sampling_params, request_id):
        self.seen = sampling_params
        completion = SimpleNamespace(logprobs=self.flat, token_ids=list(self.flat.token_ids))
        yield SimpleNamespace(finished=False, outputs=[SimpleNamespace(logprobs=None)])
        yield SimpleNamespace(finished=True, outputs=[completion])


def run(proxy, params, request_id="r"):
    async def consume():
        return [output async for output in proxy.generate(prompt="p", sampling_params=params, request_id=request_id)]

    return asyncio.run(consume())


def test_requests_ask_vllm_for_flat_logprobs_without_detokenising():
    engine = FakeEngine(random_positions(random.Random(0), 4, 20))
    original = Params(logprobs=0, stop=None, flat_logprobs=False, detokenize=True)
    run(_TopKLogprobEngine(engine, top_k=20), original)
    assert (engine.seen.logprobs, engine.seen.flat_logprobs, engine.seen.detokenize) == (20, True, False)
    assert (original.logprobs, original.flat_logprobs, original.detokenize) == (0, False, True)


def test_requests_with_stop_strings_keep_their_text():
    engine = FakeEngine(random_positions(random.Random(0), 4, 20))
    run(_TopKLogprobEngine(engine, top_k=20), Params(logprobs=0, stop=["####"], detokenize=True))
    assert engine.seen.detokenize is True and engine.seen.flat_logprobs is True


def test_a_finished_request_keeps_its_entropies_and_verl_gets_the_sampled_logprobs_it_asked_for():
    flat = random_positions(random.Random(1), 6, 20)
    expected = entropies_from_position_logprobs(flat.as_dicts(), 20, 50)
    sampled = [(flat.token_ids[i], flat.logprobs[i]) for i in flat.start_indices]
    proxy = _TopKLogprobEngine(FakeEngine(flat), top_k=20, vocab_size=50)
    outputs = run(proxy, Params(logprobs=0), request_id="r1")
    given = outputs[-1].outputs[0].logprobs
    assert [(given.token_ids[s], given.logprobs[s]) for s in given.start_indices] == sampled
    assert given.end_indices == [s + 1 for s in given.start_indices]  # one entry per position, as with logprobs=0
    assert proxy.forget("r1") == pytest.approx(expected, abs=1e-12)
    assert proxy.forget("r1") is None and proxy.final_outputs == {}


def test_a_request_verl_asked_no_logprobs_for_gets_none():
    proxy = _TopKLogprobEngine(FakeEngine(random_positions(random.Random(2), 3, 20)), top_k=20)
    outputs = run(proxy, Params(logprobs=None), request_id="r2")
    assert outputs[-1].outputs[0].logprobs is None and len(proxy.forget("r2")) == 3


# ---- start-up checks, on configs composed from verl_ccrl's YAML as a run would compose them


def composed(*overrides):
    return compose("ppo", list(overrides))


def test_the_default_run_uses_verls_stock_vllm_rollout_and_the_actors_entropies():
    config = composed()
    assert config.actor_rollout_ref.rollout.name == "vllm" and config.ccrl.entropy_source == "actor"
    check_ccrl_config(config)


def test_rollout_entropies_from_a_rollout_that_returns_none_are_refused():
    with pytest.raises(ValueError, match=r"ccrl.entropy_source=rollout.*'vllm'.*vllm_ccrl"):
        check_ccrl_config(composed("ccrl.entropy_source=rollout"))


def vllm_ccrl(*overrides):
    return composed("actor_rollout_ref.rollout.name=vllm_ccrl", "ccrl.entropy_source=rollout", *overrides)


def test_vllm_ccrl_with_verls_defaults_passes():
    check_vllm_ccrl_config(vllm_ccrl())
    check_ccrl_config(vllm_ccrl())


def test_a_top_k_above_vllms_max_logprobs_is_refused_naming_both():
    with pytest.raises(ValueError, match=r"ccrl.top_k=25.*max_logprobs=20.*engine_kwargs.vllm.max_logprobs=25"):
        check_vllm_ccrl_config(vllm_ccrl("ccrl.top_k=25"))


@pytest.mark.parametrize("cap", ["25", "-1"])
def test_a_raised_max_logprobs_admits_the_larger_top_k(cap):
    check_vllm_ccrl_config(
        vllm_ccrl("ccrl.top_k=25", f"+actor_rollout_ref.rollout.engine_kwargs.vllm.max_logprobs={cap}")
    )


@pytest.mark.parametrize(
    "override, words",
    [
        ("actor_rollout_ref.rollout.top_k=5", "top_k=5"),
        ("actor_rollout_ref.rollout.top_p=0.9", "top_p=0.9"),
        ("actor_rollout_ref.rollout.logprobs_mode=raw_logprobs", "logprobs_mode='raw_logprobs'"),
        ("actor_rollout_ref.rollout.logprobs_mode=processed_logits", "logprobs_mode='processed_logits'"),
    ],
)
def test_settings_where_the_entropy_is_not_the_policys_are_refused(override, words):
    with pytest.raises(ValueError, match=words):
        check_vllm_ccrl_config(vllm_ccrl(override))


@pytest.mark.parametrize(
    "override, key",
    [
        ("actor_rollout_ref.rollout.scheduling_policy=priority", "scheduling_policy"),
        ("actor_rollout_ref.rollout.checkpoint_engine.backend=delta_sharded", "checkpoint_engine.backend"),
        ("actor_rollout_ref.rollout.pipeline_model_parallel_size=2", "pipeline_model_parallel_size"),
    ],
)
def test_what_verl_handles_only_for_the_name_vllm_is_refused_for_vllm_ccrl(override, key):
    value = override.split("=")[1]
    with pytest.raises(
        ValueError,
        match=rf"actor_rollout_ref.rollout.{key} is not supported with rollout.name=vllm_ccrl \(got '?{value}'?\)",
    ):
        check_vllm_ccrl_config(vllm_ccrl(override))


def test_the_same_settings_pass_with_the_stock_rollout():
    check_vllm_ccrl_config(composed("actor_rollout_ref.rollout.top_k=5", "ccrl.top_k=25"))
