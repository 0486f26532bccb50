#!/usr/bin/env bash
# StarCoder2-15B pretraining on nodes of 8x H100 80GB: the 4k base stage, then the 16k long-context
# stage (examples/configs/sc2-15b.yaml), resuming from $CHECKPOINT_DIR when it holds a checkpoint.
#
#   sbatch --nodes 16 examples/slurm/pretrain_sc2.sbatch 15b    # batch job
#   examples/pretrain_sc2_15b.sh [overrides...]                 # inside salloc, or on one machine
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
# Layout: TP 4, PP 1, sequence parallel, selective recompute, distributed optimizer; DP = 2 x nodes.
# BEGIN planned memory
# Memory per GPU (GiB of 80), planned by `DRY_RUN=1 examples/pretrain_sc2_15b.sh` on a CPU
# (docs/training.md, "Planning a launch"; tools/plan_tables.py writes this block):
#   nodes  stage            weights    grads  optimizer  activations   logits    total
#       4  base-4k              7.4     14.9        5.6          7.5      0.2     35.5
#       4  long-context-16k     7.4     14.9        5.6         29.8      0.7     58.3
#     128  base-4k              7.4     14.9        0.2          7.5      0.2     30.1
#     128  long-context-16k     7.4     14.9        0.2         29.8      0.7     52.9
# CUDA context, NCCL buffers and allocator slack (a few GiB) come on top.
# END planned memory
# Why: TP is capped at 4 by the 4 KV groups and stays inside a node's NVLink. PP 2 would save
# 11 GiB of weights and grads but no activations (1F1B keeps PP microbatches of L/PP layers in
# flight), and the 16k stage has few microbatches per rank (256 sequences / DP 256 = 1 on 128
# nodes), so its bubble (PP-1)/microbatches would reach 50%. Runs on 4 to 128 nodes (a power of
# two, so DP divides the global batches 1024 and 256); 1 node plans at 75 GiB at 16k, too tight.
set -euo pipefail

CONFIG=sc2-15b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
