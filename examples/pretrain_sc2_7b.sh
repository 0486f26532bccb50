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
#   GPUS_PER_NODE     default 8;  MASTER_PORT default 29500
#   SRUN_ARGS         more srun options, e.g. a container: "--container-image=IMAGE --container-mounts=..."
# Arguments override the config (Megatron-LM flag names), e.g. --exit-duration-in-mins 230.
#
# Layout: TP 2, PP 1, sequence parallel, selective recompute, distributed optimizer; DP = 4 x nodes.
# Estimated memory per GPU (GiB), 3.59B parameters per GPU (7.17B / TP 2), from
# megatron_sc2/training/memory.py (each stage logs its own at start; tools/gpu_acceptance.py measures it):
#   weights bf16 2 B + grads fp32 4 B + fp32 master weights and Adam moments 12 B / DP:
#       20.7 at DP 64 (16 nodes), 22.5 at DP 16 (4 nodes)
#   activations, <= 34 s h / TP bytes per layer with sequence parallel and selective recompute
#   (Korthikanti et al. 2022), x 32 layers:  4k 9.6,  16k 38.2
#   logits and cross entropy in fp32, vocabulary split over TP, ~10 s V / TP bytes: 4k 0.9, 16k 3.8
#   total: 4k ~31, 16k ~63 (16 nodes) to ~65 (4 nodes), plus a few GiB of CUDA context, NCCL
#   buffers and allocator slack, of 80.
# Why: the 34 s h bound is an MHA layer with dropout masks; this GQA layer without dropout keeps
# ~28 s h, so the 16k stage is nearer 56 GiB. TP 2 moves half the TP traffic of TP 4 and keeps the
# GEMMs large; TP 4 (the cap, 4 KV groups; ~32 GiB at 16k) is the fallback if memory runs short:
# --tensor-model-parallel-size 4. No pipeline parallelism, so no bubble. Runs on 4 to 32 nodes (a
# power of two, so DP divides the global batches 896 and 256); 1-2 nodes are too tight at 16k.
set -euo pipefail

CONFIG=sc2-7b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
