#!/usr/bin/env bash
# StarCoder2-7B pretraining on nodes of 8x H100 80GB: the 4k base stage, then the 16k long-context
# stage (examples/configs/sc2-7b.yaml), resuming from $CHECKPOINT_DIR when it holds a checkpoint.
#
#   sbatch --nodes 16 examples/slurm/pretrain_sc2.sbatch 7b     # batch job
#   examples/pretrain_sc2_7b.sh [overrides...]                  # inside salloc, or on one machine
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
# Memory per GPU (GiB of 80), planned by `DRY_RUN=1 examples/pretrain_sc2_7b.sh` on a CPU
# (docs/training.md, "Planning a launch"; tools/plan_tables.py writes this block):
#   nodes  stage            weights    grads  optimizer  activations   logits    total
#       4  base-4k              6.7     13.4        2.5          9.0      0.4     31.9
#       4  long-context-16k     6.7     13.4        2.5         35.7      1.7     60.0
#      32  base-4k              6.7     13.4        0.3          9.0      0.4     29.7
#      32  long-context-16k     6.7     13.4        0.3         35.7      1.7     57.8
# CUDA context, NCCL buffers and allocator slack (a few GiB) come on top.
# END planned memory
# Why: TP 2 moves half the TP traffic of TP 4 and keeps the GEMMs large; TP 4 (the cap, 4 KV groups;
# 32 GiB at 16k on 4 nodes) is the fallback if memory runs short: --tensor-model-parallel-size 4. No
# pipeline parallelism, so no bubble. Runs on 4 to 32 nodes (a power of two, so DP divides the global
# batches 896 and 256); 1 node plans at 68 GiB at 16k, too tight.
set -euo pipefail

CONFIG=sc2-7b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
