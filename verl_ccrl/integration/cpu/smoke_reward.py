"""Reward for CPU smoke runs: varies across samples of a random model, and records what the reward loop saw.

A randomly initialised model never answers correctly, so an outcome reward is 0 everywhere and GRPO advantages are
all zero; the smoke reward is instead the share of digit characters in the response, which differs between samples
and so yields non-zero advantages and gradients. Meaningless as a training signal: for smoke tests only.

:class:`SmokeRecordingRewardManager` is verl's naive reward manager plus a record, per sample, of the response
length the trainer holds and the rollout's ``ccrl_entropies`` that reached the reward, written as JSON lines under
``$CCRL_SMOKE_RECORD_DIR`` (one file per process; reward workers are separate Ray actors). Select it with
``reward.reward_manager.source=importlib reward.reward_manager.module.path=pkg://verl_ccrl.integration.cpu.smoke_reward
reward.reward_manager.name=SmokeRecordingRewardManager``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

from verl_ccrl.entropy import ENTROPY_FIELD

RECORD_DIR_ENV_VAR = "CCRL_SMOKE_RECORD_DIR"


def digit_share_score(data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None, **_: Any):
    """Share of digit characters in the response, in [0, 1]."""
    if not solution_str:
        return 0.0
    return sum(character.isdigit() for character in solution_str) / len(solution_str)


def _as_float_list(values: Any) -> list[float] | None:
    if values is None:
        return None
    return [float(value) for value in values]


class SmokeRecordingRewardManager(NaiveRewardManager):
    """verl's naive reward manager with :func:`digit_share_score`, recording per-sample facts for tests."""

    def __init__(self, config, tokenizer, compute_score=None, **kwargs):
        # verl passes its default scorer here (trainer/ppo/reward.py:149), which knows no "ccrl_toy" data source.
        super().__init__(config, tokenizer, digit_share_score, **kwargs)

    async def run_single(self, data: DataProto) -> dict:
        self._record(data[-1:][0])
        return await super().run_single(data)

    def _record(self, data_item) -> None:
        record_dir = os.environ.get(RECORD_DIR_ENV_VAR)
        if not record_dir:
            return
        response_ids = data_item.batch["responses"]
        # The same valid length the naive manager decodes (naive.py:39): the response tokens the trainer holds.
        response_length = int(data_item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        rollout_fields = data_item.non_tensor_batch.get("tool_extra_fields") or {}
        entropies = _as_float_list(rollout_fields.get(ENTROPY_FIELD))
        record = {
            "response_length": response_length,
            "entropies": entropies,
            "all_finite": entropies is not None and all(math.isfinite(value) for value in entropies),
            "rollout_fields": sorted(rollout_fields),
            "question": (data_item.non_tensor_batch.get("extra_info") or {}).get("question"),
        }
        os.makedirs(record_dir, exist_ok=True)
        with open(os.path.join(record_dir, f"reward-{os.getpid()}.jsonl"), "a", encoding="utf-8") as record_file:
            record_file.write(json.dumps(record) + "\n")
