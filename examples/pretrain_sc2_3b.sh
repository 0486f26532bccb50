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
#   GPUS_PER_NODE     default 8;  MASTER_PORT default 29500;  NNODES default 1, NODE_RANK default 0
#                     (each a plain whole number: digits only, no leading zero)
#   DRY_RUN=1         plan the launch on this machine and start nothing; DATA_PATH, TOKENIZER_MODEL and
#                     CHECKPOINT_DIR are optional then (the plan names what it could not check)
#   SRUN_ARGS         more srun options, e.g. a container: "--container-image=IMAGE --container-mounts=..."
# Arguments override the config (Megatron-LM flag names), e.g. --exit-duration-in-mins 230.
#
# Layout: TP 2, PP 1, sequence parallel, selective recompute, distributed optimizer; DP = 4 x nodes.
# BEGIN planned memory
# Memory per GPU (GiB of 80), planned by `DRY_RUN=1 examples/pretrain_sc2_3b.sh` on a CPU
# (docs/training.md, "Planning a launch"; tools/plan_tables.py writes this block):
#   nodes  stage            weights    grads  optimizer  activations   logits    total
#       1  base-4k              2.8      5.6        4.2          5.6      0.5     18.8
#       1  long-context-16k     2.8      5.6        4.2         22.3      1.9     37.0
#      32  base-4k              2.8      5.6        0.1          5.6      0.5     14.7
#      32  long-context-16k     2.8      5.6        0.1         22.3      1.9     32.9
# CUDA context, NCCL buffers and allocator slack (a few GiB) come on top.
# END planned memory
# Why: TP is capped at 2 by the 2 KV groups. TP 1 (--no-sequence-parallel) plans at 69 GiB at 16k on
# one node: too close to 80. With that room, no pipeline parallelism and no bubble. Runs on 1 to 32
# nodes (a power of two, so DP divides the global batches 640 and 128).
set -euo pipefail

CONFIG=sc2-3b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
