#!/usr/bin/env bash
# The toy-world study through verl's real trainers, on CPU (DEVICE=cuda for one GPU):
#   committed toy base model -> CoMT SFT and CoT SFT (verl.trainer.sft_trainer) -> for each seed in SEEDS and each
#   variant in VARIANTS, RL with the ccrl reward manager (python -m verl_ccrl.main_ppo, GRPO) from the CoMT SFT
#   checkpoint -> greedy evaluation on the ID split and both OOD splits -> results table (mean +- sd over seeds),
#   calibration table, reliability and overconfidence plots, and the ccrl/* training curves.
#
#   bash recipes/toy_world.sh                      # PRESET=quick; outputs under ./outputs/toy_world_quick
#   PRESET=full bash recipes/toy_world.sh          # 3 seeds x every arm, more RL steps, CoT SFT too
#   PRESET=long ...                                # 10 seeds x 96 steps; sized for recipes/toy_world_plain.sh
#   SEEDS="1 2 3" RL_TOTAL_STEPS=20 bash recipes/toy_world.sh
#   bash recipes/toy_world.sh actor_rollout_ref.actor.optim.lr=5e-5   # extra Hydra overrides go to every RL run
#
# Variants: outcome = alpha = beta = 0 (the baseline every other arm is compared with, seed by seed); ccrl = CCRL
# with (CCRL_ALPHA, CCRL_BETA) and the linear shaping; brier / log = the proper scoring rules; ccrl_nostd = ccrl
# without GRPO's std division. The same seed gives the same numbers (rollout.full_determinism, docs/training.md).
# The base model is BASE_MODEL (default: the committed toy_world/checkpoints/base); when it is missing it is
# trained first with BASE_TRAIN_ARGS (python -m toy_world.train, toy_world/checkpoints/README.md). SFT_MODEL=DIR
# skips SFT and starts RL from DIR.
set -euo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$RECIPE_DIR")
PYTHON=${PYTHON:-python3}
PRESET=${PRESET:-quick}
OUT_DIR=${OUT_DIR:-$PWD/outputs/toy_world_$PRESET}
# The committed base (toy_world/checkpoints/README.md; base_2000 there is a weaker one: docs/toy_world.md says what
# RL did from each).
BASE_MODEL=${BASE_MODEL:-$PROJECT_DIR/toy_world/checkpoints/base}
BASE_TRAIN_ARGS=${BASE_TRAIN_ARGS:-"--size xs --form mix --batch 32 --lr 3e-3 --warmup 100 --steps 3000 --eval-every 1000 --eval-n 100"}

# shellcheck source=recipes/toy_world_settings.sh
source "$RECIPE_DIR/toy_world_settings.sh"
toy_world_preset "$PRESET" || exit 2
toy_world_check_variants || exit 2

export DEVICE=${DEVICE:-cpu} NNODES=1 N_GPUS_PER_NODE=1 LOGGER="[console,file]"
export MODEL_NAME=toy MODEL_PATH=$BASE_MODEL
export DATA_DIR=$OUT_DIR/data EVAL_DIR=$OUT_DIR/data VAL_FILE=$OUT_DIR/data/eval_toy_test.parquet
export CKPT_DIR=$OUT_DIR/checkpoints RESULTS_DIR=$OUT_DIR/results
export SFT_BATCH_SIZE=${SFT_BATCH_SIZE:-16} SFT_MICRO_BATCH_SIZE=${SFT_MICRO_BATCH_SIZE:-16} SFT_MAX_LENGTH=384
export SFT_LR=${SFT_LR:-5e-4}
# RL_TOTAL_STEPS decides the length: as many epochs as steps, so a small N_RL (benchmarks/masa_toy.py's 64 prompts
# are 4 steps an epoch) comes round again instead of ending the run early (verl stops at whichever comes first).
export RL_ESTIMATOR=grpo RL_EPOCHS=$RL_TOTAL_STEPS
# One optimiser step per PPO_MINI_BATCH_SIZE prompts; the whole step's responses in one forward pass.
export PPO_MINI_BATCH_SIZE=${PPO_MINI_BATCH_SIZE:-$TRAIN_BATCH_SIZE}
export MICRO_BATCH_SIZE=${MICRO_BATCH_SIZE:-$((TRAIN_BATCH_SIZE * ROLLOUT_N))}
# Every decode row is padded to the prompt length; RL prompts are at most 81 tokens.
export MAX_PROMPT_LENGTH=96
# TEST_FREQ=N validates greedily on the ID split every N steps (benchmarks/masa_toy.py needs that curve).
export ACTOR_LR SAVE_FREQ=$RL_TOTAL_STEPS TEST_FREQ=${TEST_FREQ:--1} KL_COEF=0.0 TEMPERATURE=1.0
LOG_DIR=$OUT_DIR/logs
# A 0.16M-parameter model: recomputing activations and compiling the entropy kernel cost more than they save.
MODEL_EXTRA_RL=(actor_rollout_ref.model.enable_gradient_checkpointing=False actor_rollout_ref.actor.use_torch_compile=False
               # verl's replay buffer polls for finished rollouts every 2 s; a toy step's rollout takes about 1 s.
               +trainer.v1.sampler.poll_interval=0.05
               # The actor in float32, as the rollout: its bf16 autocast (verl's default) made two runs with one seed
               # score the same responses 1e-7 apart, and their weights differ after 2 steps; in float32 the
               # actor's probabilities equal the rollout's exactly (training/rollout_probs_diff_max 0).
               "+actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}")

mkdir -p "$OUT_DIR" "$LOG_DIR"
# DRY_RUN=1 checks the SFT and RL configurations against verl's schema (recipes/common.sh) and trains nothing.
DRY_RUN=${DRY_RUN:-0}
if [ "$DRY_RUN" != 1 ]; then
  if [ ! -f "$BASE_MODEL/config.json" ]; then
    # shellcheck disable=SC2086  # BASE_TRAIN_ARGS is a list of flags
    "$PYTHON" -m toy_world.train --out "$BASE_MODEL" $BASE_TRAIN_ARGS
  fi
  "$PYTHON" -m toy_world.data --out-dir "$DATA_DIR" --n-sft "$N_SFT" --n-rl "$N_RL" --n-eval "$N_EVAL"
fi

evaluate() {  # $1 model dir, $2 method label, $3 seed (empty for none)
  if [ "$DRY_RUN" = 1 ]; then echo "DRY RUN eval: $2 on $1"; return; fi
  toy_world_evaluate "$1" "$2" "$3" "$RESULTS_DIR"
}

# One CoMT SFT checkpoint; every RL run starts from it. SFT_MODEL=DIR starts RL from DIR instead (no SFT stage).
if [ -n "${SFT_MODEL:-}" ]; then
  sft_model=$SFT_MODEL
else
  (export METHOD=comt_ccrl EXPERIMENT_NAME=toy_comt STAGES=sft VERL_FILE_LOGGER_PATH=$LOG_DIR/toy_comt_sft.jsonl \
     && source "$RECIPE_DIR/common.sh" && ccrl_recipe_main)
  sft_model=$(source "$RECIPE_DIR/common.sh" && ccrl_latest_hf "$CKPT_DIR/toy_comt/sft" huggingface)
fi
evaluate "$sft_model" "$START_LABEL" ""
# The paper's baseline form: CoT SFT from the same base, evaluated as is (COT_SFT=1; the full preset's default).
if [ "$COT_SFT" = 1 ] && [ -z "${SFT_MODEL:-}" ]; then
  (export METHOD=cot_sft EXPERIMENT_NAME=toy_cot STAGES=sft VERL_FILE_LOGGER_PATH=$LOG_DIR/toy_cot_sft.jsonl \
     && source "$RECIPE_DIR/common.sh" && ccrl_recipe_main)
  evaluate "$(source "$RECIPE_DIR/common.sh" && ccrl_latest_hf "$CKPT_DIR/toy_cot/sft" huggingface)" "CoT-SFT" ""
fi

# Same seed, same numbers (docs/training.md, CPU mode): under full_determinism verl_ccrl.main_ppo gives each sample
# its own seed (the ccrl_single_turn agent loop), hf_cpu decodes in one fixed shape of max_num_seqs rows, the replay
# buffer hands samples out in a fixed order, and the actor's engine runs torch's deterministic mode.
# ROLLOUT_BATCH=1 serves one request at a time (benchmarks/rollout_batching.py compares the two).
determinism=(actor_rollout_ref.rollout.full_determinism=True
             "actor_rollout_ref.rollout.max_num_seqs=${ROLLOUT_BATCH:-$((TRAIN_BATCH_SIZE * ROLLOUT_N))}"
             actor_rollout_ref.actor.fsdp_config.full_determinism=True)
# AGENT_WORKERS agent-loop and reward workers share a step's per-sample work (building requests, scoring,
# transfer-queue puts): each sample's seed, not its worker, decides its draw, so the count changes no number.
# Two made a 16 x 16 step 1.24x faster than one on 2 cores (benchmarks/rollout_batching.py, docs/benchmarks.md).
if [ "$DEVICE" = cpu ]; then
  determinism+=("actor_rollout_ref.rollout.agent.num_workers=${AGENT_WORKERS:-2}" "reward.num_workers=${AGENT_WORKERS:-2}")
fi
curve_args=()
for seed in $SEEDS; do
  for variant in $VARIANTS; do
    extra=()
    label=$(toy_world_arm_label "$variant")
    # Empty alpha / beta: common.sh's defaults (CCRLConfig's), unless CCRL_ALPHA / CCRL_BETA are set.
    alpha=${CCRL_ALPHA:-} beta=${CCRL_BETA:-} shaping=linear
    case "$variant" in
      outcome) alpha=0 beta=0 ;;
      brier | log) shaping=$variant ;;
      # GRPO without the std division: a group whose answers all agree no longer has its CCRL term scaled up.
      ccrl_nostd) extra=(algorithm.norm_adv_by_std_in_grpo=False) ;;
    esac
    run=toy_${variant}_seed$seed
    export VERL_FILE_LOGGER_PATH=$LOG_DIR/$run.jsonl
    (export METHOD=comt_ccrl EXPERIMENT_NAME=$run STAGES=rl SFT_MODEL_PATH=$sft_model \
       CCRL_ALPHA=$alpha CCRL_BETA=$beta CCRL_SHAPING=$shaping && source "$RECIPE_DIR/common.sh" \
       && ccrl_recipe_main "data.seed=$seed" "actor_rollout_ref.rollout.seed=$seed" \
         trainer.val_before_train=False "${determinism[@]}" ${extra[@]+"${extra[@]}"} "$@")
    rl_model=$(source "$RECIPE_DIR/common.sh" && ccrl_latest_hf "$CKPT_DIR/$run/rl" actor/huggingface)
    evaluate "$rl_model" "$label" "$seed"
    curve_args+=("$label=$VERL_FILE_LOGGER_PATH")
  done
done
if [ "$DRY_RUN" = 1 ]; then exit 0; fi
toy_world_table "$RESULTS_DIR"
"$PYTHON" -m verl_ccrl.eval curves --logs "${curve_args[@]}" --out "$RESULTS_DIR/training_curves.png"
# Every response of the evaluation, its numbers marked by verdict and confidence (docs/viewer.md).
"$PYTHON" -m verl_ccrl.eval view "$RESULTS_DIR" --out "$RESULTS_DIR/report.html"
echo "toy_world ($PRESET): $SECONDS s; results: $RESULTS_DIR/results.md, results.csv, reliability.png," \
  "overconfidence.png, training_curves.png, report.html"
