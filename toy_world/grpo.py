"""GRPO on the toy world in plain PyTorch: the reference verl's loop is measured against.

It answers two questions without verl, Ray or a server in the way: which batch and learning rate make RL raise the
toy model's greedy accuracy at all, and what a step costs when nothing but sampling and one update run. It follows
the settings of ``recipes/toy_world.sh``'s RL runs: GRPO advantages (reward minus the group mean, divided by the
group's sample standard deviation + 1e-6), on-policy (one update per step, so PPO's ratio is 1 and its clip is
inactive), token-mean loss over every response token of the step, AdamW (weight decay 0.01, betas 0.9/0.999),
gradient norm clipped to 1, temperature 1, no KL. Sampling is ``verl_ccrl``'s batched decoder, each response seeded.

The reward (``--reward``): ``outcome`` is 1 for a correct final answer and 0 otherwise
(``verl_ccrl.reward.outcome_reward``); ``linear``, ``brier`` and ``log`` are CCRL with that shaping and
``CCRLConfig``'s other defaults: ``verl_ccrl.score_response`` with the problem, its chain of thought as the
reference and its step results as reference values, as ``data_prep``'s RL rows hand them to the ``ccrl`` reward
manager, and the sampling entropies as the confidence source. On-policy at temperature 1 those are the actor's
entropies that the study's trainer rescores with (``ccrl.entropy_source=actor``), up to float rounding.
``tests/test_toy_grpo.py`` checks the reward against the reward manager's on sampled responses.

    python -m toy_world.grpo --model SFT_DIR --prompts 16 --samples 16 --lr 1e-4 --steps 24 --seed 1 --reward linear

Prints one JSON line per step and one per evaluation in the shape of verl's file logger, ``{"step": N, "data":
{metric: value}}``, under verl's metric names, so ``python -m verl_ccrl.eval curves`` plots it as it plots a verl
run: ``critic/score/mean`` (training reward), ``ccrl/outcome_mean`` (answer accuracy), ``actor/grad_norm``,
``actor/entropy`` (mean token entropy of the sampled responses), ``timing_s/gen`` and ``timing_s/step`` (seconds of
sampling and of the whole step), and ``val-core/toy_id/acc/mean@1`` (greedy accuracy on the first ``--eval-n``
problems of the ID split, as ``toy_world.train`` measures it). ``--save DIR`` writes the final policy as a Hugging
Face model, for ``python -m verl_ccrl.eval``. The RL problems are the ``train`` split's stream from ``--data-seed``
(``toy_world.data``'s RL problems by default). MASA's switches (``--zero-variance-filter``, ``--skip``) act as
verl's trainer applies them (``toy_world.masa_batches``; the log then adds the ``masa/*`` counts, docs/masa.md).
Not handled: PPO epochs over a step's samples, a KL term.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from toy_world.masa_batches import FILTER_METRICS, Group, MasaBatches
from toy_world.problems import generate_problems
from toy_world.train import evaluate, prompt_text
from verl_ccrl.masa import MasaConfig, step_metrics

__all__ = ["REWARDS", "group_advantages", "main", "response_reward"]

# toy_world.data's RL problems come from the train stream with this seed (seed 0 + its RL offset).
RL_DATA_SEED = 1_000
# "outcome", then CCRL's shapings (CCRLConfig.shaping), as recipes/toy_world.sh's arms name them.
REWARDS = ("outcome", "linear", "brier", "log")


def group_advantages(rewards, group_size: int, *, std_normalise: bool = True):
    """GRPO advantages of a flat reward tensor laid out group after group.

    >>> import torch
    >>> group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), 2, std_normalise=False).tolist()
    [0.5, -0.5, 0.0, 0.0]

    With the std division the first group's advantages are +-0.5 / 0.7071 = +-0.7071. A group whose rewards are
    all equal gets advantages 0 either way.
    """
    groups = rewards.view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if std_normalise:
        centred = centred / (groups.std(dim=1, keepdim=True) + 1e-6)
    return centred.flatten()


def response_reward(problem, text: str, token_ids, entropies, *, config=None, aligner=None) -> tuple[float, bool]:
    """(reward, final answer correct) of one sampled response to a :class:`~toy_world.problems.ToyProblem`.

    ``config=None`` is the outcome reward; a ``CCRLConfig`` (with a ``TokenAligner`` of the policy's tokenizer) adds
    CCRL's number terms, computed from ``entropies`` (one per token of ``token_ids``, the sampling distribution's)
    with the reward manager's inputs: the question, the chain of thought as reference, the step results.
    """
    from verl_ccrl.reward import outcome_reward, score_response

    if config is None:
        outcome = outcome_reward(text, problem.answer)
        return outcome.reward, outcome.correct
    score = score_response(
        problem.question,
        text,
        problem.answer,
        reference=problem.cot,
        reference_values_extra=problem.reference_values,
        token_spans=aligner.char_spans(token_ids, text),
        entropies=entropies,
        config=config,
    )
    return score.total, score.answer_correct


def _padded(sequences: list[list[int]], prompt_lengths: list[int], pad_token_id: int):
    import torch

    width = max(map(len, sequences))
    input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    response_mask = torch.zeros((len(sequences), width))
    for row, (sequence, prompt_length) in enumerate(zip(sequences, prompt_lengths, strict=True)):
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
        response_mask[row, prompt_length : len(sequence)] = 1
    return input_ids, attention, response_mask


def run(args: argparse.Namespace) -> list[dict]:
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from verl_ccrl.alignment import TokenAligner
    from verl_ccrl.config import CCRLConfig
    from verl_ccrl.integration.cpu.batch_decode import DecodeRow, decode_batch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = Qwen2ForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
    config = None if args.reward == "outcome" else CCRLConfig(shaping=args.reward)
    aligner = None if config is None else TokenAligner(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.999))
    problems = generate_problems("train", args.n_problems, seed=args.data_seed)
    eval_problems = generate_problems("test", args.eval_n, seed=0)
    rng = random.Random(args.seed)
    records: list[dict] = []

    def log(step: int, metrics: dict) -> None:
        record = {"step": step, "data": metrics}
        records.append(record)
        print(json.dumps(record), flush=True)

    def log_eval(step: int) -> None:
        accuracy, _, _ = evaluate(model, tokenizer, eval_problems, max_new_tokens=args.max_new_tokens)
        log(step, {"val-core/toy_id/acc/mean@1": accuracy})

    masa = MasaBatches(
        range(len(problems)),
        masa_config(args),
        filter_metric=args.zero_variance_filter,
        max_gen_batches=args.max_gen_batches,
        seed=args.seed,
    )

    timing = {"gen": 0.0}  # seconds of sampling this step, refills included

    def generate(indices: list[int], seed_rng: random.Random | None) -> list[Group]:
        """Sample and score a group for each problem; row seeds from the step's stream unless ``seed_rng``."""
        seed_rng = seed_rng or rng
        prompts = [tokenizer(prompt_text(problems[i].question), add_special_tokens=False)["input_ids"] for i in indices]
        rows = [
            DecodeRow(
                ids, args.max_new_tokens, stop_ids=frozenset([tokenizer.eos_token_id]), seed=seed_rng.randrange(2**62)
            )
            for ids in prompts
            for _ in range(args.samples)
        ]
        start = time.perf_counter()
        model.eval()
        results = decode_batch(model, rows, pad_token_id=tokenizer.pad_token_id)
        model.train()
        timing["gen"] += time.perf_counter() - start
        texts = tokenizer.batch_decode([result.token_ids for result in results], skip_special_tokens=True)
        groups = []
        for number, index in enumerate(indices):
            span = slice(number * args.samples, (number + 1) * args.samples)
            scored = [
                response_reward(
                    problems[index], text, result.token_ids, result.entropies, config=config, aligner=aligner
                )
                for text, result in zip(texts[span], results[span], strict=True)
            ]
            groups.append(
                Group(
                    prompt=index,
                    rewards=[reward for reward, _ in scored],
                    correct=[correct for _, correct in scored],
                    tokens=sum(len(result.token_ids) for result in results[span]),
                    payload=(rows[span], results[span]),
                )
            )
        return groups

    if args.eval_n:
        log_eval(0)
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        timing["gen"] = 0.0
        batch = rng.sample(range(len(problems)), args.prompts)
        if args.skip:
            batch = masa.admitted(batch)
        groups = masa.step_groups(batch, generate, batch_size=args.prompts)
        rows = [row for group in groups for row in group.payload[0]]
        results = [result for group in groups for result in group.payload[1]]
        correct = [value for group in groups for value in group.correct]
        rewards = torch.tensor([reward for group in groups for reward in group.rewards], dtype=torch.float32)
        advantages = group_advantages(rewards, args.samples, std_normalise=not args.no_std)

        sequences = [list(row.prompt_ids) + result.token_ids for row, result in zip(rows, results, strict=True)]
        input_ids, attention, response_mask = _padded(
            sequences, [len(row.prompt_ids) for row in rows], tokenizer.pad_token_id
        )
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
        mask = response_mask[:, 1:]
        loss = -(advantages[:, None] * log_probs * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens = sum(len(result.entropies) for result in results)
        log(
            step,
            {
                "critic/score/mean": round(rewards.mean().item(), 4),
                "ccrl/outcome_mean": round(sum(correct) / len(correct), 4),
                "actor/grad_norm": round(grad_norm.item(), 4),
                "actor/entropy": round(sum(sum(result.entropies) for result in results) / max(1, tokens), 5),
                "timing_s/gen": round(timing["gen"], 2),
                "timing_s/step": round(time.perf_counter() - start, 2),
                **step_metrics(masa.take_counts(), group_size=args.samples, batch_size=args.prompts),
            },
        )
        if args.eval_n and args.eval_every and step % args.eval_every == 0 and step < args.steps:
            log_eval(step)
    if args.eval_n:
        log_eval(args.steps)
    if args.save:
        model.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
    return records


def masa_config(args: argparse.Namespace) -> MasaConfig:
    """The skip's settings from the command line; the return draws are seeded by the run's seed."""
    return MasaConfig(
        skip_predicted_zero_variance=args.skip,
        skip_history=args.skip_history,
        skip_return_prob=args.skip_return_prob,
        seed=args.seed,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m toy_world.grpo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="start model directory (a CoMT-SFT checkpoint)")
    parser.add_argument("--steps", type=int, default=40, help="GRPO steps (one optimizer step each)")
    parser.add_argument("--prompts", type=int, default=16, help="prompts per step")
    parser.add_argument("--samples", type=int, default=16, help="samples per prompt (the GRPO group)")
    parser.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate, constant")
    parser.add_argument(
        "--reward", choices=REWARDS, default="outcome", help="outcome-only, or CCRL with this shaping (CCRLConfig)"
    )
    parser.add_argument("--no-std", action="store_true", help="GRPO advantages without the std division")
    parser.add_argument("--seed", type=int, default=1, help="seed of the prompt order and of every sample")
    parser.add_argument("--data-seed", type=int, default=RL_DATA_SEED, help="seed of the train-split RL problems")
    parser.add_argument("--n-problems", type=int, default=1000, help="RL problems to draw prompts from")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="response budget (sampling and evaluation)")
    parser.add_argument("--eval-every", type=int, default=10, help="greedy evaluation every N steps (0: start, end)")
    parser.add_argument("--eval-n", type=int, default=100, help="ID problems per evaluation (0: no evaluation)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    masa = MasaConfig()
    parser.add_argument(
        "--zero-variance-filter", choices=FILTER_METRICS, default="off",
        help="MASA's filter (the recipes' ZERO_VARIANCE_FILTER): evict groups whose outcomes (or rewards) are all "
        "equal and refill, two prompts per eviction, as verl's replay buffer does",
    )  # fmt: skip
    parser.add_argument(
        "--max-gen-batches", type=int, default=10, help="the filter's cap: batches of prompts one step may generate"
    )
    parser.add_argument(
        "--skip", action="store_true",
        help="MASA's skip (SKIP_PREDICTED_ZERO_VARIANCE=1): " + MasaConfig.help()["skip_predicted_zero_variance"],
    )  # fmt: skip
    parser.add_argument("--skip-history", type=int, default=masa.skip_history, help=MasaConfig.help()["skip_history"])
    parser.add_argument(
        "--skip-return-prob", type=float, default=masa.skip_return_prob, help=MasaConfig.help()["skip_return_prob"]
    )
    parser.add_argument("--save", help="directory to write the final policy to (Hugging Face format)")
    args = parser.parse_args(argv)
    for name in ("steps", "prompts", "samples", "n_problems", "max_new_tokens", "threads", "max_gen_batches"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} must be >= 1.")
    if args.samples < 2:
        parser.error(f"--samples={args.samples}: a GRPO group needs at least 2 samples to compare.")
    if args.prompts > args.n_problems:
        parser.error(f"--prompts={args.prompts} exceeds --n-problems={args.n_problems}; lower it or draw more.")
    try:
        masa_config(args)
    except (TypeError, ValueError) as error:
        parser.error(str(error).replace("masa.skip_", "--skip-").replace("_", "-"))
    return args


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
