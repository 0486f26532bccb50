#!/usr/bin/env bash
# StarCoder2-3B pretraining on nodes of 8x H100 80GB: the 4k base stage, then the 16k long-context
# stage (examples/configs/sc2-3b.yaml), resuming from $CHECKPOINT_DIR when it holds a checkpoint.
#
#   sbatch --nodes 8 examples/slurm/pretrain_sc2.sbatch 3b      # batch job
#   examples/pretrain_sc2_3b.sh [overrides...]                  # inside salloc, or on one machine
# Without SLURM, run it on every node with NNODES, NODE_RANK and MASTER_ADDR set.
#
# Environment:
#   DATA_PATH         required  dataset prefix, or a blend "W1 PREFIX1 W2 PREFIX2 ..." (tools/preprocess_data.py)
#   TOKENIZER_MODEL   required  tokenizer.json or its folder
#   CHECKPOINT_DIR    required  --save; also --load once it holds a checkpoint
#   TENSORBOARD_DIR   default $CHECKPOINT_DIR/tensorboard
#   METRICS_FILE      default $CHECKPOINT_DIR/metrics.jsonl   (plot with tools/plot_metrics.py)
#   DATA_CACHE_PATH   default $CHECKPOINT_DIR/data_cache      (shared by all nodes)
#   WANDB_PROJECT     optional; W&B run name from WANDB_NAME, default the job name
#   GPUS_PER_NODE     default 8;  MASTER_PORT default 29500
#   SRUN_ARGS         more srun options, e.g. a container: "--container-image=IMAGE --container-mounts=..."
# Arguments override the config (Megatron-LM flag names), e.g. --exit-duration-in-mins 230.
#
# Layout: TP 2, PP 1, sequence parallel, selective recompute, distributed optimizer; DP = 4 x nodes.
# Estimated memory per GPU (GiB), 1.52B parameters per GPU (3.03B / TP 2), from
# megatron_sc2/training/memory.py (each stage logs its own at start; tools/gpu_acceptance.py measures it):
#   weights bf16 2 B + grads fp32 4 B + fp32 master weights and Adam moments 12 B / DP:
#       8.7 at DP 64 (16 nodes), 12.7 at DP 4 (1 node)
#   activations, <= 34 s h / TP bytes per layer with sequence parallel and selective recompute
#   (Korthikanti et al. 2022; GQA and zero dropout store less), x 30 layers:  4k 6.0,  16k 23.9
#   logits and cross entropy in fp32, vocabulary split over TP, ~10 s V / TP bytes: 4k 0.9, 16k 3.8
#   total: 4k ~16, 16k ~36 to ~40, plus a few GiB of CUDA context, NCCL buffers and allocator
#   slack, of 80.
# Why: TP is capped at 2 by the 2 KV groups. TP 1 would need ~73 GiB at 16k (17 weights, grads and
# optimizer, 48 activations, 7.5 logits) before context and fragmentation: too close to 80. With
# that room, no pipeline parallelism and no bubble. Runs on 1 to 32 nodes (a power of two, so
# DP divides the global batches 640 and 128).
set -euo pipefail

CONFIG=sc2-3b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
