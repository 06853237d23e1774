#!/usr/bin/env bash
# CoMT SFT + CCRL on Llama-3.1-8B-Instruct (the paper's Llama model). Baselines: METHOD=cot_sft | cot_sft_ppo.
#   MODEL_PATH=/models/Llama-3.1-8B-Instruct DATA_DIR=/data/gsm8k bash recipes/llama3_8b_ccrl.sh [hydra overrides]
#   DRY_RUN=1 bash recipes/llama3_8b_ccrl.sh        # check every stage's config on a CPU machine
set -xeuo pipefail

MODEL_NAME=${MODEL_NAME:-Llama-3.1-8B-Instruct}
MODEL_TAG=${MODEL_TAG:-llama3.1-8b}
# Llama-3 splits numbers into chunks of up to three digits; the token alignment handles it (README).
ROLLOUT_TP=${ROLLOUT_TP:-1}
MICRO_BATCH_SIZE=${MICRO_BATCH_SIZE:-8}

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ccrl_recipe_main "$@"
