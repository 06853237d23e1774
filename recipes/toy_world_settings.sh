# The toy-world study's settings, sourced by recipes/toy_world.sh (verl) and recipes/toy_world_plain.sh (plain
# PyTorch), so that both run the same presets, budgets, arms and evaluation.

export MODEL_TAG=toy-qwen2  # the model's name in the results table
# The results table's label of the CoMT-SFT checkpoint every RL run starts from (toy_world_table's --start).
export START_LABEL=CoMT-SFT

# Exports PRESET $1's value of each setting that is unset or empty (docs/toy_world.md, "The study").
toy_world_preset() {
  local defaults assignment name
  case "$1" in
    # CCRL, 2 seeds x 16 GRPO steps of 16 prompts x 16 samples at lr 1e-4: RL that moves the model, in under 15 min
    # on 2 cores (docs/toy_world.md). VARIANTS="outcome ccrl" adds the baseline (two more runs, about 9 min more).
    quick) defaults=(SEEDS="1 2" VARIANTS="ccrl" N_SFT=256 N_RL=1000 N_EVAL=100 SFT_EPOCHS=1 RL_TOTAL_STEPS=16
                     TRAIN_BATCH_SIZE=16 ROLLOUT_N=16 ACTOR_LR=1e-4 COT_SFT=0) ;;
    # Every arm, 3 seeds, 24 steps: 15 GRPO runs, about 1 h 20 min alone on 2 cores (measured: docs/toy_world.md);
    # minutes with DEVICE=cuda.
    full) defaults=(SEEDS="1 2 3" VARIANTS="outcome ccrl brier log ccrl_nostd" N_SFT=256 N_RL=2000 N_EVAL=300
                    SFT_EPOCHS=1 RL_TOTAL_STEPS=24 TRAIN_BATCH_SIZE=16 ROLLOUT_N=16 ACTOR_LR=1e-4 COT_SFT=1) ;;
    # Where outcome-only RL sharpens the policy: 96 steps, outcome-only and CCRL, 10 seeds. Sized for the plain twin
    # (SFT_MODEL=... PRESET=long bash recipes/toy_world_plain.sh: 57 min with JOBS=2 on 2 cores); through verl
    # the 20 runs take about 20 min each here (docs/toy_world.md, "Where outcome-only RL sharpens").
    long) defaults=(SEEDS="1 2 3 4 5 6 7 8 9 10" VARIANTS="outcome ccrl" N_SFT=256 N_RL=2000 N_EVAL=300 SFT_EPOCHS=1
                    RL_TOTAL_STEPS=96 TRAIN_BATCH_SIZE=16 ROLLOUT_N=16 ACTOR_LR=1e-4 COT_SFT=0) ;;
    *) echo "toy_world: PRESET=$1 is not quick, full or long" >&2; return 2 ;;
  esac
  # RL prompts are at most 81 tokens and CoMT targets 118 (train split). The evaluation's budget is larger: the
  # OOD-steps split's CoMT targets run to 183 tokens (105 of its first 300 over 160).
  defaults+=(MAX_RESPONSE_LENGTH=160 EVAL_MAX_NEW_TOKENS=256)
  for assignment in "${defaults[@]}"; do
    name=${assignment%%=*}
    if [ -z "${!name:-}" ]; then export "$assignment"; fi
  done
}

# The results table's label of arm $1; fails naming the arms for any other name.
toy_world_arm_label() {
  case "$1" in
    outcome) echo "CoMT+outcome-RL" ;;  # alpha = beta = 0: the baseline every other arm is compared with
    ccrl) echo "CoMT+CCRL" ;;  # CCRL, linear shaping
    brier) echo "CoMT+CCRL-brier" ;;
    log) echo "CoMT+CCRL-log" ;;
    ccrl_nostd) echo "CoMT+CCRL-nostd" ;;  # ccrl without GRPO's std division
    *) echo "toy_world: VARIANTS has '$1'; use outcome, ccrl, brier, log, ccrl_nostd" >&2; return 2 ;;
  esac
}

# Refuses VARIANTS naming an unknown arm, before anything is trained.
toy_world_check_variants() {
  local variant
  for variant in $VARIANTS; do toy_world_arm_label "$variant" > /dev/null || return 2; done
}

# Greedy evaluation of model $1 as method $2 (training seed $3, empty for none) on the ID split and both OOD splits
# in DATA_DIR, written under $4; further arguments go to python -m verl_ccrl.eval.
toy_world_evaluate() {
  local model=$1 label=$2 seed=$3 out=$4 seed_args=()
  shift 4
  if [ -n "$seed" ]; then seed_args=(--seed "$seed"); fi
  "$PYTHON" -m verl_ccrl.eval --model "$model" --method "$label" --model-name "$MODEL_TAG" --backend transformers \
    --max-new-tokens "$EVAL_MAX_NEW_TOKENS" --out-dir "$out" --quiet "${seed_args[@]}" \
    --id-benchmarks toy_id --ood-benchmarks toy_ood_combo toy_ood_steps \
    --data "toy_id=$DATA_DIR/eval_toy_test.parquet" "toy_ood_combo=$DATA_DIR/eval_toy_ood_combo.parquet" \
    "toy_ood_steps=$DATA_DIR/eval_toy_ood_steps.parquet" "$@"
}

# The results table of every run JSON under $1: each arm's change from the CoMT-SFT start, and every arm against
# outcome-only RL, seed by seed, when VARIANTS has it.
toy_world_table() {
  local baseline=()
  if [[ " $VARIANTS " == *" outcome "* ]]; then baseline=(--baseline "$(toy_world_arm_label outcome)"); fi
  "$PYTHON" -m verl_ccrl.eval table --runs-dir "$1" --start "$START_LABEL" \
    --id-benchmarks toy_id --ood-benchmarks toy_ood_combo toy_ood_steps ${baseline[@]+"${baseline[@]}"}
}
