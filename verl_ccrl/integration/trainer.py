"""The ``ccrl`` trainer: verl's synchronous V1 PPO trainer plus CCRL's step metrics and token placement.

Selected with ``trainer.v1.trainer_mode=ccrl`` (``python -m verl_ccrl.main_ppo`` sets it). Narrow overrides of
``verl.trainer.ppo.v1.trainer_base.PPOTrainer`` (verl 0.9.1), nothing of ``fit()`` copied, plus MASA's switches
(:class:`verl_ccrl.integration.masa.MasaTrainerMixin`: the ``masa/*`` step metrics, the skip before rollout):
- ``__init__``: refuses set-ups where the rollout's entropies cannot reach the reward, and runs the rest of verl
  as ``trainer_mode=sync`` (verl branches on that string for its replay buffer).
- ``_init_dataloader``: refuses a step count the epochs would cut short (:func:`check_step_budget`).
- ``_build_replay_buffer``: the buffer's poll interval and sample order (CPU runs).
- ``_compute_metrics``: adds the ``ccrl/*`` metrics from each response's ``reward_extra_info``.
- ``_compute_advantage`` (after verl's old-log-prob pass, which computes the actor's exact entropies): logs
  ``ccrl/entropy_gap_mean`` (rollout vs actor entropy at judged numbers' tokens); with ``ccrl.entropy_source=actor``
  recomputes every number's term from the actor's entropies; with ``ccrl.token_level_rewards`` puts each term on
  its number's last token (verl's agent loop put the whole reward on the last token). Then verl computes advantages.
  Its metrics go into the ``metrics`` dict verl hands that step, which verl merges into the step's log itself:
  nothing passes from one override to the other.
"""

from __future__ import annotations

import copy

import torch
import transfer_queue as tq
from omegaconf import open_dict
from tensordict import TensorDict
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from verl_ccrl.config import CCRLConfig
from verl_ccrl.entropy import ENTROPY_FIELD
from verl_ccrl.integration.agent_loop import SEEDED_AGENT_LOOP, VERL_DEFAULT_AGENT_LOOP
from verl_ccrl.integration.masa import MasaTrainerMixin, reward_infos
from verl_ccrl.metrics import reward_info_metrics
from verl_ccrl.reward import place_token_rewards
from verl_ccrl.reward_info import decode, is_encoded

__all__ = ["CCRLTrainer", "bypass_mode", "check_entropy_channel", "check_step_budget"]


def bypass_mode(config) -> bool:
    """Whether verl skips its old-log-prob pass (``algorithm.rollout_correction.bypass_mode``), so the actor computes
    no entropies (``trainer_base.py:1641``)."""
    return bool((config.algorithm.get("rollout_correction", None) or {}).get("bypass_mode", False))


def check_entropy_channel(config) -> None:
    """Fail at start-up where the entropies cannot reach the reward: verl would not carry the rollout's
    ``extra_fields`` to it, or (``ccrl.entropy_source=actor``) verl skips the actor pass that computes them."""
    # CCRLConfig owns the default: a run without a ccrl block (verl's own main_ppo) reads the actor's entropies.
    source = CCRLConfig.from_mapping(config.get("ccrl")).entropy_source
    if source == "actor" and bypass_mode(config):
        raise ValueError(
            "ccrl.entropy_source=actor reads the actor's entropies from verl's old-log-prob pass, which "
            "algorithm.rollout_correction.bypass_mode=True skips. Use ccrl.entropy_source=rollout (with "
            "actor_rollout_ref.rollout.name=vllm_ccrl) or turn bypass_mode off."
        )
    rollout = config.actor_rollout_ref.rollout
    if rollout.get("multi_turn", {}).get("enable", False):
        raise ValueError(
            "CCRL scores single-turn responses: with actor_rollout_ref.rollout.multi_turn.enable=True the response "
            "mixes tool output with several generations, and the per-token entropies cover only the last one. Set "
            "actor_rollout_ref.rollout.multi_turn.enable=False."
        )
    agent_loop = rollout.get("agent", {}).get("default_agent_loop", VERL_DEFAULT_AGENT_LOOP)
    if agent_loop not in (VERL_DEFAULT_AGENT_LOOP, SEEDED_AGENT_LOOP):
        raise ValueError(
            f"CCRL needs actor_rollout_ref.rollout.agent.default_agent_loop={VERL_DEFAULT_AGENT_LOOP} (got "
            f"{agent_loop!r}): only verl's single-turn loop (or {SEEDED_AGENT_LOOP}, the same loop with per-sample "
            "seeds) passes the rollout's extra_fields (the entropies) to the reward unchanged."
        )
    reward_model = config.reward.reward_model
    if reward_model.get("enable", False) and not reward_model.get("enable_resource_pool", False):
        raise ValueError(
            "CCRL computes rewards in the agent loop, where the entropies are; a colocated reward model "
            "(reward.reward_model.enable=True without enable_resource_pool) scores in the trainer without them. "
            "Set reward.reward_model.enable_resource_pool=True or disable the reward model."
        )


def check_step_budget(
    total_training_steps: int | None, total_epochs: int, dataset_size: int, train_batch_size: int
) -> None:
    """Fail at start-up where verl's loop would end before ``trainer.total_training_steps``.

    verl's V1 loop runs while ``epoch < trainer.total_epochs and step <= total_training_steps``
    (``trainer_base.py:467``), an epoch being ``dataset_size // train_batch_size`` steps (``:765``). When the epochs
    run out first it leaves the loop on a step that is not its last, so it neither saves a checkpoint nor validates
    (``:480-495``): the run is lost, silently. E.g. 64 prompts, batches of 16 (4 steps an epoch), 1 epoch, 40 steps:
    error, raise ``trainer.total_epochs`` to 10. ``total_training_steps=None`` means the epochs decide: fine.
    """
    steps_per_epoch = dataset_size // train_batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"the training data has {dataset_size} prompts, fewer than data.train_batch_size={train_batch_size}: "
            "not one step can be formed. Use more training prompts or a smaller data.train_batch_size."
        )
    if total_training_steps is None or total_training_steps <= steps_per_epoch * total_epochs:
        return
    needed = -(-total_training_steps // steps_per_epoch)
    raise ValueError(
        f"trainer.total_training_steps={total_training_steps} needs {needed} epochs of {steps_per_epoch} steps "
        f"({dataset_size} prompts // data.train_batch_size={train_batch_size}), but trainer.total_epochs="
        f"{total_epochs} ends the run after {steps_per_epoch * total_epochs} steps, without saving or validating the "
        f"last one. Set trainer.total_epochs={needed} (or more), or trainer.total_training_steps="
        f"{steps_per_epoch * total_epochs}."
    )


@register_trainer("ccrl")
class CCRLTrainer(MasaTrainerMixin, PPOTrainerSync):
    """verl's sync PPO trainer with CCRL metrics, per-number token rewards and MASA's switches."""

    def __init__(self, config):
        check_entropy_channel(config)
        self.ccrl_config = CCRLConfig.from_mapping(config.get("ccrl"))
        config = copy.deepcopy(config)
        with open_dict(config):
            config.trainer.v1.trainer_mode = "sync"
        super().__init__(self._masa_init(config))

    def _init_dataloader(self):
        super()._init_dataloader()
        check_step_budget(
            self.config.trainer.total_training_steps,
            self.config.trainer.total_epochs,
            len(self.train_dataset),
            self.config.data.train_batch_size,
        )

    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        # verl's buffer checks for finished rollouts every 2 s (v1/replay_buffer.py:144, 409), so a step's gen time
        # is rounded up to a multiple of 2 s: on the CPU toy world that is most of a step. A run may poll faster.
        poll_interval = self.config.trainer.v1.sampler.get("poll_interval")
        if poll_interval is not None and hasattr(buffer, "poll_interval"):
            buffer.poll_interval = float(poll_interval)
        if self.config.actor_rollout_ref.rollout.get("full_determinism", False) and hasattr(buffer, "in_sample_order"):
            buffer.in_sample_order = True
        return buffer

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        non_padding = [not tag.get("is_padding", False) for tag in batch.tags]
        all_infos = reward_infos(batch.keys, batch.partition_id)
        infos = [info for info, keep in zip(all_infos, non_padding) if keep]
        metrics.update(reward_info_metrics(infos, thresholds=self.ccrl_config.overconfidence_thresholds))
        metrics.update(self._masa_metrics(batch, all_infos))

    def _compute_advantage(self, batch, metrics):
        metrics.update(self._rewrite_rewards(batch))
        return super()._compute_advantage(batch, metrics)

    def _rewrite_rewards(self, batch) -> dict[str, float]:
        """Rescore from the actor's entropies and/or place number terms on their tokens; returns the entropy gap and
        (``entropy_source=actor``) the ``ccrl/actor/*`` metrics."""
        actor_mode = self.ccrl_config.entropy_source == "actor"
        rescoring_metrics: dict[str, float] = {}
        fields = ["rm_scores", "extra_fields"]
        # verl's old-log-prob pass wrote the actor's exact entropies (trainer_base.py:1666), unless bypassed.
        has_actor_entropy = not bypass_mode(self.config)
        if has_actor_entropy:
            fields.append("entropy")
        if not (actor_mode or self.ccrl_config.token_level_rewards or has_actor_entropy):
            return rescoring_metrics
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
        rows = list(data["rm_scores"].unbind())
        extra_fields = data.pop("extra_fields").tolist()
        actor_rows = list(data["entropy"].unbind()) if has_actor_entropy else [None] * len(rows)
        rewritten, gaps, actor_records = [], [], []
        for row, fields_of_sample, actor_entropy in zip(rows, extra_fields, actor_rows):
            fields_of_sample = fields_of_sample if isinstance(fields_of_sample, dict) else {}
            encoded = fields_of_sample.get("reward_extra_info")
            record = decode(encoded) if is_encoded(encoded) else None  # None: not scored by the ccrl manager
            total = float(row.sum())
            actor = actor_entropy.float().tolist() if actor_entropy is not None else None
            rollout = fields_of_sample.get(ENTROPY_FIELD)
            if record is not None and actor is not None and rollout is not None and len(rollout) == len(actor):
                tokens = sorted({index for number in record.numbers for index in number.token_indices})
                gaps.extend(abs(actor[index] - float(rollout[index])) for index in tokens)
            if record is not None and actor_mode and actor is not None:
                record = record.rescored(actor, self.ccrl_config)
                total = record.outcome + record.confidence_term
                actor_records.append(record)
            # Without token-level rewards the whole total stays on the last token, as verl put it.
            terms = record.token_terms() if record is not None and self.ccrl_config.token_level_rewards else []
            rewritten.append(torch.tensor(place_token_rewards(row.numel(), total, terms), dtype=torch.float32))
        if gaps:
            rescoring_metrics["ccrl/entropy_gap_mean"] = sum(gaps) / len(gaps)
            rescoring_metrics["ccrl/entropy_gap_max"] = max(gaps)
        if actor_records:
            actor_metrics = reward_info_metrics(actor_records, thresholds=self.ccrl_config.overconfidence_thresholds)
            rescoring_metrics.update(
                {key.replace("ccrl/", "ccrl/actor/"): value for key, value in actor_metrics.items()}
            )
        nested = torch.nested.as_nested_tensor(rewritten, layout=torch.jagged)
        tq.kv_batch_put(
            keys=batch.keys,
            partition_id=batch.partition_id,
            fields=TensorDict({"rm_scores": nested}, batch_size=len(rows)),
        )
        return rescoring_metrics
