"""A stage's LR and weight-decay schedule (megatron-core's OptimizerParamScheduler), and what a run
that continues a stage does when its flags describe another schedule than its checkpoint's.

Megatron-LM's two flags decide: `--override-opt_param-scheduler` takes the flags' schedule,
`--use-checkpoint-opt_param-scheduler` keeps the checkpoint's; either way the step count comes
from the checkpoint. With neither, a difference is refused in one line that names both (Megatron-LM
fails an assert there); a run never silently keeps an old schedule (a larger --train-iters used
to leave the LR at --min-lr) nor silently jumps to a new one.
"""

from __future__ import annotations

from megatron_sc2.checkpoint import CheckpointError
from megatron_sc2.training.options import OPTIONS, OptimizerOptions
from megatron_sc2.training.stages import Stage

# state_dict key -> the flag that sets it (options.py: `schedule=`). The warmup and decay steps are named
# by what the stage was given (Stage.warmup_given, decay_given): iterations, samples or a fraction.
SCHEDULE_FLAGS = {key: o.flag for o in OPTIONS for key in o.schedule}
STEPS_GIVEN = {"lr_warmup_steps": ("warmup", "warmup_given"), "lr_decay_steps": ("decay", "decay_given")}


class ScheduleMismatch(CheckpointError):
    pass


def build_scheduler(optimizer, stage: Stage, options: OptimizerOptions):
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    return OptimizerParamScheduler(
        optimizer, init_lr=0.0, max_lr=stage.lr, min_lr=stage.min_lr,
        lr_warmup_steps=stage.lr_warmup_iters, lr_decay_steps=stage.lr_decay_iters,
        lr_decay_style=options.lr_decay_style, start_wd=options.weight_decay, end_wd=options.weight_decay,
        wd_incr_steps=stage.train_iters, wd_incr_style="constant",
        # megatron-core takes the checkpoint's values unless told to override; with neither flag,
        # `resume` has already refused any difference, so the values it takes are the flags'.
        use_checkpoint_opt_param_scheduler=not options.override_opt_param_scheduler,
        override_opt_param_scheduler=options.override_opt_param_scheduler,
    )


def differences(scheduler, saved: dict, stage: Stage) -> list[str]:
    """'--flag now (checkpoint was)' for each schedule value the flags change."""
    current = scheduler.state_dict()
    found = []
    for key, flag in SCHEDULE_FLAGS.items():
        if key not in saved or current[key] == saved[key]:
            continue
        if key in STEPS_GIVEN:
            what, given = STEPS_GIVEN[key]
            flag = getattr(stage, given) or f"{flag} (not given)"
            found.append(f"{flag}: {current[key]} {what} iterations (checkpoint: {saved[key]})")
        else:
            found.append(f"{flag} {current[key]} (checkpoint: {saved[key]})")
    return found


def resume(scheduler, saved: dict, options: OptimizerOptions, stage: Stage) -> None:
    """Continue a stage's schedule from its checkpoint, under Megatron-LM's two flags."""
    changed = differences(scheduler, saved, stage)
    if changed and not (options.override_opt_param_scheduler or options.use_checkpoint_opt_param_scheduler):
        raise ScheduleMismatch(
            f"the flags change the checkpoint's LR schedule ({'; '.join(changed)}): add "
            f"--override-opt_param-scheduler to use the flags' schedule from the checkpoint's step, or "
            f"--use-checkpoint-opt_param-scheduler to keep the checkpoint's")
    scheduler.load_state_dict(saved)


def apply(scheduler, optimizer) -> None:
    """Make the optimizer's param groups follow the scheduler: a loaded optimizer brings the
    max/min LR it was saved with, which megatron-core's scheduler reads before its own."""
    for group in optimizer.param_groups:
        group["max_lr"], group["min_lr"] = scheduler.max_lr, scheduler.min_lr
    scheduler.step(increment=0)
