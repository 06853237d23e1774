"""``ccrl_single_turn`` (verl_ccrl.integration.agent_loop): under full determinism every sample of a step gets its own
reproducible seed in front of verl's real ``SingleTurnAgentLoop``; otherwise nothing changes."""

from __future__ import annotations

import asyncio

import pytest
from omegaconf import OmegaConf
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
from verl.workers.config import RolloutConfig

from verl_ccrl.integration.agent_loop import (
    AGENT_LOOPS_YAML,
    SEEDED_AGENT_LOOP,
    SeededSingleTurnAgentLoop,
    use_seeded_agent_loop,
)


@pytest.fixture()
def sent(monkeypatch):
    """The sampling params verl's own loop receives (its ``run`` is replaced for the test, restored after)."""
    received: list[dict] = []

    async def record(self, sampling_params, **kwargs):
        received.append(dict(sampling_params))

    monkeypatch.setattr(SingleTurnAgentLoop, "run", record)
    return received


def _loop(full_determinism: bool) -> SeededSingleTurnAgentLoop:
    loop = SeededSingleTurnAgentLoop.__new__(SeededSingleTurnAgentLoop)  # verl's constructor needs a live server
    loop.rollout_config = RolloutConfig(name="hf_cpu", full_determinism=full_determinism, seed=7)
    return loop


def _run_group(loop, step=3, index=11, n=4):
    prompt = [{"role": "user", "content": "Tom has 3 boxes of 4 apples. How many apples?"}]
    for session in range(n):
        asyncio.run(
            loop.run({"temperature": 1.0}, global_steps=step, index=index, raw_prompt=prompt, session_id=session)
        )


def test_each_sample_of_a_group_gets_its_own_seed_and_a_rerun_the_same(sent):
    _run_group(_loop(True))
    first = [params["seed"] for params in sent]
    _run_group(_loop(True))
    assert len(set(first)) == 4
    assert [params["seed"] for params in sent[4:]] == first


def test_the_next_step_and_another_row_get_other_seeds(sent):
    _run_group(_loop(True), step=3, index=11)
    _run_group(_loop(True), step=4, index=11)
    _run_group(_loop(True), step=3, index=12)
    assert len({params["seed"] for params in sent}) == 12


def test_without_full_determinism_the_params_pass_unchanged(sent):
    _run_group(_loop(False))
    assert sent == [{"temperature": 1.0}] * 4


def test_a_seed_already_in_the_params_is_kept(sent):
    asyncio.run(_loop(True).run({"temperature": 1.0, "seed": 5}, global_steps=1, index=0, raw_prompt=[], session_id=0))
    assert sent == [{"temperature": 1.0, "seed": 5}]


def _config(**agent):
    return OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"full_determinism": True, "agent": {
            "agent_loop_config_path": None, "default_agent_loop": "single_turn_agent", **agent}}}}
    )  # fmt: skip


def test_a_deterministic_run_is_pointed_at_the_seeded_loop_that_verl_can_load():
    config = _config()
    assert use_seeded_agent_loop(config)
    agent = config.actor_rollout_ref.rollout.agent
    assert agent.default_agent_loop == SEEDED_AGENT_LOOP
    [entry] = OmegaConf.load(agent.agent_loop_config_path)
    assert entry.name == SEEDED_AGENT_LOOP
    assert entry._target_ == f"{SeededSingleTurnAgentLoop.__module__}.{SeededSingleTurnAgentLoop.__qualname__}"
    assert agent.agent_loop_config_path == AGENT_LOOPS_YAML


@pytest.mark.parametrize("agent", [{"default_agent_loop": "tool_agent"}, {"agent_loop_config_path": "/my/loops.yaml"}])
def test_a_run_with_its_own_agent_loop_is_left_alone(agent):
    config = _config(**agent)
    assert not use_seeded_agent_loop(config)
    assert config == _config(**agent)


def test_a_run_without_full_determinism_is_left_alone():
    config = _config()
    config.actor_rollout_ref.rollout.full_determinism = False
    assert not use_seeded_agent_loop(config)
