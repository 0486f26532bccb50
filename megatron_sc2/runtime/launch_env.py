"""Who am I in the job: rank, world size, local rank and rendezvous, from the launcher.

torchrun exports RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT; `srun` exports
SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID/SLURM_JOB_NODELIST; `mpirun` is asked through
mpi4py (optional), with the rendezvous address shared by a broadcast from rank 0.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 29500


@dataclass(frozen=True)
class LaunchEnv:
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    launcher: str

    def export(self) -> None:
        """Write the torchrun-style variables so torch.distributed's env:// init finds them."""
        os.environ.update(
            RANK=str(self.rank), WORLD_SIZE=str(self.world_size), LOCAL_RANK=str(self.local_rank),
            MASTER_ADDR=self.master_addr, MASTER_PORT=str(self.master_port),
        )


def first_slurm_host(nodelist: str) -> str:
    """The first host of a SLURM nodelist such as 'gpu[012-015,020],cpu1'."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
        )
        return out.stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    head = re.match(r"([^,\[]+)(\[([^\]]+)\])?", nodelist)
    if not head:
        raise ValueError(f"cannot parse SLURM nodelist {nodelist!r}")
    prefix, _, ranges = head.groups()
    if not ranges:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def _from_torchrun(env) -> LaunchEnv | None:
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    return LaunchEnv(
        rank=int(env["RANK"]), world_size=int(env["WORLD_SIZE"]),
        local_rank=int(env.get("LOCAL_RANK", 0)), master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
        master_port=int(env.get("MASTER_PORT", DEFAULT_PORT)), launcher="torchrun",
    )


def _from_slurm(env) -> LaunchEnv | None:
    if "SLURM_PROCID" not in env or "SLURM_NTASKS" not in env:
        return None
    return LaunchEnv(
        rank=int(env["SLURM_PROCID"]), world_size=int(env["SLURM_NTASKS"]),
        local_rank=int(env.get("SLURM_LOCALID", 0)),
        master_addr=env.get("MASTER_ADDR") or first_slurm_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1")),
        master_port=int(env.get("MASTER_PORT", DEFAULT_PORT)), launcher="slurm",
    )


def _from_mpi(env) -> LaunchEnv | None:
    mpi_vars = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE")
    if not any(v in env for v in mpi_vars):
        return None
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "launched under MPI but mpi4py is not installed: pip install 'megatron_sc2[mpi]'"
        ) from e
    comm = MPI.COMM_WORLD
    local_rank = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    master = comm.bcast(env.get("MASTER_ADDR") or socket.gethostname(), root=0)
    return LaunchEnv(
        rank=comm.Get_rank(), world_size=comm.Get_size(), local_rank=local_rank,
        master_addr=master, master_port=int(env.get("MASTER_PORT", DEFAULT_PORT)), launcher="mpi",
    )


def detect_launch_env(env=None) -> LaunchEnv:
    """torchrun first (it may itself run under SLURM), then SLURM, then MPI, else one process."""
    env = os.environ if env is None else env
    for detect in (_from_torchrun, _from_slurm, _from_mpi):
        found = detect(env)
        if found is not None:
            return found
    return LaunchEnv(0, 1, 0, "127.0.0.1", int(env.get("MASTER_PORT") or free_port()), "single")


def free_port() -> int:
    """A TCP port on this machine that nothing listens on now, below the kernel's ephemeral range:
    a port from there (what bind(0) gives) can become any outgoing connection's source port before
    the launch listens on it, as it did in CI between a SLURM job's submission and its start."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    choose = random.SystemRandom()  # not the seeded generator that every forked rank shares
    for _ in range(100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", choose.randrange(10000, max(low, 10001))))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free TCP port in 10000-{low - 1} after 100 tries")
