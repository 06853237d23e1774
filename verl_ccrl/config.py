"""CCRL configuration: one dataclass mirroring the ``ccrl:`` block of the trainer YAML.

Every field has help text in its metadata; every check lives in ``__post_init__`` and raises ``ValueError`` /
``TypeError`` naming the field, the value, the reason and the fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from verl_ccrl.calibration import OVERCONFIDENCE_THRESHOLDS
from verl_ccrl.shaping import SHAPINGS

__all__ = [
    "CCRLConfig", "CONFIDENCE_ESTIMATORS", "AGGREGATIONS", "VERIFICATION_SOURCES", "RESTATEMENT_POLICIES", "SHAPINGS"
]  # fmt: skip

CONFIDENCE_ESTIMATORS = ("exp_neg_entropy", "normalized_entropy")
AGGREGATIONS = ("mean", "min", "last")
VERIFICATION_SOURCES = ("arithmetic", "reference")
RESTATEMENT_POLICIES = ("unverifiable", "inherit")
ENTROPY_SOURCES = ("rollout", "actor")


@dataclass
class CCRLConfig:
    """Hyper-parameters of the Confidence-Calibrated RL reward (README, "The reward at a glance"; docs/reward.md)."""

    alpha: float = field(
        default=0.25,
        metadata={"help": "Bonus scale for a correct computed number: s_i = +alpha * c_i. Must be >= 0."},
    )
    beta: float = field(
        default=0.5,
        metadata={
            "help": "Penalty scale for a wrong computed number: s_i = -beta * c_i. Must be >= 0. The default "
            "beta = 2 * alpha penalises a confident error harder than it rewards a confident success, and "
            "alpha + beta < correct_reward - wrong_reward keeps the answer's correctness dominant."
        },
    )
    tau: float = field(
        default=0.0,
        metadata={
            "help": "Confidence threshold in [0, 1]: a wrong number with confidence below tau is not penalised "
            "(s_i = 0, it still counts in |C|). 0 penalises every wrong number. Linear shaping only."
        },
    )
    shaping: str = field(
        default="linear",
        metadata={
            "help": "How a judged number's confidence c and correctness y (1 right, 0 wrong) become its term s_i: "
            "'linear' s = +alpha*c if right, -beta*c if wrong (the paper's description; not a proper scoring rule: "
            "it pushes c to 1 where the chance p of being right exceeds beta/(alpha+beta) and to 0 below); "
            "'brier' s = alpha - (alpha+beta)*(c - y)^2 (a proper scoring rule: its expectation is highest at "
            "c = p; same values as 'linear' at c = 1, range [-beta, alpha]); 'log' s = alpha + (alpha+beta)*"
            "ln(max(q, 0.01))/ln(100), q = c if right else 1 - c (the log score, proper for c in [0.01, 0.99], same "
            'range). docs/reward.md, "Shaping".'
        },
    )
    confidence_estimator: str = field(
        default="exp_neg_entropy",
        metadata={
            "help": "How entropy H (nats) becomes confidence c in [0, 1]: 'exp_neg_entropy' c = exp(-H) "
            "(1 / effective number of choices; vocabulary-free), or 'normalized_entropy' c = 1 - H / ln|V| "
            "(needs vocab_size)."
        },
    )
    aggregation: str = field(
        default="mean",
        metadata={
            "help": "How a number's token entropies combine: 'mean' (mean entropy), 'min' (least confident "
            "token, i.e. max entropy), 'last' (the number's last token)."
        },
    )
    vocab_size: int | None = field(
        default=None,
        metadata={"help": "Vocabulary size |V|, required by confidence_estimator='normalized_entropy'."},
    )
    verification_sources: tuple[str, ...] = field(
        default=VERIFICATION_SOURCES,
        metadata={
            "help": "Which checks decide a computed number's verdict, in order: 'arithmetic' (the number is the "
            "result of a statement like 12 * 2 = 24 in the response) and 'reference' (it equals a value of the "
            "reference solution or the final answer)."
        },
    )
    restatement_policy: str = field(
        default="unverifiable",
        metadata={
            "help": "Verdict of a number that only restates an earlier computed number ('The answer is 81' after "
            "7 * 13 = 81): 'unverifiable' (default; the error is charged once, where it was made) or 'inherit' "
            "(takes the earlier number's verdict)."
        },
    )
    reference_mismatch_is_wrong: bool = field(
        default=False,
        metadata={
            "help": "If true, a computed number that matches no reference value is 'wrong' instead of "
            "'unverifiable'. Off by default: a valid alternative solution path computes other numbers."
        },
    )
    word_numbers: bool = field(
        default=True,
        metadata={"help": "Count written-out numbers in the problem ('three', 'twice', 'half', 'a dozen') as given."},
    )
    correct_reward: float = field(default=1.0, metadata={"help": "Outcome reward for a correct final answer."})
    wrong_reward: float = field(default=0.0, metadata={"help": "Outcome reward for a wrong or missing final answer."})
    answer_fallback_last_number: bool = field(
        default=False,
        metadata={
            "help": "If no explicit answer ('#### x', '\\boxed{x}', 'The answer is x') is found, take the last "
            "number of the response. Off for training (verl's GSM8K 'strict' mode); evaluation turns it on."
        },
    )
    top_k: int = field(
        default=20,
        metadata={
            "help": "Log-probabilities per token that the vllm_ccrl rollout requests to estimate entropy (top-k "
            "bounds, see verl_ccrl/entropy.py). vLLM's default max_logprobs is 20; for more, also raise "
            "actor_rollout_ref.rollout.engine_kwargs.vllm.max_logprobs. The hf_cpu rollout is exact and ignores it."
        },
    )
    entropy_source: str = field(
        default="actor",
        metadata={
            "help": "Whose entropies give the confidence: 'actor' (default: the actor's exact entropies from verl's "
            "old-log-prob pass, which the ccrl trainer uses to recompute the number terms: no extra forward pass, "
            "works with verl's stock vllm rollout, not with algorithm.rollout_correction.bypass_mode) or 'rollout' "
            "(the rollout's, in the reward loop: vllm_ccrl's top-k estimate, for bypass_mode; hf_cpu's exact value). "
            "Either way the trainer logs ccrl/entropy_gap_mean, the mean |H_actor - H_rollout| at judged numbers' "
            "tokens, where the rollout returns entropies."
        },
    )
    token_level_rewards: bool = field(
        default=True,
        metadata={
            "help": "Place each number's term on its last token and the outcome on the last token (the CCRL "
            "trainer rewrites rm_scores), so GAE credits the token where a number was written. GRPO sums token "
            "rewards, so it sees the same total either way. False keeps verl's last-token scalar."
        },
    )
    overconfidence_thresholds: tuple[float, ...] = field(
        default=OVERCONFIDENCE_THRESHOLDS,
        metadata={"help": "Confidence thresholds of the overconfident-error metric (the paper's 0.5 / 0.7 / 0.9)."},
    )

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "tau", "correct_reward", "wrong_reward"):
            setattr(self, name, _finite_float(name, getattr(self, name)))
        for name in ("alpha", "beta"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"ccrl.{name}={getattr(self, name)} is negative; it scales a bonus/penalty magnitude, so the "
                    f"sign is fixed by the formula. Use a value >= 0 (0 disables that side)."
                )
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"ccrl.tau={self.tau} is outside [0, 1]; it is a confidence threshold. Use 0 to disable.")
        if self.correct_reward <= self.wrong_reward:
            raise ValueError(
                f"ccrl.correct_reward={self.correct_reward} is not above ccrl.wrong_reward={self.wrong_reward}; a "
                f"correct answer must earn more than a wrong one. Swap or fix the values."
            )
        _choice("confidence_estimator", self.confidence_estimator, CONFIDENCE_ESTIMATORS)
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _choice("restatement_policy", self.restatement_policy, RESTATEMENT_POLICIES)
        _choice("entropy_source", self.entropy_source, ENTROPY_SOURCES)
        _choice("shaping", self.shaping, SHAPINGS)
        if self.shaping != "linear" and self.tau > 0:
            raise ValueError(
                f"ccrl.tau={self.tau} applies to shaping='linear' only; with ccrl.shaping={self.shaping!r} a proper "
                f"scoring rule already charges a low-confidence error little. Set ccrl.tau=0 or ccrl.shaping=linear."
            )
        if self.vocab_size is not None:
            if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 2:
                raise ValueError(
                    f"ccrl.vocab_size={self.vocab_size!r} must be an integer >= 2 (the tokenizer's vocabulary "
                    f"size, e.g. 151936 for Qwen2.5), or null."
                )
        if self.confidence_estimator == "normalized_entropy" and self.vocab_size is None:
            raise ValueError(
                "ccrl.confidence_estimator='normalized_entropy' needs ccrl.vocab_size (c = 1 - H / ln|V|). Set "
                "ccrl.vocab_size to the tokenizer's vocabulary size or use 'exp_neg_entropy'."
            )
        sources = _as_tuple("verification_sources", self.verification_sources, "[arithmetic,reference]")
        for source in sources:
            _choice("verification_sources", source, VERIFICATION_SOURCES)
        if len(set(sources)) != len(sources):
            raise ValueError(f"ccrl.verification_sources={list(sources)} repeats a source; list each at most once.")
        self.verification_sources = sources
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise ValueError(
                f"ccrl.top_k={self.top_k!r} must be an integer >= 1 (log-probs per token for the entropy estimate)."
            )
        for name in (
            "reference_mismatch_is_wrong",
            "word_numbers",
            "answer_fallback_last_number",
            "token_level_rewards",
        ):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"ccrl.{name}={getattr(self, name)!r} must be true or false.")
        thresholds = tuple(
            _finite_float("overconfidence_thresholds", value)
            for value in _as_tuple("overconfidence_thresholds", self.overconfidence_thresholds, "[0.5,0.7,0.9]")
        )
        if not thresholds or any(not 0.0 <= value < 1.0 for value in thresholds):
            raise ValueError(
                f"ccrl.overconfidence_thresholds={list(thresholds)} must be a non-empty list of values in [0, 1)."
            )
        self.overconfidence_thresholds = thresholds

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> CCRLConfig:
        """Build from a dict or OmegaConf node, rejecting unknown keys with a suggestion."""
        if values is None:
            return cls()
        if hasattr(values, "items") and not isinstance(values, dict):
            try:
                from omegaconf import OmegaConf

                values = OmegaConf.to_container(values, resolve=True)
            except (ImportError, ValueError):
                values = dict(values.items())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ValueError(f"Unknown ccrl config key(s): {', '.join(hints)}. Valid keys: {', '.join(sorted(known))}.")
        return cls(**values)

    @staticmethod
    def help() -> dict[str, str]:
        """Field name -> help text, for ``--help`` output and docs."""
        return {f.name: f.metadata.get("help", "") for f in fields(CCRLConfig)}


def _finite_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"ccrl.{name}={value!r} ({type(value).__name__}) must be a number, e.g. {name}=0.5.")
    if not math.isfinite(value):
        raise ValueError(f"ccrl.{name}={value} is not finite; use a finite number.")
    return float(value)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"ccrl.{name}={value!r} is not one of {list(allowed)}; pick one of those.")


def _as_tuple(name: str, value: Any, example: str) -> tuple:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"ccrl.{name}={value!r} must be a list, e.g. ccrl.{name}={example}.")
    return tuple(value)
