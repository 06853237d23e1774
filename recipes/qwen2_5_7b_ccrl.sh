#!/usr/bin/env bash
# CoMT SFT + CCRL on Qwen2.5-7B-Instruct. Baselines: METHOD=cot_sft | cot_sft_ppo.
#   MODEL_PATH=/models/Qwen2.5-7B-Instruct DATA_DIR=/data/gsm8k bash recipes/qwen2_5_7b_ccrl.sh [hydra overrides]
set -xeuo pipefail

MODEL_NAME=${MODEL_NAME:-Qwen2.5-7B-Instruct}
MODEL_TAG=${MODEL_TAG:-qwen2.5-7b}
ROLLOUT_TP=${ROLLOUT_TP:-1}
MICRO_BATCH_SIZE=${MICRO_BATCH_SIZE:-8}

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ccrl_recipe_main "$@"
