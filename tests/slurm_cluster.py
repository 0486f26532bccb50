"""A one-node SLURM of the tests' own (munge, slurmctld, slurmd), configured in a temporary folder
and stopped by PID; .ci/run installs the packages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from multirank import free_port, launcher_environment

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo")
CONFIG = """\
ClusterName=sc2test
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def missing_binaries() -> list[str]:
    """What is not installed (the reference's apt-get line installs all of it)."""
    def found(name):
        return shutil.which(name) or Path("/usr/sbin", name).exists()
    return [name for name in DAEMONS + CLIENTS if not found(name)]


def _daemon(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


class Slurm:
    """Start with `start()`, stop with `stop()`; `env` is what every client call needs."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.env = {**launcher_environment(), "SLURM_CONF": str(directory / "slurm.conf")}
        self._pids: list[int] = []

    def start(self) -> None:
        (self.dir / "state").mkdir(parents=True)
        (self.dir / "spool").mkdir()
        (self.dir / "slurm.conf").write_text(CONFIG.format(d=self.dir, ctld_port=free_port(), slurmd_port=free_port()))
        munge_pid_file = Path("/run/munge/munged.pid")
        if _pid(munge_pid_file) is None:  # one munged serves every SLURM on the machine
            Path("/run/munge").mkdir(exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            subprocess.run(["runuser", "-u", "munge", "--", _daemon("munged")], check=True)
            self._pids.append(_pid(munge_pid_file))
        subprocess.run([_daemon("slurmctld"), "-c"], env=self.env, check=True)
        subprocess.run([_daemon("slurmd"), "-N", "localhost"], env=self.env, check=True)
        deadline = time.monotonic() + 60
        pid_files = (self.dir / "slurmd.pid", self.dir / "slurmctld.pid")  # written once the daemons are up
        while self.run("sinfo", "-h", "-o", "%T").stdout.strip() != "idle" or None in map(_pid, pid_files):
            if time.monotonic() > deadline:
                raise RuntimeError(f"SLURM did not come up: {(self.dir / 'slurmctld.log').read_text()[-2000:]}")
            time.sleep(0.2)
        self._pids[:0] = [_pid(path) for path in pid_files]

    def stop(self) -> None:
        self.run("scancel", "--user", os.environ.get("USER", "root"))
        deadline = time.monotonic() + 60
        while self.run("squeue", "-h").stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in self._pids:  # slurmd first: killing it alone would leave job processes behind
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self, *command: str, check: bool = False, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, env={**self.env, **(env or {})}, check=check,
                              cwd=cwd)

    def job(self, job_id: str) -> dict:
        """`scontrol show job` as a dict (JobState, ExitCode, Restarts, ...). A busy slurmctld can time out
        a call ("Socket timed out on send/recv"): asked again, for up to a minute."""
        deadline = time.monotonic() + 60
        while True:
            result = self.run("scontrol", "show", "job", job_id, "-o")
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert result.returncode == 0, f"scontrol show job {job_id}: {result.stderr}"
        return dict(field.split("=", 1) for field in result.stdout.split() if "=" in field)

    def wait(self, job_id: str, until=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                                       "OUT_OF_MEMORY"), timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info.get("JobState") in until:
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info.get('JobState')} after {timeout} s")
            time.sleep(0.5)
