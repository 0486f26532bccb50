#!/usr/bin/env bash
# StarCoder2 pretraining launched by mpirun, one process per GPU, for clusters without torchrun
# or SLURM. megatron_sc2 reads rank, world size and local rank from MPI through mpi4py
# (pip install -e '.[mpi]'); rank 0's host name becomes the rendezvous address.
#
#   NP=32 HOSTFILE=hosts SIZE=15b examples/pretrain_mpirun.sh [overrides...]
#
# Environment:
#   DATA_PATH, TOKENIZER_MODEL, CHECKPOINT_DIR   required, as in examples/pretrain_sc2_15b.sh
#   DRY_RUN=1     plan the launch at NP GPUs and start nothing (docs/training.md, "Planning a launch")
#   NP            required  processes in total, one per GPU (a multiple of the layout's TP x PP)
#   SIZE          3b, 7b or 15b (default 15b): examples/configs/sc2-$SIZE.yaml and its layout
#   HOSTFILE      MPI host file with 8 slots per node (omit on one machine)
#   MPIRUN_ARGS   more mpirun options, e.g. "--map-by ppr:8:node --bind-to none" (Open MPI)
#   TENSORBOARD_DIR, METRICS_FILE, DATA_CACHE_PATH, MASTER_PORT   as in the SLURM launchers
# Arguments override the config (Megatron-LM flag names). With Open MPI the variables this
# script sets are forwarded with -x; MPICH and Intel MPI forward the environment themselves.
set -euo pipefail

# shellcheck source=examples/lib/pretrain_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pretrain_env.sh"
SIZE=${SIZE:-15b}
config="$REPO/examples/configs/sc2-$SIZE.yaml"
if dry_run; then
    require_env NP
else
    require_env DATA_PATH TOKENIZER_MODEL CHECKPOINT_DIR NP
fi
whole_number NP
if [[ ! -f "$config" ]]; then
    echo "error: no config $config (SIZE is 3b, 7b or 15b)" >&2
    exit 2
fi
pretrain_args "$config" "$@"
if dry_run; then  # DRY_RUN=1: plan the launch at NP GPUs and stop, as examples/lib/torchrun_pretrain.sh does
    exec "${PYTHON:-python}" -m megatron_sc2.pretrain "${args[@]}" --dry-run --world-size "$NP"
    exit 2
fi

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
