"""verl-ccrl: Confidence-Calibrated RL and Chain-of-Meta-Thought SFT for verl.

The core (this namespace) is pure Python with no verl, vLLM, Ray or torch import: number analysis, verdicts,
confidence, reward and calibration metrics (``tests/test_layout.py`` fences it). Everything that imports verl lives
in :mod:`verl_ccrl.integration`.
"""

from verl_ccrl.alignment import TokenAligner, mention_token_indices, token_char_spans
from verl_ccrl.analysis import AnalyzedMention, analyze_response, reference_values
from verl_ccrl.answer import extract_final_answer, is_answer_correct
from verl_ccrl.arithmetic import ArithmeticCheck, evaluate_expression, find_arithmetic_checks
from verl_ccrl.confidence import entropy_to_confidence, number_confidence
from verl_ccrl.config import CCRLConfig
from verl_ccrl.metrics import calibration_metrics
from verl_ccrl.number_mentions import NumberMention, find_number_mentions, problem_values
from verl_ccrl.reward import CCRLScore, ScoredMention, is_judged, outcome_reward, rescore_numbers, score_response

__version__ = "0.1.0"

__all__ = [
    "AnalyzedMention",
    "ArithmeticCheck",
    "CCRLConfig",
    "CCRLScore",
    "NumberMention",
    "ScoredMention",
    "TokenAligner",
    "analyze_response",
    "calibration_metrics",
    "entropy_to_confidence",
    "evaluate_expression",
    "extract_final_answer",
    "find_arithmetic_checks",
    "find_number_mentions",
    "is_answer_correct",
    "is_judged",
    "mention_token_indices",
    "number_confidence",
    "outcome_reward",
    "problem_values",
    "reference_values",
    "rescore_numbers",
    "score_response",
    "token_char_spans",
]
