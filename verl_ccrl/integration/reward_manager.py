"""verl reward manager ``ccrl``: the CCRL reward inside verl's reward loop.

Registered in verl's reward-loop registry by :mod:`verl_ccrl.integration.plugin`, which verl imports in every
process through the ``verl.plugins`` entry point, so ``reward.reward_manager.name=ccrl`` is all a run needs. It
also loads with ``reward.reward_manager.source=importlib
reward.reward_manager.module.path=pkg://verl_ccrl.integration.reward_manager
reward.reward_manager.name=CCRLRewardManager``.

Per response it reads, from the sample's ``extra_info`` (the RL parquet's, updated by verl with the rollout's
``extra_fields``):
- ``question``: the problem text (else the last user message of ``raw_prompt``),
- ``reference`` (a reference solution) and/or ``reference_values`` (intermediate values), both optional,
- ``ccrl_entropies``: per-token entropies written by the ``vllm_ccrl`` / ``hf_cpu`` rollout.
Without a problem text or entropies it degrades to the outcome reward, warns once per cause, and counts it in
``ccrl_missing_problem`` / ``ccrl_missing_entropies``. The CCRL maths is ``verl_ccrl.reward.score_response``; the
``reward_extra_info`` it returns is a ``verl_ccrl.reward_info.RewardInfo`` record, encoded with ``encode``.

Debugging aid: with ``VERL_CCRL_RECORD_DIR`` set (forward it to Ray workers), every scored response is appended
as one JSON line (response ids, entropies, problem, ground truth, references, reward) to a file per process there,
so a reward can be replayed with ``score_response`` outside the cluster.
"""

from __future__ import annotations

import json
import logging
import os
from fractions import Fraction

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_ccrl.alignment import TokenAligner
from verl_ccrl.config import CCRLConfig
from verl_ccrl.entropy import ENTROPY_FIELD
from verl_ccrl.reward import score_response
from verl_ccrl.reward_info import REWARD_EXTRA_KEYS, RewardInfo, encode

__all__ = ["CCRLRewardManager", "ENTROPY_FIELD", "REWARD_EXTRA_KEYS"]

logger = logging.getLogger(__name__)

RECORD_DIR_ENV_VAR = "VERL_CCRL_RECORD_DIR"


class CCRLRewardManager(RewardManagerBase):
    """Outcome + confidence-calibrated number reward, one response at a time, like verl's naive manager."""

    _warned: set[str] = set()

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        self.ccrl_config = CCRLConfig.from_mapping(config.get("ccrl") if hasattr(config, "get") else None)
        self.aligner = TokenAligner(tokenizer)

    async def run_single(self, data: DataProto) -> dict:
        data_item = data[-1:][0]  # multi-sequence outputs: the reward looks at the last one, as verl's naive does
        response_ids = data_item.batch["responses"]
        valid_length = int(data_item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        valid_ids = response_ids[:valid_length].tolist()
        extra_info = dict(data_item.non_tensor_batch.get("extra_info", None) or {})
        extra_info.update(dict(data_item.non_tensor_batch.get("tool_extra_fields", None) or {}))
        ground_truth = data_item.non_tensor_batch["reward_model"]["ground_truth"]
        raw_prompt = data_item.non_tensor_batch.get("raw_prompt", None)
        return await self.loop.run_in_executor(
            None, lambda: self.score(valid_ids, ground_truth, extra_info, raw_prompt)
        )

    def score(self, response_ids: list[int], ground_truth, extra_info: dict, raw_prompt=None) -> dict:
        """The reward of one response; synchronous, so tests and tools can call it without an event loop."""
        response = self.tokenizer.decode(response_ids, skip_special_tokens=True)
        problem = extra_info.get("question") or _last_user_message(raw_prompt)
        entropies = extra_info.get(ENTROPY_FIELD)
        missing_problem = not problem
        missing_entropies = entropies is None or missing_problem
        if missing_problem:
            self._warn_once("problem", "no 'question' in extra_info and no user message in raw_prompt")
        elif entropies is None and self.ccrl_config.entropy_source == "rollout":
            self._warn_once(
                "entropies",
                f"no '{ENTROPY_FIELD}' in the rollout's extra_fields; use actor_rollout_ref.rollout.name=vllm_ccrl "
                "(or hf_cpu on CPU)",
            )

        # Token positions even without rollout entropies: the trainer can rescore the numbers from the actor's.
        spans = None if missing_problem else self.aligner.char_spans(response_ids, response)
        result = score_response(
            problem or "",
            response,
            ground_truth,
            reference=extra_info.get("reference") or None,
            reference_values_extra=_as_values(extra_info.get("reference_values")),
            token_spans=spans,
            entropies=None if missing_entropies else list(entropies),
            config=self.ccrl_config,
        )
        if not missing_entropies and result.entropy_status != "ok":
            self._warn_once("entropy_status", f"entropies not usable: {result.entropy_status}")
            missing_entropies = True
        record = RewardInfo.from_score(result, missing_entropies=missing_entropies, missing_problem=missing_problem)
        info = encode(record)
        if os.environ.get(RECORD_DIR_ENV_VAR):
            _record(
                os.environ[RECORD_DIR_ENV_VAR],
                {
                    "response_ids": list(response_ids),
                    "entropies": None if entropies is None else [float(value) for value in entropies],
                    "problem": problem,
                    "ground_truth": str(ground_truth),
                    "reference": extra_info.get("reference"),
                    "reference_values": [str(value) for value in _as_values(extra_info.get("reference_values"))],
                    "reward": result.total,
                    "reward_extra_info": info,
                },
            )
        return {"reward_score": result.total, "reward_extra_info": info}

    def _warn_once(self, cause: str, message: str) -> None:
        if cause not in CCRLRewardManager._warned:
            CCRLRewardManager._warned.add(cause)
            logger.warning("CCRL reward degrades to the outcome reward: %s (counted in ccrl_missing_*).", message)


def _record(record_dir: str, record: dict) -> None:
    os.makedirs(record_dir, exist_ok=True)
    with open(os.path.join(record_dir, f"ccrl-rewards-{os.getpid()}.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _last_user_message(raw_prompt) -> str | None:
    if raw_prompt is None:
        return None
    messages = list(raw_prompt)
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return None


def _as_values(values) -> list[Fraction]:
    if values is None:
        return []
    parsed = []
    for value in list(values):
        try:
            parsed.append(Fraction(str(value)))
        except (ValueError, ZeroDivisionError):
            continue  # a malformed value in the parquet must not stop training; data_prep validates them
    return parsed
