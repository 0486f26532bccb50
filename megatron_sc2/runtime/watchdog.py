"""End a job whose step makes no progress, naming the step and the ranks that fell silent.

A rank that stops answering with its sockets open (a hung GPU kernel, a frozen or partitioned
node) leaves every other rank waiting inside a collective. The process-group timeout ends that
wait only for collectives that return to the host, and says neither which step nor which rank.
So a thread on each rank publishes a heartbeat ("beats step host pid") in the job's rendezvous
store, and ends the process when a training step has not ended within the distributed timeout. Before it
does, it reads every rank's heartbeat twice: a rank whose count did not move is frozen or gone,
one at an earlier step is behind. A peer that died (closed sockets) ends a collective with an
error at once; `explain` names the lost ranks the same way.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import sys
import threading
import time

import torch

KEY = "megatron_sc2/heartbeat/{}"
STORE_TIMEOUT = datetime.timedelta(seconds=5)
EXIT_CODE = 3  # neither a clean stop (0) nor a configuration error (2)


def is_collective_error(error: Exception) -> bool:
    """A peer died or a collective timed out (gloo reports both as a bare RuntimeError)."""
    return isinstance(error, torch.distributed.DistError) or "/gloo/" in str(error)


class ProgressWatchdog:
    def __init__(self, timeout_minutes: float):
        self.timeout_s = 60 * timeout_minutes
        self.interval_s = min(2.0, self.timeout_s / 10)
        self.rank, self.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.host = socket.gethostname()
        self.store = torch.distributed.distributed_c10d._get_default_store()
        self._step, self._label, self._started, self._armed, self._beats = 0, "", time.monotonic(), False, 0
        self._lock = threading.Lock()  # one store request at a time from this process
        self._done = threading.Event()
        self._beat()  # at once: a rank lost within its first interval is named, not "never reported"
        self._thread = threading.Thread(target=self._watch, name="megatron_sc2-watchdog", daemon=True)
        self._thread.start()

    def start_step(self, number: int, label: str = "") -> None:
        self._step, self._label, self._started, self._armed = number, label, time.monotonic(), True

    def end_step(self) -> None:
        """Logging, evaluation and saves are not timed here: their collectives have the process-group timeout."""
        self._armed = False

    def close(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.interval_s):
            self._beat()
            waited = time.monotonic() - self._started
            if self._armed and waited > self.timeout_s:
                print(f"error: {self._where()} made no progress in {waited:.0f} s "
                      f"(--distributed-timeout-minutes {self.timeout_s / 60:g}); {self._peers()}; "
                      f"stopping (resume from the last checkpoint)", file=sys.stderr, flush=True)
                os._exit(EXIT_CODE)

    def _beat(self) -> None:
        self._beats += 1
        # The store's host may be gone: the timeout still ends this rank.
        with self._lock, contextlib.suppress(torch.distributed.DistError):
            self.store.set(KEY.format(self.rank), f"{self._beats} {self._step} {self.host} {os.getpid()}")

    def explain(self, error: Exception) -> str:
        """One line for a collective that failed: where, why, and which ranks are silent or behind."""
        self._armed = False  # this report replaces the watchdog's own
        lines = str(error).strip().splitlines()
        return f"{self._where()} failed in a collective ({(lines[0] if lines else type(error).__name__)[:200]}); " \
               f"{self._peers()}"

    def _where(self) -> str:
        return f"iteration {self._step}{self._label} on rank {self.rank} ({self.host})"

    def _read(self) -> dict[int, list[str]]:
        keys = [KEY.format(r) for r in range(self.world_size)]
        with self._lock:
            self.store.set_timeout(STORE_TIMEOUT)
            return {r: self.store.get(key).decode().split() for r, key in enumerate(keys) if self.store.check([key])}

    def _peers(self) -> str:
        """Which ranks are frozen (heartbeat stopped) or behind, from the store (which may itself be gone)."""
        try:
            before = self._read()
            for _ in range(2):  # peers doing the same must see this rank alive
                time.sleep(self.interval_s)
                self._beat()
            after = self._read()
        except torch.distributed.DistError as e:  # the store's host is gone
            return f"the rendezvous store is unreachable too ({type(e).__name__}): the node of rank 0 is lost"
        frozen = [r for r in range(self.world_size) if r not in after or before.get(r, [""])[0] == after[r][0]]
        behind = [r for r, beat in after.items() if int(beat[1]) < self._step and r not in frozen]

        def describe(r):
            if r not in after:
                return f"rank {r} (never reported)"
            _, step, host, pid = after[r]
            return f"rank {r} on {host} (pid {pid}, at iteration {step})"

        parts = []
        if frozen:
            parts.append("silent (no heartbeat): " + ", ".join(map(describe, frozen)))
        if behind:
            parts.append("behind: " + ", ".join(map(describe, behind)))
        return "; ".join(parts) or "every rank is alive and in this step: one is stuck inside it (a hung kernel or I/O)"
