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
#   GPUS_PER_NODE     default 8;  MASTER_PORT default 29500
#   SRUN_ARGS         more srun options, e.g. a container: "--container-image=IMAGE --container-mounts=..."
# Arguments override the config (Megatron-LM flag names), e.g. --exit-duration-in-mins 230.
#
# Layout: TP 4, PP 1, sequence parallel, selective recompute, distributed optimizer; DP = 2 x nodes.
# Estimated memory per GPU (GiB), 3.99B parameters per GPU (15.96B / TP 4), from
# megatron_sc2/training/memory.py (each stage logs its own at start; tools/gpu_acceptance.py measures it):
#   weights bf16 2 B + grads fp32 4 B + fp32 master weights and Adam moments 12 B / DP:
#       23.7 at DP 32 (16 nodes), 27.9 at DP 8 (4 nodes)
#   activations, <= 34 s h / TP bytes per layer with sequence parallel and selective recompute
#   (Korthikanti et al. 2022; GQA and zero dropout store less), x 40 layers:  4k 8.0,  16k 31.9
#   logits and cross entropy in fp32, vocabulary split over TP, ~10 s V / TP bytes: 4k 0.5, 16k 1.9
#   total: 4k ~32, 16k ~57 (16 nodes) to ~62 (4 nodes), plus a few GiB of CUDA context, NCCL
#   buffers and allocator slack, of 80.
# Why: TP is capped at 4 by the 4 KV groups and stays inside a node's NVLink. PP 2 would save
# ~12 GiB of weights and grads but no activations (1F1B keeps PP microbatches of L/PP layers in
# flight), and the 16k stage has few microbatches per rank (256 sequences / DP 256 = 1 on 128
# nodes), so its bubble (PP-1)/microbatches would reach 50%. Runs on 4 to 128 nodes (a power of
# two, so DP divides the global batches 1024 and 256); 1 node does not fit the 16k stage, 2 is tight.
set -euo pipefail

CONFIG=sc2-15b
# shellcheck source=examples/lib/torchrun_pretrain.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/torchrun_pretrain.sh"
