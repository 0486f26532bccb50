"""A plan as a readable table, and as JSON (`--plan-output`)."""

from __future__ import annotations

from megatron_sc2.planning.plan import LaunchPlan

MEMORY_TERMS = ("weights", "grads", "optimizer", "activations", "logits", "total")
OVERHEAD_NOTE = "CUDA context, NCCL buffers and allocator slack (a few GiB) come on top"


def to_json(plan: LaunchPlan) -> dict:
    return {
        "world_size": plan.world_size,
        "layout": {"tensor_parallel": plan.tp, "pipeline_parallel": plan.pp, "virtual_pipeline": plan.vpp,
                   "data_parallel": plan.dp},
        "gpu_memory_gib": plan.gpu_memory_gib, "assumed_mfu": plan.assumed_mfu, "peak_tflops": plan.peak_tflops,
        "attention": plan.attention,
        "total_parameters": plan.total_parameters, "vocab_size": plan.vocab_size, "vocabulary": plan.vocabulary,
        "not_checked": plan.not_checked,
        "fits": plan.fits, "headroom_gib": round(plan.headroom_gib, 3), "problems": plan.problems,
        "advice": plan.advice,
        "stages": [{
            "name": s.name, "seq_length": s.seq_length, "global_batch_size": s.global_batch_size,
            "train_iters": s.train_iters, "num_microbatches": s.num_microbatches,
            "flops_per_iteration": s.cost.flops_per_iteration, "tokens_per_iteration": s.cost.tokens_per_iteration,
            "bubble": s.cost.bubble, "step_seconds": s.cost.step_seconds,
            "tokens_per_second_per_gpu": s.cost.tokens_per_second_per_gpu, "days": s.cost.days,
            "pipeline_ranks": [{
                "pipeline_rank": r.pipeline_rank, "global_rank": r.global_rank, "parameters": r.parameters,
                "chunk_parameters": r.chunk_parameters, "chunks_in_flight": r.chunks_in_flight,
                "memory_gib": {k: round(r.memory_gib[k], 3) for k in MEMORY_TERMS},
            } for r in s.ranks],
        } for s in plan.stages],
    }


def layout_line(plan: LaunchPlan, run) -> str:
    parallel = run.parallel
    parts = [f"TP {plan.tp} x PP {plan.pp}" + (f" (x {plan.vpp} virtual)" if plan.vpp else "") + f" x DP {plan.dp}"]
    parts.append("sequence parallel" if parallel.sequence_parallel else "no sequence parallel")
    parts.append(f"{run.parallel_options.recompute_granularity} recompute" if run.parallel_options.recompute_granularity else "no recompute")
    parts.append("distributed optimizer" if parallel.use_distributed_optimizer else "replicated optimizer")
    parts.append(f"micro batch {run.batch.micro_batch_size}")
    return ", ".join(parts)


def table(plan: LaunchPlan, run) -> str:
    attention = "flash/fused attention (GPU)" if plan.attention == "flash" else "local attention (CPU)"
    lines = [f"plan: {plan.world_size} GPUs of {plan.gpu_memory_gib:g} GiB; {layout_line(plan, run)}; {attention}",
             f"parameters: {plan.total_parameters:,} in all, with a vocabulary of {plan.vocab_size:,}"
             + (f" ({plan.vocabulary})" if plan.vocabulary else "")]
    if plan.not_checked:
        lines.append(f"not given, so not checked: {', '.join(plan.not_checked)}")
    header = f"  {'pipeline rank':>13}  {'parameters':>15}  " + "  ".join(f"{t:>11}" for t in MEMORY_TERMS)
    for stage in plan.stages:
        cost = stage.cost
        lines += [
            "",
            (f"stage {stage.name}: seq {stage.seq_length}, global batch {stage.global_batch_size} = "
             f"{stage.num_microbatches} microbatch{'es' if stage.num_microbatches > 1 else ''} x "
             f"{run.batch.micro_batch_size} x DP {plan.dp}; GiB per GPU:"),
            header,
        ]
        for rank in stage.ranks:
            memory = "  ".join(f"{rank.memory_gib[t]:>11.2f}" for t in MEMORY_TERMS)
            lines.append(f"  {rank.pipeline_rank:>13}  {rank.parameters:>15,}  {memory}")
        lines.append(
            f"  {cost.tokens_per_iteration:,} tokens and {cost.flops_per_iteration:.3g} FLOPs per iteration; "
            f"bubble {cost.bubble:.1%}; at MFU {plan.assumed_mfu:.0%} of {plan.peak_tflops:g} TFLOP/s: "
            f"{cost.step_seconds:.2f} s per iteration, {cost.tokens_per_second_per_gpu:,.0f} tokens/s per GPU, "
            f"{cost.days:.1f} days for {stage.train_iters:,} iterations")
    lines.append("")
    if plan.fits:
        lines.append(f"fits: {plan.headroom_gib:.1f} GiB headroom on the fullest GPU ({OVERHEAD_NOTE})")
    else:
        lines.append("does not fit:")
        lines += [f"  - {problem}" for problem in plan.problems]
        if plan.advice:
            lines.append(plan.advice)
    return "\n".join(lines)
