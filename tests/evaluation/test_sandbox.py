"""Hostile completions: each is contained, scored failed, and the run ends in bounded time."""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from megatron_sc2.evaluation import sandbox as sandbox_module
from megatron_sc2.evaluation.sandbox import BUBBLEWRAP, RLIMITS, SANDBOX_UID_BASE, Sandbox

AS_ROOT = os.geteuid() == 0


def sandbox_uid_processes(sandbox) -> list[str]:
    """What the sandbox's own uids still run (as root; as another user, its uid is yours)."""
    uids = sandbox.uids or range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + 64)
    result = subprocess.run(["ps", "-eo", "uid=,pid=,stat=,cmd="], capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines()
            if int(line.split()[0]) in uids and " Z" not in f" {line.split()[2]}"]


def test_a_correct_program_passes_and_a_wrong_one_fails(sandbox):
    ok, wrong = sandbox.run_many([sandbox.python("assert sum([1, 2]) == 3\n"),
                                  sandbox.python("assert sum([1, 2]) == 4\n")])
    assert ok.passed and ok.error is None
    assert not wrong.passed and wrong.error == "AssertionError"


@pytest.mark.timeout(120)
def test_spinning_and_sleeping_forever_time_out(sandbox):
    outcomes = sandbox.run_many([sandbox.python("while True:\n    pass\n"),
                                 sandbox.python("import time\ntime.sleep(1000)\n")])
    assert [o.error for o in outcomes] == ["timeout", "timeout"]
    assert all(o.seconds < sandbox.limits.timeout_s + 5 for o in outcomes)


def test_allocating_20_gb_fails(sandbox):
    outcome = sandbox.run(*sandbox.python("block = bytearray(20 * 2**30)\nprint(len(block))\n"))
    assert not outcome.passed and outcome.error == "MemoryError"


@pytest.mark.timeout(120)
@pytest.mark.skipif(not AS_ROOT and os.environ.get("CI_SANDBOX_FORK_BOMB") != "1",
                    reason="as a normal user the process limit counts the user's own processes too: a fork bomb "
                           "would compete with this test session (set CI_SANDBOX_FORK_BOMB=1 on a throwaway box)")
def test_fork_bomb_is_held_at_the_process_limit(sandbox):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    outcome = sandbox.run(*sandbox.python(bomb))
    assert not outcome.passed and outcome.error == "timeout"
    assert sandbox_uid_processes(sandbox) == []


def test_writing_outside_its_folder_fails(sandbox, tmp_path):
    if not AS_ROOT and sandbox.isolation != BUBBLEWRAP:
        pytest.skip("without bubblewrap a normal user's program writes wherever that user can (the warning says so)")
    target = tmp_path / "escaped"
    outcome = sandbox.run(*sandbox.python(f"open({str(target)!r}, 'w').write('x')\n"))
    assert not outcome.passed and not target.exists()


def test_writing_inside_its_folder_works(sandbox):
    outcome = sandbox.run(*sandbox.python("open('scratch.txt', 'w').write('x')\nassert open('scratch.txt').read() == 'x'\n"))
    assert outcome.passed, outcome.output


def test_network_is_out_of_reach_unless_rlimits_is_asked_for(sandbox):
    if sandbox.isolation == RLIMITS:
        pytest.skip("rlimits keeps the network, says so in a warning, and runs only when asked for")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        outcome = sandbox.run(*sandbox.python(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"))
    assert not outcome.passed and outcome.error in ("ConnectionRefusedError", "OSError", "TimeoutError")


@pytest.mark.skipif(not AS_ROOT, reason="a normal user's leftovers cannot be told from the user's own processes")
def test_a_daemon_left_behind_is_killed(sandbox):
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        time.sleep(1000)\n    os._exit(0)\nraise SystemExit(1)\n")
    outcome = sandbox.run(*sandbox.python(daemon))
    assert not outcome.passed
    assert sandbox_uid_processes(sandbox) == []


@pytest.mark.skipif(not AS_ROOT, reason="only root runs programs as sandbox uids")
def test_evaluations_side_by_side_never_kill_each_others_programs(sandbox):
    """Two evaluations on one machine (two followers, two jobs): one's cleanup leaves the other's
    programs alone, because each holds uids of its own."""
    from concurrent.futures import ThreadPoolExecutor

    other = Sandbox(sandbox.limits, isolation=sandbox.isolation, workers=len(sandbox.uids))
    assert not set(other.uids) & set(sandbox.uids)
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\nraise SystemExit(1)\n")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(other.run, *other.python("import time\ntime.sleep(1.5)\n"))
        for _ in range(3):  # each cleans up after a daemon while the other's program sleeps
            assert not sandbox.run(*sandbox.python(daemon)).passed
        outcome = slow.result()
    assert outcome.passed, outcome


def test_rlimits_level_warns_loudly():
    assert "WARNING" in Sandbox(isolation=RLIMITS, workers=1).warning()


def test_without_any_isolation_only_an_explicit_rlimits_runs(monkeypatch):
    monkeypatch.setattr(sandbox_module, "bubblewrap_works", lambda: False)
    monkeypatch.setattr(sandbox_module, "unshare_works", lambda: False, raising=False)
    with pytest.raises(RuntimeError, match="Install bubblewrap, or pass --sandbox rlimits"):
        Sandbox(workers=1)
    assert Sandbox(isolation=RLIMITS, workers=1).isolation == RLIMITS


EXITS = {  # each ends the program early with status 0, before the wrong answer is checked
    "sys.exit(0)": "import sys\nsys.exit(0)\n",
    "exit()": "exit()\n",
    "os._exit(0)": "import os\nos._exit(0)\n",
    "atexit.register(os._exit, 0)": "import atexit, os\natexit.register(os._exit, 0)\n",
    "an excepthook": "import os, sys\nsys.excepthook = lambda *exc: os._exit(0)\n",
}


def test_a_wrong_answer_that_exits_early_fails(sandbox):
    wrong = "def f():\n    return 1\n{}def check(f):\n    assert f() == 2\ncheck(f)\n"
    outcomes = sandbox.run_many([sandbox.python(wrong.format(exit_)) for exit_ in EXITS.values()])
    assert [o.passed for o in outcomes] == [False] * len(EXITS), dict(zip(EXITS, outcomes))
    right = "def f():\n    return 2\nimport atexit\natexit.register(print, 'bye')\nassert f() == 2\n"
    assert sandbox.run(*sandbox.python(right)).passed  # a hook that does not cheat changes nothing


def test_a_program_writes_only_into_a_private_tmp(sandbox):
    """/tmp, /var/tmp and /dev/shm are world-writable on the host: a program's files stay in its own."""
    if sandbox.isolation == RLIMITS:
        pytest.skip("rlimits leaves the file system reachable, says so in a warning, and runs only when asked for")
    names = [f"{folder}/sc2-escaped-{secrets.token_hex(8)}" for folder in ("/tmp", "/var/tmp", "/dev/shm")]
    program = (f"for path in {names!r}:\n    try:\n        open(path, 'w').write('x')\n    except OSError:\n"
               f"        pass\nopen({names[0]!r}, 'w').write('mine')\nassert open({names[0]!r}).read() == 'mine'\n")
    try:
        outcome = sandbox.run(*sandbox.python(program))
        escaped = [name for name in names if os.path.exists(name)]
    finally:
        for name in names:
            Path(name).unlink(missing_ok=True)
    assert outcome.passed, outcome.output  # its own /tmp is writable
    assert escaped == []


def test_a_host_unix_socket_is_out_of_reach(sandbox):
    """A new network namespace does not cut AF_UNIX sockets on the file system: a listener that anyone may
    connect to, outside /tmp, hears nothing."""
    if sandbox.isolation == RLIMITS:
        pytest.skip("rlimits leaves host sockets reachable, says so in a warning, and runs only when asked for")
    folder = Path(tempfile.mkdtemp(dir="/run" if AS_ROOT else None))
    try:
        folder.chmod(0o777)
        path = folder / "listener"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            path.chmod(0o777)
            server.listen()
            outcome = sandbox.run(*sandbox.python(
                f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\ns.sendall(b'hi')\n"))
            server.setblocking(False)
            with pytest.raises(BlockingIOError):
                server.accept()[0].close()
    finally:
        shutil.rmtree(folder)
    assert not outcome.passed and outcome.error in ("PermissionError", "FileNotFoundError"), outcome
