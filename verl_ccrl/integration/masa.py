"""MASA's efficiency switches in verl 0.9.1's V1 trainer: step metrics of verl's group filter, its refill cap, and
the skip of prompts predicted to teach nothing (docs/masa.md: the seams and why).

- After rollout, verl's own filter (``algorithm.filter_groups``, ``trainer/ppo/v1/replay_buffer.py:261``) evicts
  zero-variance groups and refills (``:475``, two prompts per evicted group); the ``ccrl`` reward manager writes
  the outcome it judges by (``verl_ccrl.masa.OUTCOME_METRIC``). Nothing of it is re-implemented here. :class:`ObservedReplayBuffer` is verl's
  replay buffer with one override: before it clears groups (filtered, or surplus after a refill) it reports their
  outcomes and token counts, which would otherwise vanish unseen.
- verl's V1 buffer ignores ``algorithm.filter_groups.max_num_gen_batches`` (``trainer_base.py:205``) and would
  refill forever if every group is filtered; :class:`MasaTrainerMixin` honours it and fails naming the fix.
- Before rollout: every prompt the trainer generates comes from ``PPOTrainer._fetch_one_gen_batch``
  (``trainer_base.py:1466``: the step's batch and every refill), so :class:`MasaTrainerMixin` holds a predicted
  zero-variance prompt back there (``verl_ccrl.masa.PromptHistory``) and fetches the next one instead.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import transfer_queue as tq
from omegaconf import open_dict
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer
from verl.utils import tensordict_utils as tu

from verl_ccrl.masa import (
    CORRECT_FIELD,
    OUTCOME_METRIC,
    MasaConfig,
    PromptHistory,
    group_outcome,
    prompt_key,
    step_metrics,
)

__all__ = ["MasaTrainerMixin", "ObservedReplayBuffer", "check_masa_config", "masa_config_of"]

logger = logging.getLogger(__name__)

TRAIN = "train"


def masa_config_of(config) -> MasaConfig:
    return MasaConfig.from_mapping(config.get("masa"))


def filter_settings(config) -> tuple[bool, str | None, int]:
    """verl's group-filter switch, metric and generation-batch cap, as the run configures them."""
    filter_groups = config.algorithm.get("filter_groups", None) or {}
    enabled = bool(filter_groups.get("enable", False))
    return enabled, filter_groups.get("metric", None), int(filter_groups.get("max_num_gen_batches", 0) or 0)


def check_masa_config(config) -> MasaConfig:
    """Start-up checks of the zero-variance filter and the skip; errors name the key, the value and the fix."""
    masa = masa_config_of(config)
    filtering, metric, _cap = filter_settings(config)
    n = int(config.actor_rollout_ref.rollout.get("n", 1))
    if (filtering or masa.skip_predicted_zero_variance) and n < 2:
        switch = "algorithm.filter_groups.enable=True" if filtering else "masa.skip_predicted_zero_variance=True"
        raise ValueError(
            f"{switch} judges groups of responses to one prompt, and actor_rollout_ref.rollout.n={n} makes a group of "
            f"one (verl never filters it; the skip would hold back every prompt). Set actor_rollout_ref.rollout.n "
            f">= 2 (GRPO), or turn the switch off (ZERO_VARIANCE_FILTER=off, SKIP_PREDICTED_ZERO_VARIANCE=0)."
        )
    if filtering and metric == OUTCOME_METRIC and config.reward.reward_manager.get("name") != "ccrl":
        raise ValueError(
            f"algorithm.filter_groups.metric={OUTCOME_METRIC} is written by the ccrl reward manager, and "
            f"reward.reward_manager.name={config.reward.reward_manager.get('name')!r} does not write it. Use "
            "reward.reward_manager.name=ccrl or another filter metric."
        )
    sampler = config.trainer.v1.sampler.get("custom_sampler", None) or {}
    if masa.skip_predicted_zero_variance and sampler.get("path"):
        raise ValueError(
            "masa.skip_predicted_zero_variance=True learns from every group verl's built-in replay buffer clears, "
            f"and trainer.v1.sampler.custom_sampler.path={sampler.get('path')!r} replaces that buffer. Remove the "
            "custom sampler or turn the skip off."
        )
    return masa


class ObservedReplayBuffer(ReplayBuffer):
    """verl's sync replay buffer, reporting each group it clears (filtered or surplus) before the group is gone, and
    (``in_sample_order``) handing out a step's samples in an order that does not depend on when each finished."""

    masa_observer = None  # set by MasaTrainerMixin: called with (tags, reward infos, filtered uids)
    in_sample_order = False  # set by the ccrl trainer under rollout.full_determinism

    def _materialize_batch(self, partition_id: str, selected_prompt_uids: list[str], partition_snapshot: dict):
        batch = super()._materialize_batch(partition_id, selected_prompt_uids, partition_snapshot)
        if not self.in_sample_order or not batch.keys:
            return batch
        # verl lists a step's samples in the order they were stored, i.e. finished (replay_buffer.py:399-405), under
        # random prompt uids (trainer_base.py:1476); the loss sums them in that order. Sort by what the sample is.
        fields = tq.kv_batch_get(keys=batch.keys, partition_id=partition_id, select_fields=["index", "raw_prompt"])
        indexes, prompts = fields.pop("index").tolist(), fields.pop("raw_prompt").tolist()
        order = sorted(
            range(len(batch.keys)),
            key=lambda i: (str(indexes[i]), repr(prompts[i]), batch.keys[i].split("_", 1)[1]),
        )
        return KVBatchMeta(
            partition_id=batch.partition_id, keys=[batch.keys[i] for i in order], tags=[batch.tags[i] for i in order]
        )

    def _clear_groups(self, partition_id: str, uids: set[str]) -> None:
        if uids and partition_id == TRAIN and self.masa_observer is not None:
            cache = self._dapo_classification_cache[partition_id]
            filtered = {uid for uid in uids if cache.get(uid) is not None}
            keys = [key for key in self.partitions[partition_id] if key.split("_")[0] in uids]
            tags = [{**self.partitions[partition_id][key], "key": key} for key in keys]
            self.masa_observer(tags, reward_infos(keys, partition_id), filtered)
        super()._clear_groups(partition_id, uids)


def reward_infos(keys: list[str], partition_id: str) -> list[dict]:
    """Each trajectory's ``reward_extra_info`` ({} where there is none), in the order of ``keys``."""
    if not keys:
        return []
    data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=["extra_fields"])
    extra_fields = data.pop("extra_fields").tolist()
    return [(fields or {}).get("reward_extra_info", {}) if isinstance(fields, dict) else {} for fields in extra_fields]


class MasaTrainerMixin:
    """MASA's switches for a V1 ``PPOTrainer`` subclass: call :meth:`_masa_init` before ``PPOTrainer.__init__``."""

    def _masa_init(self, config):
        """Check the settings; returns the config the trainer runs with (one-prompt fetches when skipping)."""
        self.masa_config = check_masa_config(config)
        self.masa_history = PromptHistory(self.masa_config)
        self._masa_prompt_of_uid: dict[str, str] = {}
        self._masa_counts: Counter = Counter()
        self._masa_step_refills = 0
        filtering, _metric, cap = filter_settings(config)
        if filtering and cap > 0:  # shown beside verl's warning that its V1 buffer ignores the key
            logger.warning(
                "ccrl trainer: algorithm.filter_groups.max_num_gen_batches=%d is honoured: a step that needs more than "
                "%d batches of prompts fails, naming the fix, instead of refilling forever.",
                cap,
                cap,
            )
        if self.masa_config.skip_predicted_zero_variance:
            # Each skipped prompt is replaced by the next one: fetch prompts one at a time, as verl's filter does.
            with open_dict(config):
                config.data.gen_batch_size = 1
        return config

    # ---- verl's seams
    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        if type(buffer) is ReplayBuffer:  # the built-in sync buffer, built with all of verl's filter settings
            buffer.__class__ = ObservedReplayBuffer
            buffer.masa_observer = self._masa_observe_cleared
        return buffer

    def prepare_step(self) -> dict:
        self._masa_step_refills = 0
        return super().prepare_step()

    def _add_prompts_to_generate(self, num_prompts: int) -> int:
        """verl's refill (its replay buffer's ``refill_fn``): counted, and capped by ``max_num_gen_batches``."""
        self._masa_step_refills += num_prompts
        self._masa_counts["refill_prompts"] += num_prompts
        _filtering, _metric, cap = filter_settings(self.config)
        batch_size = self.config.data.train_batch_size
        if cap > 0 and batch_size + self._masa_step_refills > cap * batch_size:
            raise RuntimeError(
                f"Step {self.global_steps}: the zero-variance filter has asked for {self._masa_step_refills} "
                f"refill prompts on top of the {batch_size} of the step, more than algorithm.filter_groups."
                f"max_num_gen_batches={cap} batches allow: nearly every group is all-correct or all-wrong. Use "
                "easier/harder data, a larger actor_rollout_ref.rollout.n, raise max_num_gen_batches (0: no cap), "
                "or ZERO_VARIANCE_FILTER=off."
            )
        return super()._add_prompts_to_generate(num_prompts)

    def _fetch_one_gen_batch(self):
        """verl's dataloader fetch, holding back prompts predicted to teach nothing (one prompt per fetch)."""
        passed_over = 0
        while True:
            batch = super()._fetch_one_gen_batch()
            raw_prompts = tu.get(batch, "raw_prompt")
            keys = [prompt_key(_plain(raw)) for raw in raw_prompts]
            if not self.masa_config.skip_predicted_zero_variance:
                self._masa_remember(batch, keys)
                return batch
            (key,) = keys  # one prompt per fetch (data.gen_batch_size=1, set in _masa_init)
            decision = self.masa_history.decide(key)
            # A whole dataset passed over means every prompt is predicted to teach nothing: generate anyway.
            if decision != "skip" or passed_over >= len(self.train_dataset):
                self._masa_counts["returned_prompts"] += int(decision != "generate")
                self._masa_remember(batch, keys)
                return batch
            passed_over += 1
            self._masa_counts["skipped_prompts"] += 1

    # ---- bookkeeping
    def _masa_remember(self, batch, keys: list[str]) -> None:
        for uid, key in zip(list(batch["uid"]), keys, strict=True):
            self._masa_prompt_of_uid[str(uid)] = key

    def _masa_observe_groups(self, tags: list[dict], infos: list[dict], filtered: set[str] = frozenset()) -> None:
        """Record finished groups: their outcomes (the history), responses and tokens (the counts)."""
        outcomes: dict[str, list] = defaultdict(list)
        for tag, info in zip(tags, infos, strict=True):
            uid = tag["key"].split("_")[0]
            outcomes[uid].append(info.get(CORRECT_FIELD))
            self._masa_counts["generated_responses"] += 1
            self._masa_counts["generated_tokens"] += int(tag.get("response_len", 0))
        for uid, values in outcomes.items():
            key = self._masa_prompt_of_uid.pop(uid, None)
            if key is not None:
                self.masa_history.observe(key, values)
            self._masa_counts["generated_groups"] += 1
            if uid in filtered:
                rate = group_outcome(values)
                self._masa_counts["filtered_groups"] += 1
                self._masa_counts["filtered_all_correct"] += int(rate == 1.0)
                self._masa_counts["filtered_all_wrong"] += int(rate == 0.0)

    def _masa_observe_cleared(self, tags: list[dict], infos: list[dict], filtered: set[str]) -> None:
        discarded = {tag["key"].split("_")[0] for tag in tags} - filtered
        self._masa_counts["discarded_groups"] += len(discarded)
        self._masa_observe_groups(tags, infos, filtered)

    def _masa_metrics(self, batch, infos: list[dict]) -> dict[str, float]:
        """The step's ``masa/*`` metrics, after recording the groups that reached the update."""
        rows = [
            ({**tag, "key": key}, info)
            for key, tag, info in zip(batch.keys, batch.tags, infos, strict=True)
            if not tag.get("is_padding", False)
        ]
        self._masa_observe_groups([tag for tag, _ in rows], [info for _, info in rows])
        counts, self._masa_counts = self._masa_counts, Counter()
        n = int(self.config.actor_rollout_ref.rollout.n)
        return step_metrics(counts, group_size=n, batch_size=self.config.data.train_batch_size)


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else value
