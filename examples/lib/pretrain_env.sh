# Sourced by the launchers: the environment checks and `python -m megatron_sc2.pretrain`
# arguments they share. Defines REPO, require_env, whole_number, dry_run and pretrain_args (which
# fills `args`).
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
    if [[ -n "${TOKENIZER_MODEL:-}" && ! -e "$TOKENIZER_MODEL" ]]; then
        echo "error: TOKENIZER_MODEL=$TOKENIZER_MODEL does not exist" >&2
        exit 2
    fi
}

# whole_number NAME [MIN [MAX]]: NAME holds a plain decimal number of at least MIN (default 1), and at
# most MAX: digits only, no sign, point, exponent or leading zero (bash arithmetic reads 08 as octal and
# 1e2 as a variable's name), and at most 9 of them.
whole_number() {
    local name=$1 min=${2:-1} max=${3:-999999999}
    local value=${!name:-} range="of at least ${2:-1}"
    if [[ -n "${3:-}" ]]; then range="from $min to $max"; fi
    if [[ ! "$value" =~ ^(0|[1-9][0-9]{0,8})$ ]] || ((value < min || value > max)); then
        echo "error: $name=$value: give a whole number $range, in plain digits (no leading zero)" >&2
        exit 2
    fi
}

# dry_run: whether DRY_RUN asks for a plan (DRY_RUN=1) rather than a launch (unset, empty or 0).
# Any other value is refused: a misspelt dry run must not start a real launch.
dry_run() {
    case "${DRY_RUN:-0}" in
        1) return 0 ;;
        0) return 1 ;;
        *)
            echo "error: DRY_RUN=$DRY_RUN: set DRY_RUN=1 to plan the launch, or leave it unset to launch" >&2
            exit 2
            ;;
    esac
}

# pretrain_args CONFIG_FILE [OVERRIDES...]: the run's arguments in the array `args`, resuming from
# CHECKPOINT_DIR when it holds a checkpoint; overrides come last, so they win. Variables left unset
# give no flag (a plan needs none of them); a launch has checked them with require_env.
pretrain_args() {
    local config=$1 blend
    shift
    args=(--config "$config")
    if [[ -n "${DATA_PATH:-}" ]]; then
        read -r -a blend <<<"$DATA_PATH"
        args+=(--data-path "${blend[@]}")
    fi
    if [[ -n "${TOKENIZER_MODEL:-}" ]]; then
        args+=(--tokenizer-model "$TOKENIZER_MODEL")
    fi
    if [[ -n "${CHECKPOINT_DIR:-}" ]]; then
        dry_run || mkdir -p "$CHECKPOINT_DIR"
        args+=(
            --save "$CHECKPOINT_DIR"
            --data-cache-path "${DATA_CACHE_PATH:-$CHECKPOINT_DIR/data_cache}"
            --tensorboard-dir "${TENSORBOARD_DIR:-$CHECKPOINT_DIR/tensorboard}"
            --metrics-file "${METRICS_FILE:-$CHECKPOINT_DIR/metrics.jsonl}"
        )
        if [[ -f "$CHECKPOINT_DIR/latest_checkpointed_iteration.txt" ]]; then
            args+=(--load "$CHECKPOINT_DIR")
            echo "resuming from $CHECKPOINT_DIR, iteration $(cat "$CHECKPOINT_DIR/latest_checkpointed_iteration.txt")" >&2
        fi
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
