#!/usr/bin/env bash
# The toy-world comparison of every arm in plain PyTorch (python -m toy_world.grpo): no verl, Ray or server, so many
# seeds fit where recipes/toy_world.sh's verl runs allow three. From one CoMT-SFT checkpoint, for each seed in SEEDS
# and each arm in VARIANTS, GRPO at the settings of toy_world.sh's PRESET (default full) -> the same greedy
# evaluation as toy_world.sh (ID and both OOD splits) -> one table (each arm's change from the start, and against
# outcome-only RL seed by seed) and training_curves.png.
#
#   SFT_MODEL=DIR bash recipes/toy_world_plain.sh            # DIR: the CoMT-SFT checkpoint toy_world.sh trained
#   SFT_MODEL=DIR SEEDS="$(seq -s ' ' 1 9)" JOBS=16 bash recipes/toy_world_plain.sh   # a 16-core machine
#
# Arms as in toy_world.sh: outcome, ccrl (linear shaping), brier, log, ccrl_nostd (ccrl without GRPO's std
# division); CCRLConfig's defaults otherwise (CCRL_ALPHA / CCRL_BETA do not apply here). JOBS runs go at once, one
# thread each (default: the machine's cores). A run whose model or evaluation is already written is not run again, so
# a stopped study resumes where it stopped. MASA's switches (ZERO_VARIANCE_FILTER, SKIP_PREDICTED_ZERO_VARIANCE,
# SKIP_HISTORY, SKIP_RETURN_PROB, MAX_NUM_GEN_BATCHES) and TEST_FREQ mean what they mean for toy_world.sh
# (benchmarks/masa_toy.py plan --runner plain prints the runs of docs/masa.md).
set -euo pipefail

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$RECIPE_DIR")
export PYTHON=${PYTHON:-python3}
export SFT_MODEL=${SFT_MODEL:-}
if [ -z "$SFT_MODEL" ] || [ ! -f "$SFT_MODEL/config.json" ]; then
  echo "toy_world_plain: SFT_MODEL='$SFT_MODEL' is not a model directory; set it to the CoMT-SFT checkpoint (bash" \
    "recipes/toy_world.sh writes one under OUT_DIR/checkpoints/toy_comt/sft/global_step_*/huggingface)" >&2
  exit 2
fi
export OUT_DIR=${OUT_DIR:-$PWD/outputs/toy_world_plain}
export DATA_DIR=${DATA_DIR:-$OUT_DIR/data}
JOBS=${JOBS:-$(nproc)}
# The seeds, arms, RL budget and evaluation of toy_world.sh's PRESET (default full; N_SFT, SFT_EPOCHS and COT_SFT
# do not apply: the start is SFT_MODEL).
# shellcheck source=recipes/toy_world_settings.sh
source "$RECIPE_DIR/toy_world_settings.sh"
toy_world_preset "${PRESET:-full}" || exit 2
toy_world_check_variants || exit 2
export OMP_NUM_THREADS=1 PYTHONPATH=$PROJECT_DIR${PYTHONPATH:+:$PYTHONPATH}
# MASA's switches, named as recipes/common.sh names them for verl (docs/masa.md); unset ones keep MasaConfig's
# defaults. TEST_FREQ=N validates greedily on the ID split every N steps (benchmarks/masa_toy.py reads that curve).
case "${ZERO_VARIANCE_FILTER:=off}" in outcome | reward | off) ;; *)
  echo "toy_world_plain: ZERO_VARIANCE_FILTER=$ZERO_VARIANCE_FILTER is not outcome, reward or off" >&2; exit 2 ;;
esac
case "${SKIP_PREDICTED_ZERO_VARIANCE:=0}" in 0 | 1) ;; *)
  echo "toy_world_plain: SKIP_PREDICTED_ZERO_VARIANCE=$SKIP_PREDICTED_ZERO_VARIANCE is not 0 or 1" >&2; exit 2 ;;
esac
GRPO_ARGS="--zero-variance-filter $ZERO_VARIANCE_FILTER${MAX_NUM_GEN_BATCHES:+ --max-gen-batches $MAX_NUM_GEN_BATCHES}"
if [ "$SKIP_PREDICTED_ZERO_VARIANCE" = 1 ]; then
  GRPO_ARGS+=" --skip${SKIP_HISTORY:+ --skip-history $SKIP_HISTORY}${SKIP_RETURN_PROB:+ --skip-return-prob $SKIP_RETURN_PROB}"
fi
if [ "${TEST_FREQ:--1}" -gt 0 ]; then GRPO_ARGS+=" --eval-n $N_EVAL --eval-every $TEST_FREQ"; else GRPO_ARGS+=" --eval-n 0"; fi
export GRPO_ARGS
echo "toy_world_plain: GRPO options $GRPO_ARGS"

mkdir -p "$OUT_DIR/logs" "$OUT_DIR/models" "$OUT_DIR/results"
if [ ! -f "$DATA_DIR/eval_toy_ood_steps.parquet" ]; then
  "$PYTHON" -m toy_world.data --out-dir "$DATA_DIR" --n-sft 1 --n-rl 1 --n-eval "$N_EVAL" > /dev/null
fi

evaluate() {  # $1 model dir, $2 method label, $3 results dir, $4 seed (empty for none); not again once written
  if [ -n "$(compgen -G "$3/runs/*.json")" ]; then return; fi
  toy_world_evaluate "$1" "$2" "$4" "$3" --limit "$N_EVAL" > /dev/null 2> "$OUT_DIR/logs/$(basename "$3").eval.err"
}

run_arm() {  # $1 variant, $2 seed
  local run=toy_$1_seed$2 flags=(--reward linear)
  case "$1" in
    outcome) flags=(--reward outcome) ;;
    brier | log) flags=(--reward "$1") ;;
    ccrl_nostd) flags=(--reward linear --no-std) ;;
  esac
  if [ ! -d "$OUT_DIR/models/$run" ]; then  # saved aside, then moved: a model directory is always complete
    rm -rf "$OUT_DIR/models/$run.partial"
    # shellcheck disable=SC2086  # GRPO_ARGS: flags split into words on purpose (an array does not pass xargs)
    "$PYTHON" -m toy_world.grpo --model "$SFT_MODEL" --steps "$RL_TOTAL_STEPS" --prompts "$TRAIN_BATCH_SIZE" \
      --samples "$ROLLOUT_N" --lr "$ACTOR_LR" --seed "$2" --n-problems "$N_RL" $GRPO_ARGS \
      --max-new-tokens "$MAX_RESPONSE_LENGTH" "${flags[@]}" --save "$OUT_DIR/models/$run.partial" \
      > "$OUT_DIR/logs/$run.jsonl" 2> "$OUT_DIR/logs/$run.err"
    mv "$OUT_DIR/models/$run.partial" "$OUT_DIR/models/$run"
  fi
  evaluate "$OUT_DIR/models/$run" "$(toy_world_arm_label "$1")" "$OUT_DIR/results/$run" "$2"
  echo "toy_world_plain: $run done"
}
export -f evaluate run_arm toy_world_arm_label toy_world_evaluate

start=$(date +%s)
# Seed by seed, every arm of a seed before the next seed, so a stopped study holds whole seeds.
{
  echo "sft -"
  for seed in $SEEDS; do for variant in $VARIANTS; do echo "$variant $seed"; done; done
} | xargs -P "$JOBS" -L 1 bash -c \
  'if [ "$1" = sft ]; then evaluate "$SFT_MODEL" "$START_LABEL" "$OUT_DIR/results/sft" ""; else run_arm "$1" "$2"; fi' _
echo "toy_world_plain: $(($(date +%s) - start)) s for the runs and their evaluations ($JOBS at a time)"

toy_world_table "$OUT_DIR/results"
# Each arm's training curves (mean over seeds, min-max band): answer accuracy, the policy's token entropy, reward.
curve_args=()
for seed in $SEEDS; do
  for variant in $VARIANTS; do
    curve_args+=("$(toy_world_arm_label "$variant")=$OUT_DIR/logs/toy_${variant}_seed$seed.jsonl")
  done
done
"$PYTHON" -m verl_ccrl.eval curves --logs "${curve_args[@]}" --out "$OUT_DIR/results/training_curves.png" \
  --metrics ccrl/outcome_mean actor/entropy critic/score/mean
