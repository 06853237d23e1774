"""Train a toy-world base model from scratch in plain PyTorch, and measure greedy accuracy per split.

The model is trained on chat-formatted toy problems (the student prompt of ``data_prep``: question, blank line,
instruction) with the loss on the assistant turn only: ``--form cot`` (chains of thought), ``comt`` (plan then
execution) or ``mix`` (each problem in one of the two, by a seeded coin: a base for either SFT). Training problems
are an endless stream of the ``train`` split; evaluation uses the first ``--eval-n`` problems of ``test``,
``ood_combo`` and ``ood_steps`` (seed 0, disjoint from train by construction). ``--init DIR`` continues from a saved
model (the SFT stage on top of a base).

Reproducibility: one seed drives the weights, the data and the form coin; with ``--threads 1`` and the same torch
build, two runs give bit-identical weights (tested). Training CPU-seconds (``time.process_time``) exclude
evaluation and are what the budget flags compare: wall-clock time depends on what else runs on the machine.

    python -m toy_world.train --out outputs/toy_base --size s --form mix --steps 1500 --eval-every 250

Writes ``OUT/`` (model and tokenizer, loadable by verl and transformers) and ``OUT/metrics.jsonl``, one line per
evaluation: step, training CPU-seconds, loss, accuracy per split, and the share of responses in CoMT form.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from itertools import islice

from data_prep.prompts import STUDENT_INSTRUCTION
from toy_world.problems import ToyProblem, generate_problems, iter_problems

__all__ = ["evaluate", "main", "prompt_text", "train"]

EVAL_SPLITS = ("test", "ood_combo", "ood_steps")
FORMS = ("cot", "comt", "mix")


def prompt_text(question: str) -> str:
    """The student prompt rendered by the toy chat template, ending where the assistant's answer starts."""
    return f"<|im_start|>user\n{question}\n\n{STUDENT_INSTRUCTION}<|im_end|>\n<|im_start|>assistant\n"


def _target(problem: ToyProblem, form: str, rng: random.Random) -> str:
    if form == "mix":
        form = "comt" if rng.random() < 0.5 else "cot"
    return problem.comt if form == "comt" else problem.cot


def _batch(tokenizer, problems: list[ToyProblem], form: str, rng: random.Random):
    import torch

    prompts = tokenizer([prompt_text(p.question) for p in problems], add_special_tokens=False)["input_ids"]
    targets = tokenizer([_target(p, form, rng) + "<|im_end|>" for p in problems], add_special_tokens=False)["input_ids"]
    length = max(len(p) + len(t) for p, t in zip(prompts, targets))
    input_ids = torch.full((len(problems), length), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(problems), length), -100, dtype=torch.long)
    attention = torch.zeros((len(problems), length), dtype=torch.long)
    for row, (prompt, target) in enumerate(zip(prompts, targets)):
        ids = prompt + target
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, len(prompt) : len(ids)] = torch.tensor(target)
        attention[row, : len(ids)] = 1
    return input_ids, attention, labels


def evaluate(model, tokenizer, problems: list[ToyProblem], *, batch_size: int = 100, max_new_tokens: int = 256):
    """Greedy accuracy of ``model`` on ``problems``: ``(accuracy, share of responses in CoMT form, responses)``."""
    import torch

    from verl_ccrl.answer import extract_final_answer, is_answer_correct

    tokenizer.padding_side = "left"
    responses: list[str] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(problems), batch_size):
            chunk = problems[start : start + batch_size]
            encoded = tokenizer(
                [prompt_text(p.question) for p in chunk], add_special_tokens=False, padding=True, return_tensors="pt"
            )
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            responses += tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    model.train()
    correct = sum(is_answer_correct(extract_final_answer(r), p.answer) for r, p in zip(responses, problems))
    comt = sum(r.startswith("Plan:") for r in responses)
    return correct / max(1, len(problems)), comt / max(1, len(responses)), responses


def train(args: argparse.Namespace) -> list[dict]:
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    from toy_world.model import build_model, save

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.init:
        model = Qwen2ForCausalLM.from_pretrained(args.init)
        tokenizer = AutoTokenizer.from_pretrained(args.init)
    else:
        model, tokenizer = build_model(args.size, seed=args.seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = min(args.warmup, args.steps)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    stream = iter_problems("train", seed=args.seed + args.data_offset)
    form_rng = random.Random(args.seed)
    eval_sets = {split: generate_problems(split, args.eval_n, seed=0) for split in EVAL_SPLITS}
    os.makedirs(args.out, exist_ok=True)
    metrics_path = os.path.join(args.out, "metrics.jsonl")
    open(metrics_path, "w").close()
    records: list[dict] = []
    train_cpu, losses = 0.0, []
    wall_start = time.time()
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}", flush=True)

    def log_eval(step: int) -> None:
        record = {
            "step": step,
            "train_cpu_s": round(train_cpu, 1),
            "wall_s": round(time.time() - wall_start, 1),
            "loss": round(sum(losses) / max(1, len(losses)), 4),
        }
        eval_cpu = time.process_time()
        for split, problems in eval_sets.items():
            accuracy, comt_share, _ = evaluate(model, tokenizer, problems, max_new_tokens=args.max_new_tokens)
            record[f"acc_{split}"] = round(accuracy, 4)
            record[f"comt_share_{split}"] = round(comt_share, 3)
        record["eval_cpu_s"] = round(time.process_time() - eval_cpu, 1)
        losses.clear()
        records.append(record)
        with open(metrics_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)

    for step in range(args.steps):
        tick = time.process_time()
        input_ids, attention, labels = _batch(tokenizer, list(islice(stream, args.batch)), args.form, form_rng)
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        train_cpu += time.process_time() - tick
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            log_eval(step + 1)
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save(model, tokenizer, os.path.join(args.out, f"step_{step + 1}"))
    if args.eval_n:
        log_eval(args.steps)
    save(model, tokenizer, args.out)
    return records


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from toy_world.model import SIZES

    parser = argparse.ArgumentParser(prog="python -m toy_world.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for the model, tokenizer and metrics.jsonl")
    parser.add_argument("--size", choices=sorted(SIZES), default="s", help="model size (toy_world.model.SIZES)")
    parser.add_argument("--init", default=None, help="continue from this saved model instead of a random one")
    parser.add_argument("--form", choices=FORMS, default="mix", help="solution form of the training targets")
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=64, help="problems per step")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (warmup, then cosine to 10%%)")
    parser.add_argument("--warmup", type=int, default=50, help="linear warmup steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, the training stream and the coin")
    parser.add_argument("--data-offset", type=int, default=0, help="added to the seed of the training stream only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 for bit-for-bit reproducibility)")
    parser.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0: only at the end)")
    parser.add_argument("--eval-n", type=int, default=200, help="problems per evaluation split (0: no evaluation)")
    parser.add_argument("--save-every", type=int, default=0, help="also save the model to OUT/step_N every N steps")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="greedy generation length in evaluation")
    args = parser.parse_args(argv)
    for name in ("steps", "batch", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} must be >= 1.")
    return args


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
