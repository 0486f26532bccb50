"""EvalPlus's differential test of one solution on one input set, as a program of its own: evalplus.py
appends `check(...)` to this file's text and the sandbox runs it (standard library only: it runs on
whichever Python the sandbox has). It ends normally exactly when EvalPlus 0.3.1 says `pass`.

Followed from evalplus (Apache-2.0): `evaluate.get_groundtruth` (the canonical solution's outputs and
times, inputs deep-copied), `eval.unsafe_execute` / `untrusted_check` (per-input time limit
max(1 s, 4 x the canonical time), the whole check, within an input too, in min(60 s, their sum) + 2 s,
stdout and stderr swallowed, exact match else a tolerance of `atol`, 1e-6 for floats, rtol 1e-7; the
special oracles),
`data.mbpp.mbpp_deserialize_inputs`; and the fix of find_zero's oracle that followed 0.3.1 (commit
6eb1e19, #241: 0.3.1 fails every HumanEval/32 solution, the canonical one too). numpy's `allclose` is written out for numbers and nested lists of
one shape; numpy's broadcasting between nested lists of different shapes is not reproduced (it fails).
"""

import cmath
import contextlib
import copy
import io
import math
import signal
import time

MIN_TIME_LIMIT, TIME_LIMIT_FACTOR, MAX_BUDGET = 1.0, 4.0, 60.0
MBPP_OUTPUT_NOT_NONE_TASKS = ["check_str", "text_match_three", "text_starta_endb"]
MBPP_OUTPUT_SET_EQ_TASKS = ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff"]


class TimeoutException(Exception):
    pass


class WriteOnlyStringIO(io.StringIO):
    def read(self, *args, **kwargs):
        raise OSError

    def readline(self, *args, **kwargs):
        raise OSError

    def readlines(self, *args, **kwargs):
        raise OSError

    def readable(self, *args, **kwargs):
        return False


class redirect_stdin(contextlib._RedirectStream):  # EvalPlus's name
    _stream = "stdin"


@contextlib.contextmanager
def swallow_io():
    stream = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream), redirect_stdin(stream):
        yield


@contextlib.contextmanager
def time_limit(seconds):
    def handler(signum, frame):
        raise TimeoutException("Timed out!")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _surface_area(base_edge, height):  # Mbpp/581
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1, num2):  # Mbpp/558
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


def _poly(xs, x):  # HumanEval/32
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _tuples(x):
    return tuple(_tuples(item) for item in x) if isinstance(x, list) else x


def mbpp_deserialize_inputs(task_id, inputs):
    """EvalPlus's own: MBPP+ stores tuples, sets and complex numbers as JSON lists and strings."""
    n = int(task_id.split("/")[-1])
    if n in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744,
             809):
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        nested = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if n == 278:
        nested = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_tuples(inp) for inp in inputs]
    return inputs


def is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _number(x):
    if isinstance(x, (bool, int, float, complex)):
        return x
    raise TypeError(f"not a number: {type(x).__name__}")


def allclose(a, b, atol, rtol=1e-07):
    """numpy.allclose for numbers and nested lists/tuples of one shape (equal_nan=False)."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b):
            raise ValueError("shapes differ")
        return all([allclose(x, y, atol, rtol) for x, y in zip(a, b)])  # noqa: C419 (each element checked, as numpy)
    a, b = _number(a), _number(b)
    if not (cmath.isfinite(a) and cmath.isfinite(b)):
        return not (cmath.isnan(a) or cmath.isnan(b)) and a == b
    return abs(a - b) <= atol + rtol * abs(b)


def groundtruth(code, inputs, entry_point, output_not_none):
    """EvalPlus's trusted_exec: the canonical outputs and the seconds each took."""
    namespace = {}
    exec(code, namespace)  # noqa: S102 (trusted: the canonical solution, in the sandbox)
    fn = namespace[entry_point]
    outputs, times = [], []
    for inp in inputs:
        inp = copy.deepcopy(inp)
        start = time.time()
        outputs.append(fn(*inp))
        times.append(time.time() - start)
    if output_not_none:
        outputs = [o is not None for o in outputs]
    return outputs, times


def check(dataset, task_id, entry_point, canonical, solution, inputs, atol):
    """Raise unless `solution` gives the canonical outputs on every input within EvalPlus's limits."""
    start = time.monotonic()
    if dataset == "mbpp":
        inputs = mbpp_deserialize_inputs(task_id, inputs)
    expected, ref_times = groundtruth(canonical, inputs, entry_point,
                                      dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS)
    limits = [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in ref_times]
    deadline = time.monotonic() + min(MAX_BUDGET, sum(limits)) + 2
    inputs = copy.deepcopy(inputs)  # what EvalPlus's worker process receives: a copy
    namespace = {}
    with time_limit(deadline - time.monotonic()), swallow_io():  # EvalPlus's budget holds for the whole check
        exec(solution, namespace)  # noqa: S102 (the sandbox runs this program)
        fn = namespace[entry_point]
    for i, inp in enumerate(inputs):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutException(f"past EvalPlus's budget of {deadline - start:.1f} s")
        with time_limit(min(limits[i], remaining)), swallow_io():
            out = fn(*inp)
        exp = expected[i]
        exact_match = out == exp
        if dataset == "mbpp":
            if entry_point == "are_equivalent":  # Mbpp/164
                exact_match = True
            elif entry_point == "sum_div":  # Mbpp/295
                exact_match = exact_match or out == 0
            elif entry_point == "surface_Area":  # Mbpp/581
                exact_match = exact_match or abs(out - _surface_area(*inp)) <= atol
            elif entry_point == "digit_distance_nums":  # Mbpp/558
                exact_match = exact_match or out == _digit_distance_nums(*inp)
            elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(out) == set(exp)
            elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
                exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
        if dataset == "humaneval" and entry_point == "find_zero":
            assert abs(_poly(*inp, out)) <= atol, f"input {i}"
            continue
        if atol == 0 and is_floats(exp):
            atol = 1e-6  # EvalPlus's: and it stays for the inputs after
        if not exact_match and atol != 0:
            assert type(out) == type(exp), f"input {i}"  # EvalPlus's exact type check
            if isinstance(exp, (list, tuple)):
                assert len(out) == len(exp), f"input {i}"
            assert allclose(out, exp, atol), f"input {i}"
        else:
            assert exact_match, f"input {i}"
