"""MASA's efficiency switches (arXiv 2510.03259), pure Python: which prompts teach nothing, and when to skip them.

A GRPO group whose responses all get the same outcome (all correct or all wrong) has zero outcome variance. Under
CCRL its shaped reward still varies (the number terms), so verl's group filter must judge the *outcome*: the
``ccrl`` reward manager writes it to ``reward_extra_info`` as :data:`OUTCOME_METRIC`, which
``algorithm.filter_groups.metric`` names (the recipes' ``ZERO_VARIANCE_FILTER=outcome``).

Before rollout, :class:`PromptHistory` predicts a zero-variance group from a prompt's own past: a prompt whose last
``skip_history`` groups were all correct, or all wrong, is held back, except that each time it comes up it returns
with probability ``skip_return_prob``, so a prompt the policy has started (or stopped) solving comes back.
Settings: :class:`MasaConfig`, the ``masa:`` block of the trainer YAML. The verl seams: docs/masa.md.

Example::

    >>> history = PromptHistory(MasaConfig(skip_predicted_zero_variance=True, skip_history=2, skip_return_prob=0.0))
    >>> history.observe("p", [1.0, 1.0, 1.0]); history.predicted_zero_variance("p")
    False
    >>> history.observe("p", [1.0, 1.0, 1.0]); history.admit("p")
    False
    >>> history.observe("q", [1.0, 0.0]); history.observe("q", [0.0, 0.0]); history.admit("q")
    True
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "OUTCOME_METRIC",
    "STEP_COUNTS",
    "MasaConfig",
    "PromptHistory",
    "group_outcome",
    "prompt_key",
    "step_metrics",
    "zero_variance",
]

# The reward_extra_info field verl's group filter reads for ZERO_VARIANCE_FILTER=outcome: the outcome reward
# (ccrl.correct_reward or ccrl.wrong_reward) that verl_ccrl.reward_info.encode writes for every response.
OUTCOME_METRIC = "ccrl_outcome"
# The per-response correctness (1.0 / 0.0) in the same record; the history counts it.
CORRECT_FIELD = "acc"
# What a step counts for its masa/* metrics (docs/masa.md, "Step metrics"), in verl's trainer and the plain twin.
STEP_COUNTS = ("filtered_groups", "filtered_all_correct", "filtered_all_wrong", "discarded_groups", "refill_prompts",
               "skipped_prompts", "returned_prompts", "generated_groups", "generated_responses", "generated_tokens")  # fmt: skip


@dataclass
class MasaConfig:
    """The ``masa:`` block of ``integration/config/ccrl_trainer.yaml``: skipping prompts predicted to teach nothing."""

    skip_predicted_zero_variance: bool = field(
        default=False,
        metadata={
            "help": "Hold a prompt back before rollout when its last skip_history GRPO groups were all correct or "
            "all wrong (MASA's predictive gating, judged from the prompt's own history). Off by default: the "
            "paper's setting is plain GRPO. Needs actor_rollout_ref.rollout.n >= 2."
        },
    )
    skip_history: int = field(
        default=2,
        metadata={"help": "K: how many of a prompt's most recent groups must all be all-correct or all-wrong. >= 1."},
    )
    skip_return_prob: float = field(
        default=0.2,
        metadata={
            "help": "Chance in [0, 1] that a prompt predicted to teach nothing is generated anyway when it comes "
            "up, so a prompt that became learnable returns (its new group updates the history). 1 never skips."
        },
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed of the return draws (reproducible runs)."},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.skip_predicted_zero_variance, bool):
            raise TypeError(
                f"masa.skip_predicted_zero_variance={self.skip_predicted_zero_variance!r} must be true or false."
            )
        for name in ("skip_history", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"masa.{name}={value!r} must be an integer, e.g. masa.{name}=2.")
        if self.skip_history < 1:
            raise ValueError(
                f"masa.skip_history={self.skip_history} is below 1; it counts the past groups a prediction rests "
                "on. Use 1 or more (2 is the default)."
            )
        value = self.skip_return_prob
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(
                f"masa.skip_return_prob={value!r} is not a probability; use a number in [0, 1] (0.2 is the "
                "default; 0 never lets a skipped prompt return, 1 never skips)."
            )
        self.skip_return_prob = float(value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> MasaConfig:
        """Build from a dict or OmegaConf node; unknown keys are refused naming the valid ones."""
        if values is None:
            return cls()
        values = {str(key): value for key, value in values.items()}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(
                f"Unknown masa config key(s): {unknown}. Valid keys: {sorted(f.name for f in fields(cls))}."
            )
        return cls(**values)

    @staticmethod
    def help() -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(MasaConfig)}


def prompt_key(raw_prompt: Any) -> str:
    """A stable identity of a prompt (its chat messages), the same in every epoch and process."""
    text = json.dumps(raw_prompt, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def zero_variance(values: Sequence[float]) -> bool:
    """Whether verl's group filter evicts a group with these metric values: two or more, all equal (their standard
    deviation is 0, ``trainer/ppo/v1/replay_buffer.py:312``). A group of one is never evicted.

    >>> zero_variance([1.0, 1.0, 1.0]), zero_variance([0.0, 1.0]), zero_variance([0.0])
    (True, False, False)
    """
    return len(values) > 1 and min(values) == max(values)


def step_metrics(counts: Mapping[str, int], *, group_size: int, batch_size: int) -> dict[str, float]:
    """A step's ``masa/*`` metrics from its :data:`STEP_COUNTS` (missing counts are 0).

    >>> metrics = step_metrics({"skipped_prompts": 2, "refill_prompts": 4}, group_size=4, batch_size=8)
    >>> metrics["masa/rollouts_saved"], metrics["masa/gen_batches"], metrics["masa/filtered_groups"]
    (8.0, 1.5, 0.0)
    """
    metrics = {f"masa/{name}": float(counts.get(name, 0)) for name in STEP_COUNTS}
    metrics["masa/rollouts_saved"] = float(counts.get("skipped_prompts", 0) * group_size)
    metrics["masa/gen_batches"] = (batch_size + counts.get("refill_prompts", 0)) / batch_size
    return metrics


def group_outcome(outcomes: Sequence[float]) -> float | None:
    """The group's pass rate, or None when no response carried a usable correctness value."""
    values = [float(value) for value in outcomes if value is not None and math.isfinite(float(value))]
    return sum(values) / len(values) if values else None


class PromptHistory:
    """Each prompt's last ``skip_history`` group pass rates, and the skip decision they imply."""

    def __init__(self, config: MasaConfig) -> None:
        self.config = config
        self._rates: dict[str, deque[float]] = {}
        self._rng = random.Random(config.seed)

    def observe(self, key: str, outcomes: Sequence[float]) -> None:
        """Record one finished group of ``key`` (each response's correctness, 1.0 or 0.0)."""
        rate = group_outcome(outcomes)
        if rate is not None:
            self._rates.setdefault(key, deque(maxlen=self.config.skip_history)).append(rate)

    def predicted_zero_variance(self, key: str) -> bool:
        """True when the last ``skip_history`` groups of ``key`` were all all-correct or all all-wrong."""
        rates = self._rates.get(key)
        if rates is None or len(rates) < self.config.skip_history:
            return False
        return all(rate == 1.0 for rate in rates) or all(rate == 0.0 for rate in rates)

    def decide(self, key: str) -> str:
        """What to do with ``key`` now: ``"generate"`` (the skip is off, or no prediction), ``"return"`` (predicted
        zero-variance, but the return draw let it through) or ``"skip"``. Draws only for a predicted prompt.

        >>> history = PromptHistory(MasaConfig(skip_predicted_zero_variance=True, skip_history=1, skip_return_prob=1.0))
        >>> history.decide("p"), history.observe("p", [0.0, 0.0]), history.decide("p")
        ('generate', None, 'return')
        """
        if not self.config.skip_predicted_zero_variance or not self.predicted_zero_variance(key):
            return "generate"
        return "return" if self._rng.random() < self.config.skip_return_prob else "skip"

    def admit(self, key: str) -> bool:
        """Whether to generate ``key`` now: yes unless predicted zero-variance and the return draw fails."""
        return self.decide(key) != "skip"
