# Sourced by examples/pretrain_sc2_*.sh with CONFIG set: torchrun on every node, one srun task per
# node under SLURM, else on this machine (NNODES, NODE_RANK, MASTER_ADDR for several).
# shellcheck shell=bash

# shellcheck source=examples/lib/pretrain_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/pretrain_env.sh"
: "${CONFIG:?set by the launcher that sources this file}"
if ! dry_run; then
    require_env DATA_PATH TOKENIZER_MODEL CHECKPOINT_DIR
fi
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
whole_number GPUS_PER_NODE
whole_number NNODES
whole_number NODE_RANK 0 "$((NNODES - 1))"
whole_number MASTER_PORT 1 65535
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    whole_number SLURM_NNODES
fi
pretrain_args "$REPO/examples/configs/$CONFIG.yaml" "$@"

# DRY_RUN=1: plan this launch on this machine (a CPU is enough) at the world size it would start,
# print the plan (and write PLAN_OUTPUT, if set), and stop: exit 0 when it fits, 1 when not. Data,
# tokenizer and checkpoint folder are optional here: the plan says which it could not check.
if dry_run; then
    plan_output=()
    if [[ -n "${PLAN_OUTPUT:-}" ]]; then
        plan_output=(--plan-output "$PLAN_OUTPUT")
    fi
    world_size=$((${SLURM_NNODES:-$NNODES} * GPUS_PER_NODE))
    exec "${PYTHON:-python}" -m megatron_sc2.pretrain "${args[@]}" --dry-run --world-size "$world_size" \
        "${plan_output[@]}"
    exit 2  # a plan that could not start never falls through to a launch
fi

if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
    export MASTER_ADDR GPUS_PER_NODE
    read -r -a srun_extra <<<"${SRUN_ARGS:-}"
    # One task per node; each runs torchrun, which starts one process per GPU. SLURM_NODEID is
    # expanded by the task's own shell, hence the single quotes. SLURM signals every process of
    # the step (scancel --signal, preemption, the time limit): the workers save and exit 0, and
    # torchrun ignores SIGTERM/SIGUSR1 so that it waits for them and reports their success
    # (handling SIGTERM itself, it would exit 1 and the job would end FAILED).
    # shellcheck disable=SC2016
    exec srun --nodes "$SLURM_NNODES" --ntasks-per-node 1 --kill-on-bad-exit=1 "${srun_extra[@]}" bash -c '
        trap "" TERM USR1
        exec torchrun --nnodes "$SLURM_NNODES" --node-rank "$SLURM_NODEID" --nproc-per-node "$GPUS_PER_NODE" \
            --rdzv-backend static --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --signals-to-handle SIGINT,SIGHUP,SIGQUIT \
            -m megatron_sc2.pretrain "$@"' torchrun "${args[@]}"
fi

exec torchrun --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc-per-node "$GPUS_PER_NODE" \
    --rdzv-backend static --rdzv-endpoint "${MASTER_ADDR:-localhost}:$MASTER_PORT" \
    -m megatron_sc2.pretrain "${args[@]}"
