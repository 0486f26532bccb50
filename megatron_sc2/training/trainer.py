"""The pretraining loop. Stages run in order; each builds its model, optimizer, schedule and
data at its sequence length, loads the checkpoint it starts from, and trains to its end.

A stage boundary is a checkpoint: the stage that ends saves, the next one builds the model
with its rotary base and window and loads that checkpoint. Resuming a run, starting stage 2
from a stage-1 checkpoint and crossing a boundary inside one launch are the same path.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from megatron_sc2 import mcore_compat, runtime
from megatron_sc2.checkpoint import iteration_dir, latest_iteration, resolve
from megatron_sc2.data.datasets import build_datasets
from megatron_sc2.data.fim import FIMConfig
from megatron_sc2.data.tokenizer import load_tokenizer
from megatron_sc2.data.tokenizer_record import tokenizer_record
from megatron_sc2.model import (
    RecomputeConfig,
    build_model,
    to_transformer_config,
    transformer_engine_available,
)
from megatron_sc2.model.fusions import fusion_switches, report
from megatron_sc2.runtime.watchdog import EXIT_CODE, ProgressWatchdog, is_collective_error
from megatron_sc2.training import checkpointing, schedule
from megatron_sc2.training.arguments import RunConfig, same_directory
from megatron_sc2.training.data import microbatches
from megatron_sc2.training.exit_signals import ExitSignals, start_checkpoint_writer_queue
from megatron_sc2.training.flops import device_peak_tflops, flops_per_iteration, local_device_name
from megatron_sc2.training.metrics import MetricsLogger, peak_memory_gb, throughput
from megatron_sc2.training.optim import OptimizerSettings, build_optimizer, wrap_ddp
from megatron_sc2.training.run_summary import layout_line, model_line, parameter_count
from megatron_sc2.training.stages import Stage, stage_dict, total_iters
from megatron_sc2.training.step import NonFiniteLoss, move_batch, run_forward_backward, train_step

log = logging.getLogger("megatron_sc2.pretrain")


@dataclass
class TrainState:
    """Where the run is; saved in every checkpoint."""

    iteration: int = 0  # optimizer steps over all stages
    stage_name: str = ""
    stage_iteration: int = 0
    consumed_samples: int = 0
    consumed_tokens: int = 0
    skipped_steps: int = 0


@dataclass
class StageParts:
    stage: Stage
    model: list
    optimizer: object
    scheduler: object
    train_data: object
    valid_data: object
    num_microbatches: int


def build_stage(run: RunConfig, stage: Stage, tokenizer, dp_size: int) -> StageParts:
    model_config = stage_model_config(run, stage)
    transformer_config = to_transformer_config(
        model_config, run.parallel, bf16=run.optimizer.bf16,
        recompute=RecomputeConfig(run.parallel_options.recompute_granularity,
                                  num_layers=run.parallel_options.recompute_num_layers),
    )
    model = wrap_ddp(build_model(model_config, transformer_config, max_sequence_length=stage.seq_length),
                     transformer_config, run.parallel)
    adam = run.optimizer
    optimizer = build_optimizer(
        model,
        OptimizerSettings(lr=stage.lr, min_lr=stage.min_lr, weight_decay=adam.weight_decay,
                          adam_beta1=adam.adam_beta1, adam_beta2=adam.adam_beta2, adam_eps=adam.adam_eps,
                          clip_grad=adam.clip_grad),
        run.parallel, bf16=adam.bf16,
    )
    scheduler = schedule.build_scheduler(optimizer, stage, run.optimizer)
    evaluations = stage.train_iters // run.logging.eval_interval + 1
    data, fim = run.data, None
    if data.fim_rate > 0:
        fim = FIMConfig(rate=data.fim_rate, spm_rate=data.fim_spm_rate, fragment_rate=data.fim_fragment_rate)
    train_data, valid_data, _ = build_datasets(
        data.data_path, data.split, stage.seq_length, run.logging.seed, tokenizer,
        num_samples=(stage.train_iters * stage.global_batch_size,
                     evaluations * run.logging.eval_iters * stage.global_batch_size, 0),
        cache_path=data.data_cache_path, fim=fim,
    )
    return StageParts(stage, model, optimizer, scheduler, train_data, valid_data,
                      stage.global_batch_size // (run.batch.micro_batch_size * dp_size))


def stage_model_config(run: RunConfig, stage: Stage):
    return run.model.replace(rotary_base=stage.rotary_base, sliding_window=stage.sliding_window)


def kernel_report(stage: Stage) -> str:
    windowed = stage.sliding_window is not None
    return report(fusion_switches(on_gpu=torch.cuda.is_available(), sliding_window=windowed),
                  sliding_window=windowed)


def with_tokenizer_vocab(run: RunConfig, tokenizer) -> RunConfig:
    """The embedding follows the tokenizer (padded for TP) unless --vocab-size (or the model file) sets it."""
    size = tokenizer.vocab_size if run.vocab_from_tokenizer else run.model.vocab_size
    if size < tokenizer.vocab_size:
        raise SystemExit(f"--vocab-size {size} is below the {tokenizer.vocab_size} tokens of --tokenizer-model "
                         f"{run.data.tokenizer_model}: drop --vocab-size to follow the tokenizer")
    return dataclasses.replace(run, model=run.model.replace(vocab_size=size))


def find_start(run: RunConfig) -> tuple[int, TrainState, tuple | None, bool]:
    """(stage index, state, checkpoint to load, whether it continues that stage midway)."""
    scratch, options = TrainState(stage_name=run.stages[0].name), run.checkpoint
    if not options.load:
        return 0, scratch, None, False
    if same_directory(options.load, options.save) and latest_iteration(options.load) is None:
        log.info("--load %s holds no checkpoint yet: starting from scratch", options.load)
        return 0, scratch, None, False
    directory, meta = resolve(options.load)
    if meta.get("model_only") or options.finetune:
        log.info("starting at iteration 0 from the weights in %s (%s)", directory,
                 "--finetune" if options.finetune else "a model-only checkpoint")
        return 0, scratch, (directory, meta), False
    state = TrainState(**meta["train_state"])
    names = [s.name for s in run.stages]
    if state.stage_name not in names:
        log.info("checkpoint %s is from stage %r, not in this run: starting stage %r from it",
                 directory, state.stage_name, names[0])
        return 0, dataclasses.replace(state, stage_name=names[0], stage_iteration=0), (directory, meta), False
    index = names.index(state.stage_name)
    if state.stage_iteration >= run.stages[index].train_iters:
        if index + 1 == len(run.stages):
            return len(run.stages), state, (directory, meta), False
        return index + 1, dataclasses.replace(state, stage_name=names[index + 1], stage_iteration=0), \
            (directory, meta), False
    return index, state, (directory, meta), True


def pretrain(run: RunConfig) -> None:
    # Ctrl-C saves too when there is somewhere to save; otherwise it interrupts as usual.
    stop_signals = (signal.SIGTERM, signal.SIGUSR1) + ((signal.SIGINT,) if run.checkpoint.save else ())
    if run.checkpoint.save:  # forked: first, while this process has no threads or process groups
        start_checkpoint_writer_queue(ignoring=stop_signals)
    timeout = run.parallel_options.distributed_timeout_minutes
    launch = runtime.initialize(run.parallel, seed=run.logging.seed, timeout_minutes=timeout)
    from megatron.core import parallel_state

    tokenizer = load_tokenizer(run.data.tokenizer_type, run.data.tokenizer_model)
    run = with_tokenizer_vocab(run, tokenizer)
    dp_size = parallel_state.get_data_parallel_world_size()
    is_logging_rank = launch.rank == launch.world_size - 1  # the last pipeline stage has the loss
    metrics = MetricsLogger(run.logging.metrics_file, run.logging.tensorboard_dir, run.logging.wandb_project,
                            run.logging.wandb_exp_name, is_logging_rank)
    exit_signals = ExitSignals(run.checkpoint.exit_duration_in_mins, stop_signals)
    watchdog = ProgressWatchdog(timeout)
    saver = CheckpointSaver(run, tokenizer_record(tokenizer))
    index, state, checkpoint, continues_stage = find_start(run)
    if index == len(run.stages) and launch.rank == 0:
        log.info("%s is at the end of the last stage (iteration %d): nothing to train", run.checkpoint.load,
                 state.iteration)
    lock = checkpointing.hold(run.checkpoint.save) if run.checkpoint.save else None
    weights_only = run.checkpoint.finetune
    if launch.rank == 0:
        log.info(layout_line(run, launch.world_size, dp_size))
    first_index = index
    try:
        while index < len(run.stages):
            stage = run.stages[index]
            parts = build_stage(run, stage, tokenizer, dp_size)
            if index == first_index:  # every stage has the same architecture
                count = parameter_count(parts.model)
                if launch.rank == 0:
                    log.info(model_line(count, run.model))
            if checkpoint is not None:
                common = checkpointing.load(*checkpoint, parts.model, parts.optimizer,
                                            model_config=stage_model_config(run, stage), parallel=run.parallel,
                                            load_optimizer=run.checkpoint.load_optim and not weights_only,
                                            load_rng=run.checkpoint.load_rng and not weights_only)
                weights_only = False  # --finetune: the first checkpoint only; stage boundaries load all
                if continues_stage:
                    schedule.resume(parts.scheduler, common["scheduler"], run.optimizer, parts.stage)
                schedule.apply(parts.scheduler, parts.optimizer)
            if launch.rank == 0:
                log.info("stage %s: %d iterations at seq %d, rotary base %g, window %s, global batch %d = %d "
                         "microbatch%s x %d x DP %d", stage.name, stage.train_iters, stage.seq_length,
                         stage.rotary_base, stage.sliding_window, stage.global_batch_size, parts.num_microbatches,
                         "es" if parts.num_microbatches > 1 else "", run.batch.micro_batch_size, dp_size)
                log.info("layer spec: %s; %s", "TransformerEngine" if transformer_engine_available() else "local",
                         kernel_report(stage))
            stop_reason = train_stage(run, parts, state, metrics, exit_signals, saver, watchdog, launch.world_size)
            saved = saver.save(parts, state, wait=True) if run.checkpoint.save else None
            if stop_reason:
                if launch.rank == 0:
                    log.info("stopping at iteration %d: %s%s", state.iteration, stop_reason,
                             f"; saved {saved}" if saved else "")
                return
            index += 1
            if index < len(run.stages):
                state = dataclasses.replace(state, stage_name=run.stages[index].name, stage_iteration=0)
                checkpoint, continues_stage = resolve(run.checkpoint.save), False
    except RuntimeError as e:
        if not is_collective_error(e):  # a peer died, or a collective reached the timeout
            raise
        print(f"error: {watchdog.explain(e)}; stopping (resume from the last checkpoint)", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CODE) from None
    finally:
        saver.close()
        metrics.close()
        watchdog.close()
        if lock is not None:
            lock.release()


def train_stage(run: RunConfig, parts: StageParts, state: TrainState, metrics: MetricsLogger,
                exit_signals: ExitSignals, saver: CheckpointSaver, watchdog: ProgressWatchdog,
                world_size: int) -> str | None:
    """Train to the end of the stage; returns why it stopped early, or None."""
    stage, device = parts.stage, runtime.device()
    micro, seq = run.batch.micro_batch_size, stage.seq_length
    data = microbatches(parts.train_data, start_sample=state.stage_iteration * stage.global_batch_size,
                        total_samples=len(parts.train_data), micro_batch_size=micro, num_workers=run.data.num_workers)
    flops = flops_per_iteration(run.model, seq, stage.global_batch_size, stage.sliding_window,
                                run.parallel_options.recompute_granularity == "full")
    peak = run.logging.peak_tflops or device_peak_tflops(local_device_name(), run.optimizer.bf16)
    run_iters = total_iters(run.stages)
    for chunk in parts.model:
        chunk.train()
    step_seconds, window_iters = 0.0, 0  # timed steps since the last log line (no eval or saves)
    while state.stage_iteration < stage.train_iters:
        watchdog.start_step(state.iteration + 1, f" (stage {stage.name})")
        step_start = time.perf_counter()
        batch = [move_batch(next(data), device) for _ in range(parts.num_microbatches)]
        try:
            result = train_step(parts.model, parts.optimizer, [iter(batch) for _ in parts.model],
                                num_microbatches=parts.num_microbatches, seq_length=seq, micro_batch_size=micro,
                                skip_nonfinite=run.optimizer.skip_nan_steps)
        except NonFiniteLoss:
            raise SystemExit(f"iteration {state.iteration + 1} (stage {stage.name}): the loss is NaN or Inf; "
                             f"stopping (resume from the last checkpoint, or use --skip-nan-steps)") from None
        watchdog.end_step()
        step_seconds += time.perf_counter() - step_start
        lr = parts.optimizer.param_groups[0]["lr"]  # the rate this step used
        parts.scheduler.step(increment=1)
        state.iteration += 1
        state.stage_iteration += 1
        state.consumed_samples += stage.global_batch_size
        state.consumed_tokens += stage.tokens_per_iteration
        state.skipped_steps += result.skipped
        window_iters += 1

        if state.iteration % run.logging.log_interval == 0 or state.stage_iteration == stage.train_iters:
            elapsed = step_seconds / window_iters
            metrics.log({
                "iteration": state.iteration, "train_iters": run_iters, "stage": stage.name,
                "seq_length": seq, "consumed_samples": state.consumed_samples,
                "consumed_tokens": state.consumed_tokens, "loss": result.loss, "grad_norm": result.grad_norm,
                "lr": lr, "iteration_time_s": elapsed,
                **throughput(tokens=stage.tokens_per_iteration, flops=flops, seconds=elapsed,
                             num_devices=world_size, peak_tflops=peak),
                "memory_gb": peak_memory_gb(), "skipped_steps": state.skipped_steps,
            })
            step_seconds, window_iters = 0.0, 0
        if run.logging.eval_interval and (state.iteration % run.logging.eval_interval == 0
                                  or state.stage_iteration == stage.train_iters):
            valid_loss = evaluate(run, parts, device)
            if valid_loss is not None or metrics.is_logging_rank:
                metrics.log({"iteration": state.iteration, "stage": stage.name, "seq_length": seq,
                             "consumed_samples": state.consumed_samples,
                             "consumed_tokens": state.consumed_tokens, "valid_loss": valid_loss,
                             "valid_ppl": float(torch.tensor(valid_loss).exp()) if valid_loss is not None else None})
        if run.checkpoint.exit_interval and state.iteration % run.checkpoint.exit_interval == 0:
            return f"reached --exit-interval {run.checkpoint.exit_interval}"
        reason = exit_signals.reason()
        if reason:
            return reason
        if state.stage_iteration == stage.train_iters:
            return None
        saver.finalize_finished()
        if run.checkpoint.save_interval and state.iteration % run.checkpoint.save_interval == 0:
            saver.save(parts, state)
    return None


def evaluate(run: RunConfig, parts: StageParts, device) -> float | None:
    """Token-mean loss over the first eval_iters global batches of the validation split."""
    if parts.valid_data is None or not run.logging.eval_iters:
        return None
    stage = parts.stage
    total = min(len(parts.valid_data), run.logging.eval_iters * stage.global_batch_size)
    data = microbatches(parts.valid_data, start_sample=0, total_samples=total,
                        micro_batch_size=run.batch.micro_batch_size, num_workers=0)
    for chunk in parts.model:
        chunk.eval()
    losses = []
    with torch.no_grad():
        for _ in range(total // stage.global_batch_size):
            batch = [move_batch(next(data), device) for _ in range(parts.num_microbatches)]
            losses.append(run_forward_backward(
                parts.model, [iter(batch) for _ in parts.model], num_microbatches=parts.num_microbatches,
                seq_length=stage.seq_length, micro_batch_size=run.batch.micro_batch_size, forward_only=True))
    for chunk in parts.model:
        chunk.train()
    if not losses or losses[0] is None:
        return None
    return sum(losses) / len(losses)


class CheckpointSaver:
    """Saves to --save, in the background with --async-save (megatron-core's async queue, or
    NVRx's where megatron-core uses it)."""

    def __init__(self, run: RunConfig, tokenizer: dict):
        self.run, self.tokenizer, self.last_iteration = run, tokenizer, None  # the tokenizer's record: launch_checks
        self.queue = mcore_compat.async_calls_queue() if run.checkpoint.async_save else None

    def save(self, parts: StageParts, state: TrainState, wait: bool = False) -> Path:
        """Save this iteration (once); with `wait`, return only when it is complete on disk."""
        if self.last_iteration != state.iteration:
            common = {"train_state": dataclasses.asdict(state), "scheduler": parts.scheduler.state_dict(),
                      "stage": stage_dict(parts.stage), "tokenizer": self.tokenizer}
            checkpointing.save(self.run.checkpoint.save, state.iteration, parts.model, parts.optimizer,
                               common=common, model_config=stage_model_config(self.run, parts.stage),
                               parallel=self.run.parallel, async_queue=self.queue)
            self.last_iteration = state.iteration
        if wait and self.queue is not None:
            self.queue.maybe_finalize_async_calls(blocking=True)
        return iteration_dir(self.run.checkpoint.save, state.iteration)

    def finalize_finished(self) -> None:
        if self.queue is not None:
            self.queue.maybe_finalize_async_calls(blocking=False)

    def close(self) -> None:
        if self.queue is not None:
            self.queue.maybe_finalize_async_calls(blocking=True)
            self.queue.close()

