#!/usr/bin/env bash
# The whole pipeline on one CPU machine with a tiny model built locally, through verl's real trainers:
#   data_prep (offline problems, local teacher) -> CoMT SFT -> CCRL (GRPO) -> evaluation table and plots,
# and the two baselines (CoT-SFT, CoT-SFT + outcome-only RL) for the comparison table. About 5 minutes on 2 cores.
#   bash recipes/tiny_cpu_demo.sh                 # outputs under ./outputs/tiny_cpu_demo
#   OUT_DIR=/tmp/demo N_PROBLEMS=64 bash recipes/tiny_cpu_demo.sh
# A random 60k-parameter model learns nothing useful in a few steps: the demo shows the pipeline and its outputs,
# not the paper's numbers.
set -xeuo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${OUT_DIR:-$PWD/outputs/tiny_cpu_demo}
N_PROBLEMS=${N_PROBLEMS:-48}
N_EVAL=${N_EVAL:-16}
# template: a deterministic local teacher that abstracts the reference solution into a meta-thought (documented in
# data_prep). transformers: the tiny random model as teacher (most of its meta-thoughts are rejected).
TEACHER=${TEACHER:-template}
PYTHON=${PYTHON:-python3}

export DEVICE=cpu NNODES=1 N_GPUS_PER_NODE=1 LOGGER="[console]"
export MODEL_NAME=tiny MODEL_TAG=tiny-qwen2 MODEL_PATH=${MODEL_PATH:-$OUT_DIR/tiny_model}
export DATA_DIR=$OUT_DIR/data EVAL_DIR=$OUT_DIR/data VAL_FILE=$OUT_DIR/data/eval_reasoning_gym_gsm.parquet
export CKPT_DIR=$OUT_DIR/checkpoints RESULTS_DIR=$OUT_DIR/results
export SFT_EPOCHS=${SFT_EPOCHS:-12} SFT_BATCH_SIZE=8 SFT_MICRO_BATCH_SIZE=4 SFT_MAX_LENGTH=512 SFT_LR=${SFT_LR:-3e-3}
export RL_ESTIMATOR=${RL_ESTIMATOR:-grpo} RL_TOTAL_STEPS=${RL_TOTAL_STEPS:-4} RL_EPOCHS=1 TRAIN_BATCH_SIZE=4
export PPO_MINI_BATCH_SIZE=4 MICRO_BATCH_SIZE=4 ROLLOUT_N=4 MAX_PROMPT_LENGTH=256 MAX_RESPONSE_LENGTH=48
# The last RL step saves the actor (with Hugging Face weights) for the evaluation.
export ACTOR_LR=1e-4 CRITIC_LR=1e-4 SAVE_FREQ=$RL_TOTAL_STEPS TEST_FREQ=-1 KL_COEF=0.0
export EVAL_BACKEND=transformers EVAL_MAX_NEW_TOKENS=48 EVAL_LIMIT=$N_EVAL

mkdir -p "$OUT_DIR"
[ -f "$MODEL_PATH/config.json" ] || "$PYTHON" -m verl_ccrl.integration.cpu.tiny_model "$MODEL_PATH"
teacher_args=(--teacher "$TEACHER")
if [ "$TEACHER" = transformers ]; then teacher_args+=(--model "$MODEL_PATH" --max-tokens 64); fi
"$PYTHON" -m data_prep build --source reasoning_gym_gsm --limit "$N_PROBLEMS" "${teacher_args[@]}" \
  --student-tokenizer "$MODEL_PATH" --no-progress --out-dir "$DATA_DIR"
for method in comt_ccrl cot_sft cot_sft_ppo; do
  (METHOD=$method && source "$RECIPE_DIR/common.sh" && ccrl_recipe_main "$@")
done
if [ "${DRY_RUN:-0}" = 1 ]; then exit 0; fi
"$PYTHON" -m verl_ccrl.eval table --runs-dir "$RESULTS_DIR"
echo "results: $RESULTS_DIR/results.md, $RESULTS_DIR/results.csv, $RESULTS_DIR/reliability.png, $RESULTS_DIR/overconfidence.png"
