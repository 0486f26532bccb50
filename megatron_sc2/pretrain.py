"""`python -m megatron_sc2.pretrain`: pretrain StarCoder2 on megatron-core. See --help."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import NoReturn

# How long a failed rank other than 0 waits for the launcher to stop it (exit_once).
PEER_WAIT_S = 60.0


def main(argv: list[str] | None = None) -> None:
    # Imported here, not at the top: a process spawned from a launch (multiprocessing's "spawn")
    # imports this module as its main; at the top, each would import torch and megatron-core again
    # (about 5 CPU s).
    from megatron_sc2.runtime import expected_warnings

    expected_warnings.hide()  # before megatron-core's imports warn
    from megatron_sc2.planning.cli import dry_run, help_text, split_planning_args
    from megatron_sc2.runtime import detect_launch_env
    from megatron_sc2.training.arguments import parse_args

    for sig in (signal.SIGTERM, signal.SIGUSR1):  # a launcher that ignores them (SLURM's) must not deafen us
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)
    planning, argv = split_planning_args(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(help_text() + "\n")
    launch = detect_launch_env()
    if planning.dry_run:  # a plan at --world-size (default: this launch's), on this CPU; nothing starts
        logging.basicConfig(level=logging.ERROR)
        raise SystemExit(dry_run(planning, argv, launch.world_size))
    logging.basicConfig(level=logging.WARNING, format=f"[%(asctime)s rank{launch.rank}] %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stdout)
    logging.getLogger("megatron_sc2").setLevel(logging.INFO if launch.rank == 0 else logging.WARNING)
    try:
        # Every configuration error and what this machine and the run's files cannot do, before any
        # process group (ranks here: torchrun's count, else this one).
        run = parse_args(argv, world_size=launch.world_size,
                         ranks_here=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except SystemExit as error:
        exit_once(error, launch.rank)
    from megatron_sc2.checkpoint import CheckpointError
    from megatron_sc2.data.datasets import DatasetError
    from megatron_sc2.training.trainer import pretrain

    try:
        pretrain(run)
    except (CheckpointError, DatasetError) as e:
        exit_once(SystemExit(f"error: {e}"), launch.rank)


def exit_once(error: SystemExit, rank: int) -> NoReturn:
    """End this rank with `error`, printed once per job: by rank 0, which fails as every rank does, while
    the others wait, silent, for the launcher (torchrun, srun --kill-on-bad-exit, mpirun) to stop them
    on rank 0's exit, then exit with its status. A rank still running PEER_WAIT_S later was not stopped
    because rank 0 did not fail alike: it prints its own error."""
    if rank == 0 or not error.code:
        raise error
    status = error.code if isinstance(error.code, int) else 1

    def stopped(*_):
        raise SystemExit(status)

    signal.signal(signal.SIGTERM, stopped)
    time.sleep(PEER_WAIT_S)
    raise SystemExit(f"rank {rank}: {error.code}" if isinstance(error.code, str) else error.code)


if __name__ == "__main__":
    main()
