"""Drives verl's real V1 trainer pieces for tests/test_masa.py, in its own process (verl's registries, Ray and
TransferQueue are process-global): the ``ccrl`` trainer built from the composed config, its real dataloader,
verl's real replay buffer (sync, group filter on ``ccrl_outcome``) on a real TransferQueue, and a scripted rollout
in place of the model: it writes each prompt's group to TransferQueue as verl's agent loop does
(``trainer/ppo/v1/agent_loop_tq.py:150-227``) with outcomes a script decides. Prints one JSON report.

    python tests/masa_buffer_run.py <workdir>
"""

from __future__ import annotations

import json
import os
import sys

import ray
import torch
import transfer_queue as tq
from omegaconf import OmegaConf
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from verl_ccrl.integration.cpu.overrides import cpu_overrides
from verl_ccrl.integration.cpu.tiny_model import build_tiny_model, build_tiny_rl_parquet
from verl_ccrl.integration.dry_run import compose
from verl_ccrl.integration.masa import reward_infos
from verl_ccrl.masa import prompt_key

N = 2  # responses per prompt
BATCH = 2  # prompts per step


class ScriptedRollout:
    """Writes a finished group per prompt: ``script(prompt index, times generated before)`` -> each response's
    correctness."""

    def __init__(self, script, index_of_key):
        self.script, self.index_of_key, self.generated = script, index_of_key, []

    def generate_sequences(self, batch):
        for uid, raw_prompt in zip(list(batch["uid"]), batch["raw_prompt"], strict=True):
            index = self.index_of_key[prompt_key(raw_prompt.tolist() if hasattr(raw_prompt, "tolist") else raw_prompt)]
            correct = self.script(index, self.generated.count(index))
            self.generated.append(index)
            keys = [f"{uid}_{session}_0" for session in range(N)]
            fields = [
                {
                    "responses": torch.ones(3 + session, dtype=torch.int64),
                    "extra_fields": {"reward_extra_info": {"acc": float(ok), "ccrl_outcome": float(ok)}},
                }
                for session, ok in enumerate(correct)
            ]
            tags = [{"status": "success", "response_len": 3 + session, "global_steps": 1} for session in range(N)]
            tq.kv_batch_put(keys=keys, partition_id="train", fields=list_of_dict_to_tensordict(fields), tags=tags)
            tq.kv_put(key=str(uid), partition_id="train", tag={"status": "finished"})


def main(workdir: str) -> None:
    model = build_tiny_model(os.path.join(workdir, "tiny_model"), seed=0)
    train_file = os.path.join(workdir, "train.parquet")
    build_tiny_rl_parquet(train_file, n=8, seed=0)
    overrides = [
        *cpu_overrides(),
        f"actor_rollout_ref.model.path={model}",
        f"data.train_files={train_file}",
        f"data.val_files={train_file}",
        f"data.train_batch_size={BATCH}",
        "data.shuffle=False",
        "data.max_prompt_length=96",
        "data.max_response_length=16",
        f"actor_rollout_ref.rollout.n={N}",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "algorithm.adv_estimator=grpo",
        "algorithm.filter_groups.enable=True",
        "algorithm.filter_groups.metric=ccrl_outcome",
        "algorithm.filter_groups.max_num_gen_batches=4",
        "masa.skip_predicted_zero_variance=True",
        "masa.skip_history=1",
        "masa.skip_return_prob=0.5",
        "masa.seed=3",
    ]
    config = compose("ppo", overrides)
    OmegaConf.resolve(config)

    # A cluster of its own, whatever else runs Ray on this machine.
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    tq.init(config.transfer_queue)
    import verl_ccrl.integration.trainer as ccrl_trainer

    trainer = ccrl_trainer.CCRLTrainer(config)
    trainer._init_tokenizer()
    trainer._init_dataloader()
    index_of_key = {
        prompt_key(row["raw_prompt"].tolist() if hasattr(row["raw_prompt"], "tolist") else row["raw_prompt"]): i
        for i, row in enumerate(trainer.train_dataset)
    }
    # Even prompts: always all correct. Prompt 1: all wrong the first time, then mixed (it became learnable).
    # Odd prompts 3, 5, 7: mixed.
    rollout = ScriptedRollout(
        lambda index, times: (
            [True] * N if index % 2 == 0 else [False] * N if index == 1 and times == 0 else [True, False]
        ),
        index_of_key,
    )
    trainer.agent_loop_manager = rollout
    decisions = []  # (prompt index, predicted zero-variance, admitted) of each prompt the trainer drew for
    history = trainer.masa_history
    predicted, decide = history.predicted_zero_variance, history.decide

    def recorded_decide(key):
        was_predicted, verdict = predicted(key), decide(key)
        if was_predicted:
            decisions.append((index_of_key[key], True, verdict != "skip"))
        return verdict

    history.decide = recorded_decide
    steps = []
    for step in (1, 2, 3, 4):
        trainer.global_steps = step
        generated_before, decided_before = len(rollout.generated), len(decisions)
        trainer.prepare_step()
        batch, verl_metrics = trainer.replay_buffer.sample(global_steps=step, partition_id="train", batch_size=BATCH)
        infos = reward_infos(batch.keys, "train")
        groups = {}
        for key, info in zip(batch.keys, infos, strict=True):
            groups.setdefault(key.split("_")[0], []).append(info["acc"])
        metrics = trainer._masa_metrics(batch, infos)
        tq.kv_clear(keys=batch.keys, partition_id="train")
        steps.append(
            {
                "generated": rollout.generated[generated_before:],
                "decisions": decisions[decided_before:],
                "sampled_groups": list(groups.values()),
                "masa": metrics,
                "verl": {key: value for key, value in verl_metrics.items() if not key.startswith("_")},
            }
        )
    # Every group all correct: verl's filter refills until algorithm.filter_groups.max_num_gen_batches is spent.
    rollout.script = lambda index, times: [True] * N
    trainer.global_steps = 5
    generated_before = len(rollout.generated)
    try:
        trainer.prepare_step()
        trainer.replay_buffer.sample(global_steps=5, partition_id="train", batch_size=BATCH)
        cap_error = None
    except RuntimeError as error:
        cap_error = str(error)
    # verl's loop would end after total_epochs x (8 prompts // BATCH) = 4 steps, before the 5 asked for.
    OmegaConf.update(trainer.config, "trainer.total_epochs", 1)
    OmegaConf.update(trainer.config, "trainer.total_training_steps", 5)
    try:
        trainer._init_dataloader()
        budget_error = None
    except ValueError as error:
        budget_error = str(error)
    report = {
        "budget_error": budget_error,
        "steps": steps,
        "gen_batch_size": trainer.config.data.gen_batch_size,
        "cap_error": cap_error,
        "generated_under_cap": len(rollout.generated) - generated_before,
    }
    print("REPORT " + json.dumps(report))
    tq.close()
    ray.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
