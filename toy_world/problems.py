"""Templated multi-step word problems with an in-distribution split and two out-of-distribution splits.

A problem starts with a count and applies 2 to 5 operations to it, one sentence each (``add``: gets more, ``sub``:
gives away, ``mul``: multiplies, ``div``: splits into equal piles and keeps one); every value, given or computed, is
a whole number from 1 to 200. The splits differ in which operation sequences they draw:

============= ======= ==========================================================================================
split         steps   operation sequences
============= ======= ==========================================================================================
``train``     2-3     every consecutive pair of operations is an in-distribution pair (all but :data:`HELD_OUT_PAIRS`)
``test``      2-3     the same distribution as ``train``; problems are assigned to train or test by a hash of
                      their operations and values, so no problem is in both
``ood_combo`` 2-3     at least one consecutive pair is a held-out pair: an operation combination ID never shows
``ood_steps`` 4-5     only in-distribution pairs, but more steps than ID ever has
============= ======= ==========================================================================================

Each problem carries three solutions: ``cot`` (a chain of thought: each step's arithmetic with the numbers computed,
then ``#### answer``), ``comt_plan`` (the meta-thought: every given quantity named as a variable and every step
written as a formula over variables, computing no number; it passes ``data_prep``'s CoMT validation) and ``comt``
(the plan followed by its execution, the same arithmetic as the CoT, then ``#### answer``: the target a model
trained from scratch needs, since it cannot execute a plan it was never shown executing).

Example::

    >>> problem = generate_problems("train", 1, seed=0)[0]
    >>> print(problem.question)
    Sara has 31 cookies. Then Sara makes the cookies 5 times as many. Then Sara gets 41 more cookies. How many cookies does Sara have now?
    >>> print(problem.cot)
    After multiplying: 31 * 5 = 155.
    After getting more: 155 + 41 = 196.
    #### 196
    >>> print(problem.comt)
    Plan:
    start = 31
    first_factor = 5
    first_total = start * first_factor
    second_change = 41
    second_total = first_total + second_change
    answer = second_total
    Execution:
    first_total = 31 * 5 = 155
    second_total = 155 + 41 = 196
    #### 196
    >>> problem.answer, problem.reference_values, problem.ops
    ('196', ('155', '196'), ('mul', 'add'))

Deliberately not covered: fractions, negative numbers, zero, units, distractor sentences, several objects.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice, product

__all__ = [
    "HELD_OUT_PAIRS",
    "ID_PAIRS",
    "MAX_VALUE",
    "OPS",
    "SPLITS",
    "ToyProblem",
    "generate_problems",
    "iter_problems",
    "render_problem",
]

OPS = ("add", "sub", "mul", "div")
# Consecutive operation pairs that only the ood_combo split contains: each operation still occurs in ID, in other
# pairs, so an OOD problem tests composition, not an unseen operation.
HELD_OUT_PAIRS = frozenset({("add", "mul"), ("mul", "sub"), ("sub", "div"), ("div", "add")})
ID_PAIRS = frozenset(pair for pair in product(OPS, OPS) if pair not in HELD_OUT_PAIRS)
MAX_VALUE = 200
SPLITS = ("train", "test", "ood_combo", "ood_steps")
_STEPS = {"train": (2, 3), "test": (2, 3), "ood_combo": (2, 3), "ood_steps": (4, 5)}
# One problem in _TEST_SHARE goes to test, the rest to train, by a hash of its operations and values.
_TEST_SHARE = 10
# Distinct seed streams per split, so that a split's problems do not depend on how many another split drew.
_SPLIT_SALT = {"train": 0, "test": 0, "ood_combo": 7_919, "ood_steps": 15_485_863}

NAMES = ("Tom", "Ava", "Liam", "Mia", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sara")
ITEMS = ("apples", "pencils", "marbles", "stickers", "cookies", "books", "coins", "shells")
ORDINALS = ("first", "second", "third", "fourth", "fifth")
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
# Variable-name noun of each operation's given operand in the plan.
_OPERAND = {"add": "change", "sub": "change", "mul": "factor", "div": "piles"}
_QUESTION = {
    "add": "Then {name} gets {b} more {item}.",
    "sub": "Then {name} gives away {b} {item}.",
    "mul": "Then {name} makes the {item} {b} times as many.",
    "div": "Then {name} splits the {item} into {b} equal piles and keeps one pile.",
}
_COT = {"add": "After getting more", "sub": "After giving away", "mul": "After multiplying", "div": "After splitting"}


@dataclass(frozen=True)
class ToyProblem:
    """One generated problem: ``values`` is the start count followed by each step's operand."""

    id: str
    split: str
    ops: tuple[str, ...]
    values: tuple[int, ...]
    name: str
    item: str
    question: str
    cot: str
    comt_plan: str
    comt: str
    answer: str
    reference_values: tuple[str, ...]  # each step's result, in order; the last one is the answer


def _apply(op: str, left: int, right: int) -> int:
    if op == "add":
        return left + right
    if op == "sub":
        return left - right
    if op == "mul":
        return left * right
    return left // right


def _operand(rng: random.Random, op: str, current: int) -> int | None:
    """An operand that keeps the result a whole number in 1..MAX_VALUE, or None when ``current`` allows none."""
    if op == "add":
        high = min(50, MAX_VALUE - current)
        return rng.randint(2, high) if high >= 2 else None
    if op == "sub":
        high = min(50, current - 1)
        return rng.randint(2, high) if high >= 2 else None
    if op == "mul":
        high = min(5, MAX_VALUE // current)
        return rng.randint(2, high) if high >= 2 else None
    divisors = [d for d in range(2, 6) if current % d == 0]
    return rng.choice(divisors) if divisors else None


def _values_for(rng: random.Random, ops: tuple[str, ...]) -> tuple[int, ...] | None:
    current = rng.randint(2, 100)
    values = [current]
    for op in ops:
        operand = _operand(rng, op, current)
        if operand is None:
            return None
        values.append(operand)
        current = _apply(op, current, operand)
    return tuple(values)


def _pairs(ops: tuple[str, ...]) -> list[tuple[str, str]]:
    return list(zip(ops, ops[1:]))


def _sequence_allowed(split: str, ops: tuple[str, ...]) -> bool:
    held_out = [pair for pair in _pairs(ops) if pair in HELD_OUT_PAIRS]
    return bool(held_out) if split == "ood_combo" else not held_out


def _is_test(ops: tuple[str, ...], values: tuple[int, ...]) -> bool:
    digest = hashlib.sha256(f"{ops}|{values}".encode()).digest()
    return digest[0] % _TEST_SHARE == 0


def render_problem(
    problem_id: str, split: str, ops: tuple[str, ...], values: tuple[int, ...], name: str, item: str
) -> ToyProblem:
    """The problem text and its three solutions for given operations and values (see the module example)."""
    results = []
    current = values[0]
    for op, operand in zip(ops, values[1:]):
        current = _apply(op, current, operand)
        results.append(current)
    sentences = [f"{name} has {values[0]} {item}."]
    sentences += [_QUESTION[op].format(name=name, b=b, item=item) for op, b in zip(ops, values[1:])]
    sentences.append(f"How many {item} does {name} have now?")
    question = " ".join(sentences)

    plan = ["Plan:", f"start = {values[0]}"]
    execution = ["Execution:"]
    cot = []
    previous_name, previous_value = "start", values[0]
    for ordinal, op, operand, result in zip(ORDINALS, ops, values[1:], results):
        operand_name, total_name = f"{ordinal}_{_OPERAND[op]}", f"{ordinal}_total"
        symbol = _SYMBOL[op]
        plan += [f"{operand_name} = {operand}", f"{total_name} = {previous_name} {symbol} {operand_name}"]
        arithmetic = f"{previous_value} {symbol} {operand} = {result}"
        execution.append(f"{total_name} = {arithmetic}")
        cot.append(f"{_COT[op]}: {arithmetic}.")
        previous_name, previous_value = total_name, result
    plan.append(f"answer = {previous_name}")
    answer = str(results[-1])
    comt_plan = "\n".join(plan)
    return ToyProblem(
        id=problem_id,
        split=split,
        ops=tuple(ops),
        values=tuple(values),
        name=name,
        item=item,
        question=question,
        cot="\n".join(cot + [f"#### {answer}"]),
        comt_plan=comt_plan,
        comt="\n".join([comt_plan] + execution + [f"#### {answer}"]),
        answer=answer,
        reference_values=tuple(str(result) for result in results),
    )


def iter_problems(split: str, seed: int = 0) -> Iterator[ToyProblem]:
    """The endless, deterministic stream of ``split``'s problems for ``seed`` (what :func:`generate_problems` cuts)."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is unknown. Choose one of: {', '.join(SPLITS)}.")
    rng = random.Random(f"toy_world|{seed}|{_SPLIT_SALT[split]}")
    low, high = _STEPS[split]
    count = 0
    while True:
        ops = tuple(rng.choice(OPS) for _ in range(rng.randint(low, high)))
        if not _sequence_allowed(split, ops):
            continue
        values = _values_for(rng, ops)
        if values is None:
            continue
        name, item = rng.choice(NAMES), rng.choice(ITEMS)
        if split in ("train", "test") and _is_test(ops, values) != (split == "test"):
            continue
        yield render_problem(f"{split}-{seed}-{count}", split, ops, values, name, item)
        count += 1


def generate_problems(split: str, n: int, seed: int = 0) -> list[ToyProblem]:
    """The first ``n`` problems of ``split`` for ``seed``: deterministic, and the first ``n`` of a longer list.

    >>> [p.ops for p in generate_problems("ood_combo", 3, seed=1)]
    [('sub', 'div'), ('div', 'add'), ('add', 'add', 'mul')]
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be an int >= 0 (the number of problems).")
    return list(islice(iter_problems(split, seed), n))
