"""Plan a launch: for each training stage and each pipeline rank, the parameters, the memory against
the GPU's, and the time, from the real start-up path on a fake world of the real size.

`plan_launch` takes the RunConfig that `parse_args` validated (every check a real launch makes has
run by then) and, per stage and pipeline rank, starts megatron-core's parallel state as that
rank (on torch's fake backend), asks megatron-core's microbatch calculator for the microbatches,
builds the rank's model chunks and DDP buffers on the meta device, and measures one microbatch's
activations under FakeTensorMode.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from megatron_sc2.model import RecomputeConfig, to_transformer_config
from megatron_sc2.planning import activations, pipeline
from megatron_sc2.planning.cost import StageCost, stage_cost
from megatron_sc2.planning.fake_world import fake_world, first_rank_of_pipeline_stage
from megatron_sc2.planning.layer_spec import planning_spec
from megatron_sc2.planning.weights import RankWeights, build_rank_weights
from megatron_sc2.training.flops import device_peak_tflops
from megatron_sc2.training.trainer import stage_model_config

GIB = 2**30
DEFAULT_GPU = "h100"  # the launchers' nodes: 8x H100 80GB


@dataclass(frozen=True)
class LaunchSettings:
    """What a plan reads from the run besides its model, layout and stages."""

    micro_batch_size: int
    recompute: RecomputeConfig
    bf16: bool
    seed: int
    peak_tflops: float | None


def launch_settings(run) -> LaunchSettings:
    """The one place that knows where these options live in a RunConfig."""
    return LaunchSettings(
        micro_batch_size=run.batch.micro_batch_size,
        recompute=RecomputeConfig(run.parallel_options.recompute_granularity, num_layers=run.parallel_options.recompute_num_layers),
        bf16=run.optimizer.bf16,
        seed=run.logging.seed,
        peak_tflops=run.logging.peak_tflops,
    )


@dataclass
class RankPlan:
    pipeline_rank: int
    global_rank: int
    chunk_parameters: list[int]
    chunks_in_flight: int
    memory_gib: dict  # weights, grads, optimizer, activations, logits, total

    @property
    def parameters(self) -> int:
        return sum(self.chunk_parameters)


@dataclass
class StagePlan:
    name: str
    seq_length: int
    global_batch_size: int
    train_iters: int
    num_microbatches: int
    cost: StageCost
    ranks: list[RankPlan] = field(default_factory=list)


@dataclass
class LaunchPlan:
    world_size: int
    tp: int
    pp: int
    vpp: int | None
    dp: int
    gpu_memory_gib: float
    assumed_mfu: float
    peak_tflops: float
    attention: str
    total_parameters: int
    stages: list[StagePlan]
    problems: list[str]
    vocab_size: int = 0  # the embedding's rows before padding for TP
    vocabulary: str = ""  # where that size came from (planning/cli.py)
    not_checked: list[str] = field(default_factory=list)  # options the plan was not given, so did not check
    advice: str = ""  # when it does not fit: the change that fits, planned, or that none does

    @property
    def fits(self) -> bool:
        return not self.problems

    @property
    def headroom_gib(self) -> float:
        return self.gpu_memory_gib - max(r.memory_gib["total"] for s in self.stages for r in s.ranks)


def planned_transformer_config(model, parallel, settings: LaunchSettings):
    """The TransformerConfig of a GPU rank. Sequence parallelism needs TransformerEngine where the
    model trains; here, where nothing trains, it is planned as the GPU runs it (layer_spec.py)."""
    config = to_transformer_config(model, dataclasses.replace(parallel, sequence_parallel=False),
                                   bf16=settings.bf16, recompute=settings.recompute)
    return dataclasses.replace(config, sequence_parallel=parallel.sequence_parallel)


@dataclass(frozen=True)
class PipelineRankWeights:
    pipeline_rank: int
    global_rank: int
    num_microbatches: int
    weights: RankWeights


def stage_weights(run, stage, world_size: int, attention: str = "flash") -> list[PipelineRankWeights]:
    """Each pipeline rank's chunks and DDP buffers at this stage, in that rank's fake world."""
    from megatron.core import parallel_state
    from megatron.core.num_microbatches_calculator import (
        get_num_microbatches,
        init_num_microbatches_calculator,
    )

    settings, parallel = launch_settings(run), run.parallel
    model = stage_model_config(run, stage)
    config = planned_transformer_config(model, parallel, settings)
    spec = planning_spec(layers_per_chunk(run), gpu_attention=attention == "flash")
    dp = parallel.data_parallel_size(world_size)
    ranks = []
    for pipeline_rank in range(parallel.pipeline_model_parallel_size):
        rank = first_rank_of_pipeline_stage(parallel, world_size, pipeline_rank)
        with fake_world(parallel, rank, world_size, seed=settings.seed):
            assert parallel_state.get_pipeline_model_parallel_rank() == pipeline_rank, "rank order changed"
            init_num_microbatches_calculator(rank, None, stage.global_batch_size, settings.micro_batch_size, dp)
            weights = build_rank_weights(model, config, parallel, spec, max_sequence_length=stage.seq_length, dp=dp)
            ranks.append(PipelineRankWeights(pipeline_rank, rank, get_num_microbatches(), weights))
    return ranks


def stage_activations(run, stage, attention: str = "flash") -> activations.StageActivations:
    """One microbatch's activations at this stage, measured as rank 0 of a fake world."""
    return _measured_activations(stage_model_config(run, stage), run.parallel, launch_settings(run),
                                 stage.seq_length, stage.rotary_base, attention)


@functools.cache
def _measured_activations(model, parallel, settings: LaunchSettings, seq_length: int, rotary_base: float,
                          attention: str) -> activations.StageActivations:
    """Measured once per process for each shape: they do not depend on the world size (data parallel
    ranks run the same layers), so plans of one layout at several node counts share them."""
    with fake_world(parallel, 0, parallel.tensor_model_parallel_size * parallel.pipeline_model_parallel_size,
                    seed=settings.seed):
        return activations.measure_stage(
            planned_transformer_config(model, parallel, settings),
            model.padded_vocab_size(parallel.tensor_model_parallel_size), seq_length=seq_length,
            micro_batch_size=settings.micro_batch_size, rotary_base=rotary_base, gpu_attention=attention == "flash")


def layers_per_chunk(run) -> int:
    parallel = run.parallel
    return run.model.num_layers // (parallel.pipeline_model_parallel_size *
                                     (parallel.virtual_pipeline_model_parallel_size or 1))


def plan_launch(run, world_size: int, *, gpu_memory_gib: float = 80.0, assumed_mfu: float = 0.45,
                attention: str = "flash") -> LaunchPlan:
    """`attention`: "flash" plans for GPUs (flash/fused attention), "local" for megatron-core's
    local attention as it trains on the CPU."""
    settings, parallel = launch_settings(run), run.parallel
    tp, pp = parallel.tensor_model_parallel_size, parallel.pipeline_model_parallel_size
    vpp = parallel.virtual_pipeline_model_parallel_size
    peak = settings.peak_tflops or device_peak_tflops(DEFAULT_GPU, bf16=True)
    plan = LaunchPlan(world_size=world_size, tp=tp, pp=pp, vpp=vpp, dp=parallel.data_parallel_size(world_size),
                      gpu_memory_gib=gpu_memory_gib, assumed_mfu=assumed_mfu, peak_tflops=peak, attention=attention,
                      total_parameters=0, stages=[], problems=[], vocab_size=run.model.vocab_size)
    for stage in run.stages:
        ranks = stage_weights(run, stage, world_size, attention)
        measured = stage_activations(run, stage, attention)
        microbatches = ranks[0].num_microbatches
        bubble = pipeline.bubble_fraction(pp, vpp, microbatches)
        stage_plan = StagePlan(
            name=stage.name, seq_length=stage.seq_length, global_batch_size=stage.global_batch_size,
            train_iters=stage.train_iters, num_microbatches=microbatches,
            cost=stage_cost(stage_model_config(run, stage), stage, world_size=world_size, peak_tflops=peak,
                            mfu=assumed_mfu, bubble=bubble, full_recompute=settings.recompute.granularity == "full"))
        for rank in ranks:
            in_flight = pipeline.chunks_in_flight(pp, vpp, rank.pipeline_rank, microbatches)
            memory = {
                "weights": rank.weights.weights_bytes, "grads": rank.weights.grads_bytes,
                "optimizer": rank.weights.optimizer_bytes,
                "activations": in_flight * measured.kept(layers_per_chunk(run)) + measured.working,
                "logits": measured.logits if rank.pipeline_rank == pp - 1 else 0,
            }
            memory = {k: v / GIB for k, v in memory.items()}
            memory["total"] = sum(memory.values())
            stage_plan.ranks.append(RankPlan(rank.pipeline_rank, rank.global_rank, rank.weights.chunk_parameters,
                                             in_flight, memory))
        plan.total_parameters = sum(rank.weights.model_parameters for rank in ranks)
        plan.stages.append(stage_plan)
    plan.problems = memory_problems(plan)
    return plan


def memory_problems(plan: LaunchPlan) -> list[str]:
    """One line per stage and pipeline rank that does not fit."""
    problems = []
    for stage in plan.stages:
        for rank in stage.ranks:
            memory = rank.memory_gib
            if memory["total"] <= plan.gpu_memory_gib:
                continue
            problems.append(
                f"stage {stage.name}, pipeline rank {rank.pipeline_rank} of {plan.pp}: needs {memory['total']:.1f} "
                f"GiB per GPU of {plan.gpu_memory_gib:g} (weights+grads+optimizer "
                f"{memory['weights'] + memory['grads'] + memory['optimizer']:.1f}, activations "
                f"{memory['activations']:.1f}, logits {memory['logits']:.1f})")
    return problems


def candidate_changes(plan: LaunchPlan, run) -> list[list[str]]:
    """The one-flag changes that could make a plan fit, those that shrink the larger part of the
    fullest GPU (activations, or weights, gradients and optimizer state) first. Each is a guess
    until it is planned (planning/cli.py plans them in this order)."""
    model, parallel, settings = run.model, run.parallel, launch_settings(run)
    fullest = max((r.memory_gib for s in plan.stages for r in s.ranks), key=lambda m: m["total"])
    activations = []
    if settings.recompute.granularity != "full":
        activations.append(["--recompute-granularity", "full"])
    if settings.micro_batch_size > 1:
        activations.append(["--micro-batch-size", "1"])
    if plan.tp > 1 and not parallel.sequence_parallel:
        activations.append(["--sequence-parallel"])
    states = []
    if not parallel.use_distributed_optimizer and plan.dp > 1:
        states.append(["--use-distributed-optimizer"])
    bigger_pp = [p for p in range(plan.pp + 1, model.num_layers + 1)
                 if model.num_layers % p == 0 and plan.world_size % (plan.tp * p) == 0]
    if bigger_pp:
        states.append(["--pipeline-model-parallel-size", str(bigger_pp[0])])
    bigger_tp = [t for t in range(plan.tp + 1, model.num_query_groups + 1)
                 if model.num_query_groups % t == 0 and model.num_attention_heads % t == 0]
    if bigger_tp:
        states.append(["--tensor-model-parallel-size", str(bigger_tp[0])])
    if fullest["activations"] + fullest["logits"] >= fullest["weights"] + fullest["grads"] + fullest["optimizer"]:
        return activations + states
    return states + activations
