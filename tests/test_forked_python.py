"""A forked rank behaves as `python -u` does: the same output, exit status, argv, path, environment."""

import subprocess
import sys

import pytest
from forked_python import ForkedPython

SCRIPT = """
import atexit, os, sys, threading, time
import helper
atexit.register(lambda: print("atexit ran"))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread joined"))).start()
print("argv", sys.argv[1:], "cwd", os.getcwd(), "helper", helper.NAME, "env", os.environ.get("PROBE"))
print("to stderr", file=sys.stderr)
how = sys.argv[1]
if how == "exit-text":
    sys.exit("a clear line")
if how == "exit-code":
    sys.exit(3)
if how == "raise":
    raise ValueError("boom")
"""


@pytest.mark.parametrize("how", ["ok", "exit-text", "exit-code", "raise"])
def test_a_forked_script_gives_what_python_gives(tmp_path, how):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("NAME = 'from PYTHONPATH'\n")
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = {"PROBE": "set", "PYTHONPATH": str(tmp_path / "lib"), "PATH": "/usr/bin:/bin"}
    cold = subprocess.run([sys.executable, "-u", str(script), how, "x y"], capture_output=True, text=True,
                          check=False, cwd=tmp_path / "lib", env=env)

    out, err = tmp_path / "out", tmp_path / "err"
    forked = ForkedPython([str(script), how, "x y"], out, err, tmp_path / "lib", env)
    assert forked.wait(60) == cold.returncode
    assert out.read_text() == cold.stdout
    # a traceback's frames below the script differ (runpy's, not the interpreter's); its last line does not
    assert err.read_text().splitlines()[-1] == cold.stderr.splitlines()[-1]
    assert err.read_text().splitlines()[0] == cold.stderr.splitlines()[0] == "to stderr"


def test_a_forked_module_runs_as_main_and_a_killed_one_reports_the_signal(tmp_path):
    out, err = tmp_path / "out", tmp_path / "err"
    ran = ForkedPython(["-m", "json.tool", "--help"], out, err, tmp_path, {})
    assert ran.wait(60) == 0 and out.read_text().startswith("usage: python -m json.tool")

    sleeper = tmp_path / "sleep.py"
    sleeper.write_text("import time\ntime.sleep(600)\n")
    killed = ForkedPython([str(sleeper)], out, err, tmp_path, {})
    killed.kill()
    assert killed.wait(60) == -9
