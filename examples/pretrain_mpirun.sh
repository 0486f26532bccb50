#!/usr/bin/env bash
# StarCoder2 pretraining launched by mpirun, one process per GPU, for clusters without torchrun
# or SLURM. megatron_sc2 reads rank, world size and local rank from MPI through mpi4py
# (pip install -e '.[mpi]'); rank 0's host name becomes the rendezvous address.
#
#   NP=32 HOSTFILE=hosts SIZE=15b examples/pretrain_mpirun.sh [overrides...]
#
# Environment:
#   DATA_PATH, TOKENIZER_MODEL, CHECKPOINT_DIR   required, as in examples/pretrain_sc2_15b.sh
#   NP            required  processes in total, one per GPU (a multiple of the layout's TP x PP)
#   SIZE          3b, 7b or 15b (default 15b): examples/configs/sc2-$SIZE.yaml and its layout
#   HOSTFILE      MPI host file with 8 slots per node (omit on one machine)
#   MPIRUN_ARGS   more mpirun options, e.g. "--map-by ppr:8:node --bind-to none" (Open MPI)
#   TENSORBOARD_DIR, METRICS_FILE, DATA_CACHE_PATH, MASTER_PORT   as in the SLURM launchers
# Arguments override the config (Megatron-LM flag names). With Open MPI the variables this
# script sets are forwarded with -x; MPICH and Intel MPI forward the environment themselves.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${SIZE:-15b}
config="$REPO/examples/configs/sc2-$SIZE.yaml"

missing=()
for name in DATA_PATH TOKENIZER_MODEL CHECKPOINT_DIR NP; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
done
if ((${#missing[@]})); then
    echo "error: set ${missing[*]} (see the header of $0)" >&2
    exit 2
fi
if [[ ! -f "$config" ]]; then
    echo "error: no config $config (SIZE is 3b, 7b or 15b)" >&2
    exit 2
fi
if [[ ! -e "$TOKENIZER_MODEL" ]]; then
    echo "error: TOKENIZER_MODEL=$TOKENIZER_MODEL does not exist" >&2
    exit 2
fi

mkdir -p "$CHECKPOINT_DIR"
read -r -a blend <<<"$DATA_PATH"
args=(
    --config "$config"
    --data-path "${blend[@]}"
    --tokenizer-model "$TOKENIZER_MODEL"
    --save "$CHECKPOINT_DIR"
    --data-cache-path "${DATA_CACHE_PATH:-$CHECKPOINT_DIR/data_cache}"
    --tensorboard-dir "${TENSORBOARD_DIR:-$CHECKPOINT_DIR/tensorboard}"
    --metrics-file "${METRICS_FILE:-$CHECKPOINT_DIR/metrics.jsonl}"
)
if [[ -f "$CHECKPOINT_DIR/latest_checkpointed_iteration.txt" ]]; then
    args+=(--load "$CHECKPOINT_DIR")
    echo "resuming from $CHECKPOINT_DIR, iteration $(cat "$CHECKPOINT_DIR/latest_checkpointed_iteration.txt")" >&2
fi
args+=("$@")

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export CUDA_DEVICE_MAX_CONNECTIONS=1  # keeps TP/SP communication ordered before compute (Megatron-LM)
export TORCH_NCCL_AVOID_RECORD_STREAMS=1
export MASTER_PORT=${MASTER_PORT:-29500}

mpirun_args=(-np "$NP")
if [[ -n "${HOSTFILE:-}" ]]; then
    mpirun_args+=(--hostfile "$HOSTFILE")
fi
if mpirun --version 2>&1 | grep -q "Open MPI"; then
    for name in PATH LD_LIBRARY_PATH PYTHONPATH CUDA_DEVICE_MAX_CONNECTIONS TORCH_NCCL_AVOID_RECORD_STREAMS MASTER_PORT; do
        if [[ -n "${!name:-}" ]]; then mpirun_args+=(-x "$name"); fi
    done
fi
read -r -a extra <<<"${MPIRUN_ARGS:-}"
exec mpirun "${mpirun_args[@]}" "${extra[@]}" python -m megatron_sc2.pretrain "${args[@]}"
