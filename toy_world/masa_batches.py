"""MASA's two switches in the plain GRPO twin (``toy_world.grpo``), as verl's trainer applies them (docs/masa.md).

- The skip (``--skip``): before generation, a prompt whose last ``skip_history`` groups were all correct or all
  wrong is held back (``verl_ccrl.masa.PromptHistory``, the rule the ``ccrl`` trainer uses) and the next prompt is
  drawn instead, so the batch stays full; each time it comes up it returns with probability ``skip_return_prob``.
- The filter (``--zero-variance-filter outcome|reward``): after scoring, a group whose values are all equal
  (``verl_ccrl.masa.zero_variance``, verl's rule) is evicted and two prompts are drawn for each eviction, as verl's
  replay buffer refills (``replay_buffer.py:475``), round after round until the batch holds ``prompts`` groups of
  mixed values; groups past that are discarded (verl's surplus). verl refills asynchronously, here in rounds.

Replacement and refill prompts, and the sampling seeds of refills, come from a stream of their own, so the step's
batch and sampling seeds are those of the run without switches until a switch acts. Every finished group (updated,
evicted or discarded) updates the history and the ``masa/*`` counts (``verl_ccrl.masa.STEP_COUNTS``).

    >>> from verl_ccrl.masa import MasaConfig
    >>> batches = MasaBatches(["a", "b", "c"], MasaConfig(skip_predicted_zero_variance=True, skip_history=1,
    ...                       skip_return_prob=0.0), filter_metric="off", max_gen_batches=10, seed=1)
    >>> batches.observe("a", [True, True]); batches.admitted(["a"]) != ["a"]
    True
    >>> batches.counts["skipped_prompts"]
    1
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from verl_ccrl.masa import MasaConfig, PromptHistory, zero_variance

__all__ = ["FILTER_METRICS", "Group", "MasaBatches"]

# --zero-variance-filter's values: verl's filter judged on the outcome or on the shaped reward (the recipes'
# ZERO_VARIANCE_FILTER), or off.
FILTER_METRICS = ("off", "outcome", "reward")


@dataclass
class Group:
    """One prompt's finished GRPO group: its responses' rewards, correctness and token counts (and whatever the
    update needs, in ``payload``)."""

    prompt: Hashable
    rewards: list[float]
    correct: list[bool]
    tokens: int
    payload: object = None


class MasaBatches:
    """Which prompts a step generates and which groups it updates on, with the step's ``masa/*`` counts."""

    def __init__(
        self, prompts: Sequence[Hashable], config: MasaConfig, *, filter_metric: str, max_gen_batches: int, seed: int
    ) -> None:
        if filter_metric not in FILTER_METRICS:
            raise ValueError(f"filter_metric={filter_metric!r} is not one of {FILTER_METRICS}.")
        self.prompts = list(prompts)
        self.history = PromptHistory(config)
        self.filter_metric = filter_metric
        self.max_gen_batches = max_gen_batches
        self.rng = random.Random(f"masa-{seed}")
        self.counts: Counter = Counter()

    def admitted(self, batch: Sequence[Hashable], *, used: set | None = None) -> list[Hashable]:
        """``batch`` with each held-back prompt replaced by the next admitted one, drawn from the other prompts. After
        a dataset's worth of draws for one place the last draw is taken (verl's trainer does the same)."""
        used = set(batch) if used is None else used | set(batch)
        chosen = []
        for prompt in batch:
            for _ in range(len(self.prompts)):
                if self._admit(prompt):
                    break
                self.counts["skipped_prompts"] += 1
                prompt = self._draw(used)
            used.add(prompt)
            chosen.append(prompt)
        return chosen

    def step_groups(self, batch: Sequence[Hashable], generate: Callable[[list, random.Random | None], list[Group]],
                    *, batch_size: int) -> list[Group]:  # fmt: skip
        """Generate ``batch`` (sampling seeds from the caller's stream: ``generate(prompts, None)``), filter and refill
        (seeds from this stream: ``generate(prompts, rng)``), and return the groups the update trains on: all of the
        batch's with the filter off, else ``batch_size`` groups of mixed values."""
        used = set(batch)
        groups = self._finished(generate(list(batch), None))
        if self.filter_metric == "off":
            return groups
        kept = [group for group in groups if not self._evicted(group)]
        pending = 2 * (len(groups) - len(kept))
        while len(kept) < batch_size:
            pending = max(pending, batch_size - len(kept))
            if batch_size + self.counts["refill_prompts"] + pending > self.max_gen_batches * batch_size:
                raise RuntimeError(
                    f"the zero-variance filter evicted {self.counts['filtered_groups']} groups this step and would "
                    f"need more than max_gen_batches={self.max_gen_batches} batches of {batch_size} prompts to refill; "
                    "raise --max-gen-batches (MAX_NUM_GEN_BATCHES), or turn the filter off for prompts this uniform."
                )
            drawn = []
            for _ in range(pending):
                drawn.append(self._draw(used))
                used.add(drawn[-1])
            refill = self.admitted(drawn, used=used)
            used.update(refill)
            self.counts["refill_prompts"] += len(refill)
            new = self._finished(generate(refill, self.rng))
            mixed = [group for group in new if not self._evicted(group)]
            pending = 2 * (len(new) - len(mixed))
            kept += mixed
        self.counts["discarded_groups"] += len(kept) - batch_size
        return kept[:batch_size]

    def observe(self, prompt: Hashable, correct: Sequence[bool]) -> None:
        """Record one finished group of ``prompt`` in the history."""
        self.history.observe(str(prompt), [1.0 if value else 0.0 for value in correct])

    def take_counts(self) -> Counter:
        """The step's counts, reset for the next step."""
        counts, self.counts = self.counts, Counter()
        return counts

    def _admit(self, prompt: Hashable) -> bool:
        decision = self.history.decide(str(prompt))
        self.counts["returned_prompts"] += int(decision == "return")
        return decision != "skip"

    def _draw(self, used: set) -> Hashable:
        unused = [prompt for prompt in self.prompts if prompt not in used]
        return self.rng.choice(unused or self.prompts)

    def _finished(self, groups: list[Group]) -> list[Group]:
        for group in groups:
            self.observe(group.prompt, group.correct)
            self.counts["generated_groups"] += 1
            self.counts["generated_responses"] += len(group.correct)
            self.counts["generated_tokens"] += group.tokens
        return groups

    def _evicted(self, group: Group) -> bool:
        values = group.rewards if self.filter_metric == "reward" else [float(value) for value in group.correct]
        if not zero_variance(values):
            return False
        self.counts["filtered_groups"] += 1
        self.counts["filtered_all_correct"] += int(all(group.correct))
        self.counts["filtered_all_wrong"] += int(not any(group.correct))
        return True
