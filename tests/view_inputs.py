"""Viewer inputs written by the project's own writers, for test_view, benchmarks/view_load.py and the docs' screenshot.

- :func:`write_toy_results`: ``python -m verl_ccrl.eval``'s output directory (runs/*.json, samples/*.jsonl) for the
  toy world's eval splits, through :func:`verl_ccrl.eval.run_evaluation` with :class:`ToyPolicy` standing in for a
  model: each method answers with the problem's chain of thought, sometimes with one arithmetic slip that carries
  into the answer, and per-token entropies that are low except where the method hesitates.
- :func:`write_toy_records`: a ``VERL_CCRL_RECORD_DIR`` written by the ``ccrl`` reward manager itself.
"""

from __future__ import annotations

import math
import os
import random
import re

from verl_ccrl.alignment import TokenAligner
from verl_ccrl.eval.data import load_eval_files
from verl_ccrl.eval.generation import Generation

__all__ = ["METHODS", "ToyPolicy", "toy_eval_files", "toy_response", "write_toy_records", "write_toy_results"]

# label -> (share of responses with a slip, entropy at a slip: hesitant or confident, seeds)
METHODS = {
    "CoMT-SFT": (0.35, "mixed", (None,)),
    "CoMT+outcome-RL": (0.2, "confident", (1, 2)),
    "CoMT+CCRL": (0.2, "hesitant", (1, 2)),
}
_STEP = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")
_APPLY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a // b}


def toy_eval_files(directory: str, n: int) -> tuple[str, ...]:
    """The toy world's three eval splits with ``n`` problems each, as ``NAME=FILE`` for ``--data``."""
    from toy_world.data import write_study_data

    write_study_data(directory, n_sft=1, n_rl=1, n_eval=n)
    names = {"test": "toy_id", "ood_combo": "toy_ood_combo", "ood_steps": "toy_ood_steps"}
    return tuple(f"{name}={os.path.join(directory, f'eval_toy_{split}.parquet')}" for split, name in names.items())


def toy_response(reference: str, slip_step: int | None, rng: random.Random) -> tuple[str, tuple[int, int] | None]:
    """The chain of thought of ``reference`` with the result of step ``slip_step`` off by a few (later steps compute
    from it correctly); returns the text and the slip's character span."""
    lines, current, slip_span = [], None, None
    for step, line in enumerate(line for line in reference.splitlines() if _STEP.search(line)):
        match = _STEP.search(line)
        left = int(match.group(1)) if current is None else current
        result = _APPLY[match.group(2)](left, int(match.group(3)))
        if step == slip_step:
            result += rng.choice((-10, -2, -1, 1, 2, 10))
        text = f"{line[: match.start()]}{left} {match.group(2)} {match.group(3)} = {result}{line[match.end() :]}"
        if step == slip_step:
            offset = sum(len(previous) + 1 for previous in lines) + len(text) - len(line[match.end() :])
            slip_span = (offset - len(str(result)), offset)
        lines.append(text)
        current = result
    return "\n".join(lines + [f"#### {current}"]), slip_span


class ToyPolicy:
    """A backend for :func:`verl_ccrl.eval.run_evaluation` (``tokenizer``, ``generate``, ``describe``)."""

    def __init__(self, tokenizer, examples, slip_rate: float, at_slip: str, seed: int, override=None):
        self.tokenizer, self.aligner = tokenizer, TokenAligner(tokenizer)
        self.by_prompt = {example.messages[-1]["content"]: example for example in examples}
        self.slip_rate, self.at_slip, self.rng = slip_rate, at_slip, random.Random(seed)
        self.override = override  # example -> response text to give as is, or None

    def describe(self):
        return {"backend": "toy-policy"}

    def generate(self, conversations):
        return [self._answer(self.by_prompt[messages[-1]["content"]]) for messages in conversations]

    def _answer(self, example) -> Generation:
        rng = self.rng
        steps = len(_STEP.findall(example.reference or ""))
        slip = rng.randrange(steps) if steps and rng.random() < self.slip_rate else None
        text, slip_span = toy_response(example.reference or "", slip, rng)
        text = (self.override and self.override(example)) or text
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        entropies = [rng.expovariate(1 / 0.03) for _ in ids]
        hesitant = self.at_slip == "hesitant" or (self.at_slip == "mixed" and rng.random() < 0.5)
        for index, span in enumerate(self.aligner.char_spans(ids, text)):
            if span is None or not text[span[0] : span[1]].strip().isdigit():
                continue
            if slip_span and span[0] < slip_span[1] and slip_span[0] < span[1]:
                entropies[index] = rng.uniform(0.4, 1.6) if hesitant else rng.expovariate(1 / 0.06)
            elif rng.random() < 0.06:  # now and then unsure of a right digit too
                entropies[index] = rng.uniform(0.1, math.log(3))
        return Generation(ids, text, entropies, "stop", 10)


def write_toy_results(out_dir: str, tokenizer, n_problems: int, methods=METHODS, override=None) -> str:
    """An evaluation's out dir for ``methods`` on the toy eval splits; returns ``out_dir``."""
    from verl_ccrl.eval.config import EvalConfig
    from verl_ccrl.eval.runner import run_evaluation

    data = toy_eval_files(os.path.join(out_dir, "data"), n_problems)
    examples = [example for group in load_eval_files(data).values() for example in group]
    for number, (method, (slip_rate, at_slip, seeds)) in enumerate(methods.items()):
        for seed in seeds:
            config = EvalConfig(data=data, model="unused", method=method, model_name="toy-s", out_dir=out_dir,
                                seed=seed, id_benchmarks=("toy_id",), ood_benchmarks=("toy_ood_combo", "toy_ood_steps"))  # fmt: skip
            policy = ToyPolicy(tokenizer, examples, slip_rate, at_slip, 1000 * number + (seed or 0), override)
            run_evaluation(config, backend=policy)
    return out_dir


def write_toy_records(record_dir: str, tokenizer, n_problems: int, seed: int = 0) -> str:
    """Training records of the ``ccrl`` reward manager (``VERL_CCRL_RECORD_DIR``) for toy RL problems."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import load_reward_manager

    from verl_ccrl.integration import reward_manager as reward_manager_module
    from verl_ccrl.integration.reward_manager import RECORD_DIR_ENV_VAR

    path = os.path.join(record_dir, "..", "rl_data")
    examples = [example for group in load_eval_files(toy_eval_files(path, n_problems)).values() for example in group]
    policy = ToyPolicy(tokenizer, examples, 0.3, "mixed", seed)
    config = OmegaConf.create({"ccrl": {}, "reward": {
        "custom_reward_function": {"path": None, "name": "compute_score"},
        "reward_manager": {"source": "register", "name": "ccrl", "module": {"path": None, "name": "x"}},
        "sandbox_fusion": None}})  # fmt: skip
    starter = reward_manager_module.start_verify_worker
    reward_manager_module.start_verify_worker = lambda: None  # started on the first answer that needs it
    previous = os.environ.get(RECORD_DIR_ENV_VAR)
    os.environ[RECORD_DIR_ENV_VAR] = record_dir
    try:
        manager = load_reward_manager(config, tokenizer)
        for example in examples:
            generation = policy._answer(example)
            manager.score(
                generation.token_ids + [tokenizer.eos_token_id],
                example.ground_truth,
                {"question": example.question, "reference": example.reference},
                extra_fields={"ccrl_entropies": generation.entropies + [0.0]},
            )
    finally:
        reward_manager_module.start_verify_worker = starter
        if previous is None:
            del os.environ[RECORD_DIR_ENV_VAR]
        else:
            os.environ[RECORD_DIR_ENV_VAR] = previous
    return record_dir
