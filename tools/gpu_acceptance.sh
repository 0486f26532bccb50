#!/usr/bin/env bash
# The GPU acceptance in one command, on a machine with Python and a CUDA build of torch (docs/gpu.md):
#
#   tools/gpu_acceptance.sh [tools/gpu_acceptance.py options, e.g. --out DIR]
#
# On an offline machine, first put the wheels it lacks in .whl/ (tools/gpu_wheels.sh, run where pip
# reaches PyPI): they are installed into a private folder that this run alone puts on PYTHONPATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SITE=${SC2_WHEEL_SITE:-/tmp/sc2_site}

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PYTHON" -c "import megatron.core, zstandard" 2>/dev/null; then
    echo "error: megatron-core or zstandard is not importable by $PYTHON: pip install -e . here, or carry" \
        "wheels in .whl/ (tools/gpu_wheels.sh; docs/gpu.md)" >&2
    exit 2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PYTHON" tools/gpu_acceptance.py "$@"
