#!/usr/bin/env bash
# CoMT SFT + CCRL on Qwen3-8B. Baselines: METHOD=cot_sft | cot_sft_ppo.
#   MODEL_PATH=/models/Qwen3-8B DATA_DIR=/data/gsm8k bash recipes/qwen3_8b_ccrl.sh [hydra overrides]
set -xeuo pipefail

MODEL_NAME=${MODEL_NAME:-Qwen3-8B}
MODEL_TAG=${MODEL_TAG:-qwen3-8b}
ROLLOUT_TP=${ROLLOUT_TP:-1}
MICRO_BATCH_SIZE=${MICRO_BATCH_SIZE:-8}
# Qwen3's template adds a <think> block unless told not to: the targets here are the reasoning, so no thinking mode.
MODEL_EXTRA_SFT=("data.enable_thinking_default=false")
MODEL_EXTRA_RL=("+data.apply_chat_template_kwargs.enable_thinking=false")

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ccrl_recipe_main "$@"
