# Shared defaults and stages of the verl-ccrl recipes; sourced by recipes/<model>_ccrl.sh after the model has set
# what differs (MODEL_NAME, MODEL_TAG, sizes). Every path and size is an environment variable with a default.
#
# Methods (METHOD=...), the paper's comparison:
#   comt_ccrl    CoMT SFT on comt_sft.parquet, then CCRL PPO from that checkpoint (the method)
#   cot_sft      CoT SFT on cot_sft.parquet only (baseline)
#   cot_sft_ppo  CoT SFT, then outcome-only PPO (baseline): the same trainer and outcome check as CCRL with
#                ccrl.alpha=ccrl.beta=0, so only the number term differs and the calibration metrics are logged too
# Stages (STAGES=...): sft, rl, eval. Extra Hydra overrides: the script's arguments go to the RL stage,
# SFT_OVERRIDES (a space-separated string) to the SFT stage. DRY_RUN=1 checks every stage's full config against
# verl's schema (python -m verl_ccrl.dry_run) and starts nothing.

RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(dirname "$RECIPE_DIR")

# ---- what to run
METHOD=${METHOD:-comt_ccrl}
STAGES=${STAGES:-sft rl eval}
DRY_RUN=${DRY_RUN:-0}
DEVICE=${DEVICE:-cuda}                      # cpu: verl_ccrl's CPU debugging mode (tiny models only)
PYTHON=${PYTHON:-python3}

# ---- paths
MODEL_PATH=${MODEL_PATH:-$HOME/models/$MODEL_NAME}
DATA_DIR=${DATA_DIR:-$HOME/data/verl_ccrl/gsm8k}           # python -m data_prep build ... --out-dir $DATA_DIR
EVAL_DIR=${EVAL_DIR:-$HOME/data/verl_ccrl/eval}             # python -m data_prep eval ... --out-dir $EVAL_DIR
VAL_FILE=${VAL_FILE:-$DATA_DIR/eval_gsm8k.parquet}
CKPT_DIR=${CKPT_DIR:-$HOME/checkpoints/verl_ccrl}
RESULTS_DIR=${RESULTS_DIR:-$CKPT_DIR/results}
PROJECT_NAME=${PROJECT_NAME:-verl_ccrl}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-${MODEL_TAG}_${METHOD}}
LOGGER=${LOGGER:-"[console,wandb]"}

# ---- cluster
NNODES=${NNODES:-1}
N_GPUS_PER_NODE=${N_GPUS_PER_NODE:-8}
NODE_RANK=${NODE_RANK:-0}                   # SFT runs under torchrun: start the script on every node
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
RAY_ADDRESS=${RAY_ADDRESS:-}                # RL: an existing Ray cluster, else a local one is started

# ---- SFT hyperparameters (verl's GSM8K SFT example, 3 epochs)
SFT_LR=${SFT_LR:-1e-5}
SFT_EPOCHS=${SFT_EPOCHS:-3}
SFT_BATCH_SIZE=${SFT_BATCH_SIZE:-64}
SFT_MICRO_BATCH_SIZE=${SFT_MICRO_BATCH_SIZE:-4}
SFT_MAX_LENGTH=${SFT_MAX_LENGTH:-1024}
SFT_OVERRIDES=${SFT_OVERRIDES:-}

# ---- RL hyperparameters (the paper: PPO with a critic; the rest from verl's GSM8K PPO example)
RL_ESTIMATOR=${RL_ESTIMATOR:-gae}
RL_EPOCHS=${RL_EPOCHS:-15}
RL_TOTAL_STEPS=${RL_TOTAL_STEPS:-null}      # null: RL_EPOCHS over the data
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-256}
PPO_MINI_BATCH_SIZE=${PPO_MINI_BATCH_SIZE:-64}
MICRO_BATCH_SIZE=${MICRO_BATCH_SIZE:-8}
ROLLOUT_N=${ROLLOUT_N:-1}
MAX_PROMPT_LENGTH=${MAX_PROMPT_LENGTH:-512}
MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-512}
ACTOR_LR=${ACTOR_LR:-1e-6}
CRITIC_LR=${CRITIC_LR:-1e-5}
KL_COEF=${KL_COEF:-0.001}
TEMPERATURE=${TEMPERATURE:-1.0}
ROLLOUT_TP=${ROLLOUT_TP:-1}
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.6}
SAVE_FREQ=${SAVE_FREQ:-50}
TEST_FREQ=${TEST_FREQ:-10}

# ---- CCRL (README "The reward"): the defaults are verl_ccrl.CCRLConfig's, stated here (tests/test_defaults.py)
CCRL_ALPHA=${CCRL_ALPHA:-0.25}
CCRL_BETA=${CCRL_BETA:-0.5}
CCRL_TAU=${CCRL_TAU:-0.0}
CCRL_SHAPING=${CCRL_SHAPING:-linear}
CCRL_TOP_K=${CCRL_TOP_K:-20}               # used only by the opt-in vllm_ccrl rollout
# Rollout: verl's stock vLLM rollout with the actor's exact entropies (ccrl_trainer.yaml's defaults). For
# algorithm.rollout_correction.bypass_mode=True pass: actor_rollout_ref.rollout.name=vllm_ccrl ccrl.entropy_source=rollout

# ---- MASA's efficiency switches (docs/masa.md), both off by default (the paper's setting); GRPO groups needed
#   ZERO_VARIANCE_FILTER=outcome  drop groups whose responses all got the same outcome (verl's algorithm.filter_groups
#                                 on the ccrl_outcome field), refilling up to MAX_NUM_GEN_BATCHES batches a step
#   ZERO_VARIANCE_FILTER=reward   the same on the shaped reward (with CCRL it is almost never constant)
#   SKIP_PREDICTED_ZERO_VARIANCE=1  hold a prompt back before rollout when its last SKIP_HISTORY groups were all
#                                 correct or all wrong; it comes back with probability SKIP_RETURN_PROB each time
ZERO_VARIANCE_FILTER=${ZERO_VARIANCE_FILTER:-off}
MAX_NUM_GEN_BATCHES=${MAX_NUM_GEN_BATCHES:-10}
SKIP_PREDICTED_ZERO_VARIANCE=${SKIP_PREDICTED_ZERO_VARIANCE:-0}
SKIP_HISTORY=${SKIP_HISTORY:-2}
SKIP_RETURN_PROB=${SKIP_RETURN_PROB:-0.2}

# ---- evaluation (greedy, as in the paper)
EVAL_BACKEND=${EVAL_BACKEND:-vllm}
EVAL_MAX_NEW_TOKENS=${EVAL_MAX_NEW_TOKENS:-512}
EVAL_LIMIT=${EVAL_LIMIT:-}

MODEL_EXTRA_SFT=(${MODEL_EXTRA_SFT[@]+"${MODEL_EXTRA_SFT[@]}"})
MODEL_EXTRA_RL=(${MODEL_EXTRA_RL[@]+"${MODEL_EXTRA_RL[@]}"})

export PYTHONPATH="$PROJECT_DIR${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "$RAY_ADDRESS" ]; then export RAY_ADDRESS; fi

ccrl_fail() { echo "recipe: $*" >&2; exit 2; }

case "$METHOD" in
  comt_ccrl) SFT_FILE=${SFT_FILE:-$DATA_DIR/comt_sft.parquet} ;;
  cot_sft|cot_sft_ppo) SFT_FILE=${SFT_FILE:-$DATA_DIR/cot_sft.parquet} ;;
  *) ccrl_fail "METHOD=$METHOD is not one of comt_ccrl, cot_sft, cot_sft_ppo" ;;
esac
case "$DEVICE" in cuda|cpu) ;; *) ccrl_fail "DEVICE=$DEVICE is not cuda or cpu" ;; esac
case "$ZERO_VARIANCE_FILTER" in outcome|reward|off) ;; *) ccrl_fail "ZERO_VARIANCE_FILTER=$ZERO_VARIANCE_FILTER is not outcome, reward or off" ;; esac
case "$SKIP_PREDICTED_ZERO_VARIANCE" in 0|1) ;; *) ccrl_fail "SKIP_PREDICTED_ZERO_VARIANCE=$SKIP_PREDICTED_ZERO_VARIANCE is not 0 or 1" ;; esac
case "$RL_ESTIMATOR" in gae) USE_CRITIC=True ;; *) USE_CRITIC=False ;; esac

SFT_DIR="$CKPT_DIR/$EXPERIMENT_NAME/sft"
RL_DIR="$CKPT_DIR/$EXPERIMENT_NAME/rl"

# Where a stage's checkpoint keeps Hugging Face weights: verl writes latest_checkpointed_iteration.txt beside
# global_step_N/. A dry run has no checkpoint yet; the dry run stands in a tiny model for a missing path.
ccrl_latest_hf() {  # $1 checkpoint dir, $2 sub-path inside global_step_N
  local tracker="$1/latest_checkpointed_iteration.txt"
  if [ -f "$tracker" ]; then echo "$1/global_step_$(cat "$tracker")/$2"; else echo "$1/global_step_LATEST/$2"; fi
}

ccrl_cpu_lines() { "$PYTHON" -m verl_ccrl.integration.cpu.overrides "$1"; }

ccrl_sft_overrides() {
  SFT_ARGS=(
    "model.path=$MODEL_PATH"
    "data.train_files=$SFT_FILE"
    "data.val_files=null"
    "data.messages_key=messages"
    "data.train_batch_size=$SFT_BATCH_SIZE"
    "data.micro_batch_size_per_gpu=$SFT_MICRO_BATCH_SIZE"
    "data.max_length=$SFT_MAX_LENGTH"
    "data.truncation=right"
    "optim.lr=$SFT_LR"
    "trainer.total_epochs=$SFT_EPOCHS"
    "trainer.project_name=$PROJECT_NAME"
    "trainer.experiment_name=${EXPERIMENT_NAME}_sft"
    "trainer.default_local_dir=$SFT_DIR"
    "trainer.logger=$LOGGER"
    "trainer.nnodes=$NNODES"
    "trainer.n_gpus_per_node=$N_GPUS_PER_NODE"
    "trainer.save_freq=after_each_epoch"
    "trainer.test_freq=-1"
    # hf_model: the RL stage and the evaluation load the SFT weights in Hugging Face format.
    "checkpoint.save_contents=[model,optimizer,extra,hf_model]"
  )
  SFT_ARGS+=(${MODEL_EXTRA_SFT[@]+"${MODEL_EXTRA_SFT[@]}"})
  if [ "$DEVICE" = cpu ]; then mapfile -t -O "${#SFT_ARGS[@]}" SFT_ARGS < <(ccrl_cpu_lines sft); fi
  # shellcheck disable=SC2206  # SFT_OVERRIDES is a user-given list of key=value words
  SFT_ARGS+=($SFT_OVERRIDES)
}

ccrl_rl_overrides() {  # $1: the model the RL stage starts from
  RL_ARGS=(
    "algorithm.adv_estimator=$RL_ESTIMATOR"
    "algorithm.kl_ctrl.kl_coef=$KL_COEF"
    "data.train_files=$DATA_DIR/rl_train.parquet"
    "data.val_files=$VAL_FILE"
    "data.train_batch_size=$TRAIN_BATCH_SIZE"
    "data.max_prompt_length=$MAX_PROMPT_LENGTH"
    "data.max_response_length=$MAX_RESPONSE_LENGTH"
    "actor_rollout_ref.model.path=$1"
    "actor_rollout_ref.model.enable_gradient_checkpointing=True"
    "actor_rollout_ref.actor.optim.lr=$ACTOR_LR"
    "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH_SIZE"
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=$MICRO_BATCH_SIZE"
    "actor_rollout_ref.actor.checkpoint.save_contents=[model,optimizer,extra,hf_model]"
    "actor_rollout_ref.rollout.n=$ROLLOUT_N"
    "actor_rollout_ref.rollout.temperature=$TEMPERATURE"
    "actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TP"
    "actor_rollout_ref.rollout.gpu_memory_utilization=$GPU_MEMORY_UTILIZATION"
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=$MICRO_BATCH_SIZE"
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=$MICRO_BATCH_SIZE"
    "critic.enable=$USE_CRITIC"
    "critic.model.path=$1"
    "critic.optim.lr=$CRITIC_LR"
    "critic.ppo_micro_batch_size_per_gpu=$MICRO_BATCH_SIZE"
    "trainer.project_name=$PROJECT_NAME"
    "trainer.experiment_name=${EXPERIMENT_NAME}_rl"
    "trainer.default_local_dir=$RL_DIR"
    "trainer.logger=$LOGGER"
    "trainer.nnodes=$NNODES"
    "trainer.n_gpus_per_node=$N_GPUS_PER_NODE"
    "trainer.total_epochs=$RL_EPOCHS"
    "trainer.total_training_steps=$RL_TOTAL_STEPS"
    "trainer.save_freq=$SAVE_FREQ"
    "trainer.test_freq=$TEST_FREQ"
    "ccrl.alpha=$CCRL_ALPHA"
    "ccrl.beta=$CCRL_BETA"
    "ccrl.tau=$CCRL_TAU"
    "ccrl.shaping=$CCRL_SHAPING"
    "ccrl.top_k=$CCRL_TOP_K"
  )
  if [ "$METHOD" = cot_sft_ppo ]; then RL_ARGS+=("ccrl.alpha=0" "ccrl.beta=0"); fi
  case "$ZERO_VARIANCE_FILTER" in
    outcome|reward)
      local metric=ccrl_outcome
      if [ "$ZERO_VARIANCE_FILTER" = reward ]; then metric=reward; fi
      RL_ARGS+=("algorithm.filter_groups.enable=True" "algorithm.filter_groups.metric=$metric"
                "algorithm.filter_groups.max_num_gen_batches=$MAX_NUM_GEN_BATCHES") ;;
  esac
  if [ "$SKIP_PREDICTED_ZERO_VARIANCE" = 1 ]; then
    RL_ARGS+=("masa.skip_predicted_zero_variance=True" "masa.skip_history=$SKIP_HISTORY"
              "masa.skip_return_prob=$SKIP_RETURN_PROB")
  fi
  RL_ARGS+=(${MODEL_EXTRA_RL[@]+"${MODEL_EXTRA_RL[@]}"})
  if [ "$DEVICE" = cpu ]; then mapfile -t -O "${#RL_ARGS[@]}" RL_ARGS < <(ccrl_cpu_lines ppo); fi
}

ccrl_export_cpu_env() {
  if [ "$DEVICE" = cpu ]; then
    local line
    while IFS= read -r line; do export "${line?}"; done < <(ccrl_cpu_lines env)
  fi
}

ccrl_run_sft() {
  ccrl_sft_overrides
  if [ "$DRY_RUN" = 1 ]; then DRY_RUN_JOBS+=(sft --quiet "${SFT_ARGS[@]}" ---); return; fi
  [ -f "$SFT_FILE" ] || ccrl_fail "SFT data $SFT_FILE not found: build it with python -m data_prep build --out-dir $DATA_DIR"
  # A path that does not exist would reach verl as a hub id and fail there, after torchrun, with a misleading message.
  [ -d "$MODEL_PATH" ] || ccrl_fail "MODEL_PATH=$MODEL_PATH is not a directory (default: \$HOME/models/\$MODEL_NAME): set MODEL_PATH to the local Hugging Face directory of the model to fine-tune, e.g. huggingface-cli download <hub id> --local-dir $MODEL_PATH"
  local launcher=(torchrun --nnodes="$NNODES" --nproc_per_node="$N_GPUS_PER_NODE")
  if [ "$NNODES" = 1 ]; then launcher+=(--standalone); else
    launcher+=(--node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT"); fi
  if [ "$DEVICE" = cpu ]; then launcher=(torchrun --standalone --nnodes=1 --nproc_per_node=1); fi
  ccrl_export_cpu_env
  "${launcher[@]}" -m verl.trainer.sft_trainer "${SFT_ARGS[@]}"
}

ccrl_run_rl() {  # extra Hydra overrides in "$@"
  local start_model=${SFT_MODEL_PATH:-$(ccrl_latest_hf "$SFT_DIR" huggingface)}
  ccrl_rl_overrides "$start_model"
  if [ "$DRY_RUN" = 1 ]; then DRY_RUN_JOBS+=(ppo --quiet "${RL_ARGS[@]}" "$@" ---); return; fi
  [ -f "$DATA_DIR/rl_train.parquet" ] || ccrl_fail "RL data $DATA_DIR/rl_train.parquet not found (python -m data_prep build)"
  [ -d "$start_model" ] || ccrl_fail "RL start model $start_model not found: run STAGES=sft first or set SFT_MODEL_PATH"
  ccrl_export_cpu_env
  "$PYTHON" -m verl_ccrl.main_ppo "${RL_ARGS[@]}" "$@"
}

ccrl_run_eval() {
  local model
  case "$METHOD" in
    cot_sft) model=${EVAL_MODEL_PATH:-$(ccrl_latest_hf "$SFT_DIR" huggingface)} ;;
    *) model=${EVAL_MODEL_PATH:-$(ccrl_latest_hf "$RL_DIR" actor/huggingface)} ;;
  esac
  local label
  case "$METHOD" in comt_ccrl) label="CoMT+CCRL" ;; cot_sft) label="CoT-SFT" ;; cot_sft_ppo) label="CoT-SFT+RL" ;; esac
  local args=(--model "$model" --backend "$EVAL_BACKEND" --method "$label" --model-name "$MODEL_TAG"
              --max-new-tokens "$EVAL_MAX_NEW_TOKENS" --out-dir "$RESULTS_DIR" --quiet)
  if [ -n "$EVAL_LIMIT" ]; then args+=(--limit "$EVAL_LIMIT"); fi
  if [ "$DRY_RUN" = 1 ]; then echo "DRY RUN eval: $PYTHON -m verl_ccrl.eval ${args[*]} --data $EVAL_DIR/eval_*.parquet"; return; fi
  compgen -G "$EVAL_DIR/eval_*.parquet" > /dev/null || ccrl_fail "no eval files in $EVAL_DIR (python -m data_prep eval)"
  [ -d "$model" ] || ccrl_fail "model to evaluate $model not found: run the sft/rl stages first or set EVAL_MODEL_PATH"
  "$PYTHON" -m verl_ccrl.eval "${args[@]}" --data "$EVAL_DIR"/eval_*.parquet
}

ccrl_recipe_main() {  # "$@": extra Hydra overrides for the RL stage
  local stage
  DRY_RUN_JOBS=()
  for stage in $STAGES; do
    case "$stage" in
      sft) ccrl_run_sft ;;
      rl) if [ "$METHOD" != cot_sft ]; then ccrl_run_rl "$@"; fi ;;
      eval) ccrl_run_eval ;;
      *) ccrl_fail "unknown stage '$stage' in STAGES (use sft, rl, eval)" ;;
    esac
  done
  # One process checks every stage: verl's import alone takes seconds.
  if [ "${#DRY_RUN_JOBS[@]}" -gt 0 ]; then "$PYTHON" -m verl_ccrl.dry_run "${DRY_RUN_JOBS[@]}"; fi
}
