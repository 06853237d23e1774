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
- ``answer_type`` (optional; ``"text"`` marks a published text answer, see ``verl_ccrl.answer``),
- ``ccrl_entropies``: per-token entropies written by the ``vllm_ccrl`` / ``hf_cpu`` rollout.
The CCRL maths is ``verl_ccrl.reward.score_response``; the ``reward_extra_info`` it returns is a
``verl_ccrl.reward_info.RewardInfo`` record, encoded with ``encode``.

Degradation, never a crash and never a silent drop: every cause warns once (naming the field and the fix) and is
counted in the record, hence in the trainer's step metrics.
- No problem text, or no entropies: the outcome reward; ``ccrl_missing_problem`` / ``ccrl_missing_entropies``.
- A field present but malformed (``verl_ccrl.reward_inputs``: a NaN or int ``question`` / ``reference``, an
  ``extra_info`` that is no dict, ids outside the vocabulary, a ground truth that is None/NaN/blank, ...): the
  outcome reward (the wrong-answer reward where the ground truth is unusable); ``ccrl_malformed_input``. Malformed
  entropies (a scalar, the wrong length, NaN/inf/negative at a judged number's tokens) cost only the confidence
  term: also ``ccrl_missing_entropies``, and the numbers keep their verdicts for the trainer's rescoring.
- A bound of ``verl_ccrl.bounds`` crossed: what ``score_response`` gives (outcome, no number terms); ``ccrl_bounded``.
- Anything scoring raises: logged with its traceback once per exception type; the outcome reward where it can be
  decided, else 0.0; ``ccrl_scoring_error``.
The math-verify worker (``verl_ccrl.verify_worker``) starts when the manager is built, not in the first response.

Debugging aid: with ``VERL_CCRL_RECORD_DIR`` set (forward it to Ray workers), every scored response is appended
as one JSON line (response ids, entropies, problem, ground truth, references, reward) to a file per process there,
so a reward can be replayed with ``score_response`` outside the cluster.
"""

from __future__ import annotations

import json
import logging
import os

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_ccrl.alignment import TokenAligner
from verl_ccrl.config import CCRLConfig
from verl_ccrl.entropy import ENTROPY_FIELD
from verl_ccrl.reward import outcome_reward, score_response
from verl_ccrl.reward_info import REWARD_EXTRA_KEYS, RewardInfo, encode
from verl_ccrl.reward_inputs import RewardInputs, last_user_message, read_inputs, unusable_entropies
from verl_ccrl.verify_worker import start_verify_worker

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
        try:
            self.vocab_size = len(tokenizer)
        except TypeError:
            self.vocab_size = getattr(tokenizer, "vocab_size", None)
        try:  # ~2 s once per process, here rather than in the first scored response
            start_verify_worker()
        except Exception as error:  # it starts again on the first answer that needs it
            logger.warning("CCRL: the math-verify worker did not start (%r); it is retried when first needed.", error)

    async def run_single(self, data: DataProto) -> dict:
        data_item = data[-1:][0]  # multi-sequence outputs: the reward looks at the last one, as verl's naive does
        response_ids = data_item.batch["responses"]
        valid_length = int(data_item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        valid_ids = response_ids[:valid_length].tolist()
        extra_info = data_item.non_tensor_batch.get("extra_info", None)
        extra_fields = data_item.non_tensor_batch.get("tool_extra_fields", None)
        reward_model = data_item.non_tensor_batch.get("reward_model", None)
        ground_truth = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
        raw_prompt = data_item.non_tensor_batch.get("raw_prompt", None)
        return await self.loop.run_in_executor(
            None, lambda: self.score(valid_ids, ground_truth, extra_info, raw_prompt, extra_fields=extra_fields)
        )

    def score(self, response_ids, ground_truth, extra_info, raw_prompt=None, *, extra_fields=None) -> dict:
        """The reward of one response; synchronous, so tests and tools can call it without an event loop.
        ``extra_fields`` (the rollout's) override ``extra_info``. Never raises (see the module docstring)."""
        inputs = None
        try:
            inputs = read_inputs(response_ids, self.vocab_size, ground_truth, extra_info, extra_fields)
            record = self._judge(inputs, raw_prompt)
        except Exception as error:
            cause = f"error: {type(error).__name__}"
            if cause not in CCRLRewardManager._warned:
                CCRLRewardManager._warned.add(cause)
                logger.exception(
                    "CCRL reward: scoring a response raised; it gets the outcome reward where that can be decided, "
                    "else 0.0 (counted in ccrl_scoring_error). Please report it with the response "
                    f"({RECORD_DIR_ENV_VAR} records them)."
                )
            record = self._outcome_after_error(inputs)
        info = encode(record)
        if os.environ.get(RECORD_DIR_ENV_VAR):
            self._record(response_ids, inputs, raw_prompt, record, info)
        return {"reward_score": record.reward, "reward_extra_info": info}

    def _judge(self, inputs: RewardInputs, raw_prompt) -> RewardInfo:
        for problem in inputs.malformed:
            counted_in = "ccrl_malformed_input" + (
                " and ccrl_missing_entropies" if problem.field == ENTROPY_FIELD else ""
            )
            self._warn_once(problem.field, str(problem), counted_in)
        config = self.ccrl_config
        if inputs.ground_truth is None:
            return RewardInfo(False, config.wrong_reward, 0.0, malformed_input=True)
        response = self.tokenizer.decode(inputs.response_ids, skip_special_tokens=True)
        if not inputs.judgeable:  # the outcome reward only: no token positions, so no numbers in the record
            result = score_response("", response, inputs.ground_truth, config=config, answer_type=inputs.answer_type)
            return RewardInfo.from_score(
                result, missing_entropies=inputs.entropies is None, missing_problem=False, malformed_input=True
            )
        problem = inputs.question or last_user_message(raw_prompt)
        missing_problem = not problem
        missing_entropies = inputs.entropies is None or missing_problem
        if missing_problem:
            self._warn_once("problem", "no 'question' in extra_info and no user message in raw_prompt")
        elif inputs.entropies is None and not inputs.entropies_malformed and config.entropy_source == "rollout":
            self._warn_once(
                "entropies",
                f"no '{ENTROPY_FIELD}' in the rollout's extra_fields; use actor_rollout_ref.rollout.name=vllm_ccrl "
                "(or hf_cpu on CPU)",
            )

        # Token positions even without rollout entropies: the trainer can rescore the numbers from the actor's.
        spans = None if missing_problem else self.aligner.char_spans(inputs.response_ids, response)
        result = score_response(
            problem or "",
            response,
            inputs.ground_truth,
            reference=inputs.reference,
            reference_values_extra=inputs.reference_values,
            token_spans=spans,
            entropies=None if missing_entropies else inputs.entropies,
            config=config,
            answer_type=inputs.answer_type,
        )
        malformed = bool(inputs.malformed)
        reason = None if missing_entropies else unusable_entropies(result)
        if reason:  # the confidence term goes, as for missing entropies; the numbers stay for the trainer's rescoring
            self._warn_once(
                "entropy values",
                f"{ENTROPY_FIELD}: {reason}; the rollout must write finite, non-negative entropies",
                "ccrl_malformed_input and ccrl_missing_entropies",
            )
            missing_entropies = malformed = True
        record = RewardInfo.from_score(
            result, missing_entropies=missing_entropies, missing_problem=missing_problem, malformed_input=malformed
        )
        return record.without_confidences() if missing_entropies else record

    def _outcome_after_error(self, inputs: RewardInputs | None) -> RewardInfo:
        """The outcome reward where it can still be decided, else 0.0; flagged as a scoring error."""
        config = self.ccrl_config
        if inputs is None:  # the fields themselves could not be read
            return RewardInfo(False, 0.0, 0.0, scoring_error=True)
        try:
            malformed = bool(inputs.malformed)
            if inputs.ground_truth is None:
                return RewardInfo(False, config.wrong_reward, 0.0, malformed_input=True, scoring_error=True)
            response = self.tokenizer.decode(inputs.response_ids, skip_special_tokens=True)
            outcome = outcome_reward(response, inputs.ground_truth, config=config, answer_type=inputs.answer_type)
            return RewardInfo(outcome.correct, outcome.reward, 0.0, malformed_input=malformed, scoring_error=True)
        except Exception:
            return RewardInfo(False, 0.0, 0.0, scoring_error=True)

    def _record(self, response_ids, inputs: RewardInputs | None, raw_prompt, record: RewardInfo, info: dict) -> None:
        try:
            _append_record(
                os.environ[RECORD_DIR_ENV_VAR],
                {
                    "response_ids": list(response_ids),
                    "entropies": inputs and inputs.entropies,
                    "problem": inputs and (inputs.question or last_user_message(raw_prompt)),
                    "ground_truth": inputs and inputs.ground_truth,
                    "reference": inputs and inputs.reference,
                    "reference_values": [str(value) for value in inputs.reference_values] if inputs else [],
                    "reward": record.reward,
                    "reward_extra_info": info,
                },
            )
        except Exception as error:  # a debugging aid must not cost the step
            self._warn_once("record", f"not recorded in {RECORD_DIR_ENV_VAR}: {error!r}", "nothing")

    def _warn_once(self, cause: str, message: str, counted_in: str = "ccrl_missing_*") -> None:
        if cause not in CCRLRewardManager._warned:
            CCRLRewardManager._warned.add(cause)
            logger.warning("CCRL reward degrades to the outcome reward: %s (counted in %s).", message, counted_in)


def _append_record(record_dir: str, record: dict) -> None:
    os.makedirs(record_dir, exist_ok=True)
    with open(os.path.join(record_dir, f"ccrl-rewards-{os.getpid()}.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
