#!/usr/bin/env bash
# Download into .whl/ the wheels an offline GPU machine needs for tools/gpu_acceptance.sh (docs/gpu.md):
# by default the two that an image with Python 3.12, a CUDA torch, transformers and tokenizers lacks.
#
#   tools/gpu_wheels.sh [PACKAGE==VERSION ...]      # more packages for a barer machine
#
# PYTHON_VERSION (default 3.12) and MEGATRON_CORE (default 0.16.1, the tested release) choose the build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
    manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
# --no-deps: megatron-core requires torch, and resolving it would fetch a multi-GB CUDA wheel.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    "${platforms[@]}" -d .whl "megatron-core==${MEGATRON_CORE:-0.16.1}" zstandard "$@"
du -sh .whl
echo "carry .whl/ with the repository (it must stay under the 64 MiB a device call carries): git ignores it"
