# Sourced by the launchers: the environment checks and `python -m megatron_sc2.pretrain`
# arguments they share. Defines REPO, require_env and pretrain_args (which fills `args`).
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# require_env NAME...: every named variable is set, and TOKENIZER_MODEL exists.
require_env() {
    local missing=() name
    for name in "$@"; do
        [[ -n "${!name:-}" ]] || missing+=("$name")
    done
    if ((${#missing[@]})); then
        echo "error: set ${missing[*]} (see the header of $0)" >&2
        exit 2
    fi
    if [[ ! -e "$TOKENIZER_MODEL" ]]; then
        echo "error: TOKENIZER_MODEL=$TOKENIZER_MODEL does not exist" >&2
        exit 2
    fi
}

# pretrain_args CONFIG_FILE [OVERRIDES...]: the run's arguments in the array `args`, resuming from
# CHECKPOINT_DIR when it holds a checkpoint; overrides come last, so they win.
pretrain_args() {
    local config=$1 blend
    shift
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
    if [[ -n "${WANDB_PROJECT:-}" ]]; then
        args+=(--wandb-project "$WANDB_PROJECT" --wandb-exp-name "${WANDB_NAME:-${SLURM_JOB_NAME:-$(basename "$config" .yaml)}}")
    fi
    args+=("$@")
}

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export CUDA_DEVICE_MAX_CONNECTIONS=1  # keeps TP/SP communication ordered before compute (Megatron-LM)
export TORCH_NCCL_AVOID_RECORD_STREAMS=1
export MASTER_PORT=${MASTER_PORT:-29500}
