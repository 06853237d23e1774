#!/usr/bin/env bash
# The toy-world study through verl's real trainers, on CPU (DEVICE=cuda for one GPU):
#   toy_world base model -> CoMT SFT (verl.trainer.sft_trainer) -> RL with the ccrl reward manager
#   (python -m verl_ccrl.main_ppo, GRPO): CCRL (alpha, beta) vs outcome-only (alpha = beta = 0) from the same SFT
#   checkpoint, for each seed in SEEDS -> greedy evaluation on the ID and both OOD splits -> table and plots.
#
#   bash recipes/toy_world_quick.sh                        # outputs under ./outputs/toy_world_quick
#   PRESET=full bash recipes/toy_world_quick.sh            # 3 seeds, more SFT data and RL steps (documented below)
#   SEEDS="1 2 3" RL_TOTAL_STEPS=20 bash recipes/toy_world_quick.sh
#
# The base model is BASE_MODEL (default toy_world/checkpoints/base); when it is missing it is trained first with
# BASE_TRAIN_ARGS (python -m toy_world.train), which costs far more than the rest: see toy_world/__init__.py.
#
# NOT YET RUN END TO END. Known defect: verl loads the tokenizer with AutoTokenizer, which in transformers 5.10
# replaces the toy word-level tokenizer beside a qwen2 config.json by Qwen2Tokenizer and garbles every prompt
# (tests/test_toy_world.py, the xfail test). Only DRY_RUN=1 is checked until the toy tokenizer is a byte-level BPE.
set -euo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$RECIPE_DIR")
PYTHON=${PYTHON:-python3}
PRESET=${PRESET:-quick}
OUT_DIR=${OUT_DIR:-$PWD/outputs/toy_world_$PRESET}
BASE_MODEL=${BASE_MODEL:-$PROJECT_DIR/toy_world/checkpoints/base}
BASE_TRAIN_ARGS=${BASE_TRAIN_ARGS:-"--size s --form mix --batch 32 --lr 3e-3 --warmup 100 --steps 1000 --eval-n 0"}

case "$PRESET" in
  quick) defaults=(SEEDS="1 2" N_SFT=256 N_RL=256 N_EVAL=100 SFT_EPOCHS=1 RL_TOTAL_STEPS=8) ;;
  full) defaults=(SEEDS="1 2 3" N_SFT=2000 N_RL=2000 N_EVAL=500 SFT_EPOCHS=2 RL_TOTAL_STEPS=60) ;;
  *) echo "toy_world_quick: PRESET=$PRESET is not quick or full" >&2; exit 2 ;;
esac
for assignment in "${defaults[@]}"; do
  name=${assignment%%=*}
  if [ -z "${!name:-}" ]; then export "$assignment"; fi
done

export DEVICE=${DEVICE:-cpu} NNODES=1 N_GPUS_PER_NODE=1 LOGGER="[console]"
export MODEL_NAME=toy MODEL_TAG=toy-qwen2 MODEL_PATH=$BASE_MODEL
export DATA_DIR=$OUT_DIR/data EVAL_DIR=$OUT_DIR/data VAL_FILE=$OUT_DIR/data/eval_toy_test.parquet
export CKPT_DIR=$OUT_DIR/checkpoints RESULTS_DIR=$OUT_DIR/results
export SFT_BATCH_SIZE=${SFT_BATCH_SIZE:-16} SFT_MICRO_BATCH_SIZE=${SFT_MICRO_BATCH_SIZE:-16} SFT_MAX_LENGTH=384
export SFT_LR=${SFT_LR:-5e-4}
export RL_ESTIMATOR=grpo RL_EPOCHS=1 TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-8} PPO_MINI_BATCH_SIZE=8 MICRO_BATCH_SIZE=8
export ROLLOUT_N=${ROLLOUT_N:-4} MAX_PROMPT_LENGTH=160 MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-160}
export ACTOR_LR=${ACTOR_LR:-1e-4} SAVE_FREQ=$RL_TOTAL_STEPS TEST_FREQ=-1 KL_COEF=0.0 TEMPERATURE=1.0
export CCRL_ALPHA=${CCRL_ALPHA:-0.25} CCRL_BETA=${CCRL_BETA:-0.5}

mkdir -p "$OUT_DIR"
# DRY_RUN=1 checks the SFT and RL configurations against verl's schema (recipes/common.sh) and trains nothing.
DRY_RUN=${DRY_RUN:-0}
if [ "$DRY_RUN" != 1 ]; then
  if [ ! -f "$BASE_MODEL/config.json" ]; then
    # shellcheck disable=SC2086  # BASE_TRAIN_ARGS is a list of flags
    "$PYTHON" -m toy_world.train --out "$BASE_MODEL" $BASE_TRAIN_ARGS
  fi
  "$PYTHON" -m toy_world.data --out-dir "$DATA_DIR" --n-sft "$N_SFT" --n-rl "$N_RL" --n-eval "$N_EVAL"
fi

eval_files=()
for split in test ood_combo ood_steps; do eval_files+=("toy_$split=$DATA_DIR/eval_toy_$split.parquet"); done
evaluate() {  # $1 model dir, $2 method label
  if [ "$DRY_RUN" = 1 ]; then echo "DRY RUN eval: $2 on $1"; return; fi
  "$PYTHON" -m verl_ccrl.eval --model "$1" --method "$2" --model-name "$MODEL_TAG" --backend transformers \
    --max-new-tokens "$MAX_RESPONSE_LENGTH" --out-dir "$RESULTS_DIR" --quiet \
    --id-benchmarks toy_test --ood-benchmarks toy_ood_combo toy_ood_steps --data "${eval_files[@]}"
}

# One CoMT SFT checkpoint; every RL run starts from it.
(export METHOD=comt_ccrl EXPERIMENT_NAME=toy_comt STAGES=sft && source "$RECIPE_DIR/common.sh" && ccrl_recipe_main)
sft_model=$(source "$RECIPE_DIR/common.sh" && ccrl_latest_hf "$CKPT_DIR/toy_comt/sft" huggingface)
evaluate "$sft_model" "CoMT-SFT"

for seed in $SEEDS; do
  for variant in ccrl outcome; do
    if [ "$variant" = ccrl ]; then alpha=$CCRL_ALPHA beta=$CCRL_BETA label="CoMT+CCRL"; else
      alpha=0 beta=0 label="CoMT+outcome-RL"; fi
    (export METHOD=comt_ccrl EXPERIMENT_NAME=toy_${variant}_seed$seed STAGES=rl SFT_MODEL_PATH=$sft_model \
       CCRL_ALPHA=$alpha CCRL_BETA=$beta && source "$RECIPE_DIR/common.sh" \
       && ccrl_recipe_main "data.seed=$seed" "actor_rollout_ref.rollout.seed=$seed")
    rl_model=$(source "$RECIPE_DIR/common.sh" && ccrl_latest_hf "$CKPT_DIR/toy_${variant}_seed$seed/rl" actor/huggingface)
    evaluate "$rl_model" "$label (seed $seed)"
  done
done
if [ "$DRY_RUN" = 1 ]; then exit 0; fi
"$PYTHON" -m verl_ccrl.eval table --runs-dir "$RESULTS_DIR"
echo "results: $RESULTS_DIR/results.md, $RESULTS_DIR/results.csv, $RESULTS_DIR/reliability.png, $RESULTS_DIR/overconfidence.png"
