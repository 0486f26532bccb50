"""How MultiPL-E runs a program in each language, and how it judges the result.

One row per language of the StarCoder2 paper's MultiPL-E table (C++, C#, D, Go, Java, Julia, JavaScript,
Lua, PHP, Perl, R, Ruby, Racket, Rust, Scala, Swift, TypeScript, Bash; Python runs under the sandbox's
own runner). The commands, timeouts and verdicts are those of MultiPL-E's evaluators as
bigcode-evaluation-harness (the harness the paper used) vendors them in
`bigcode_eval/tasks/custom_metrics/multiple_metrics/eval_*.py`; a program passes where their status is
"OK". Where Debian lacks MultiPL-E's tool we run the nearest one and say so in the row: `ldmd2 -run`
for `rdmd` (D), `mcs` for Roslyn's `csc` (C#), and Java's run adds the javatuples jar to the class path
as nuprl/MultiPL-E's current `eval_java.py` does.

Each program runs as one sandboxed bash script (`driver`): the compile step (if any), its output kept
in a file and shown only when it fails, then the run, each under `timeout` with MultiPL-E's limit. The
script reports each step's exit status on file descriptor 3, a file outside the sandbox that the program
never holds (it is closed for every step), so a program cannot pose as having compiled or run to its end.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

SYSTEM_PATH = "/usr/bin:/bin"  # the sandbox sees only the system's folders: tools are looked up there
TIMED_OUT = (124, 137)  # `timeout`'s status when it stopped a step (TERM, then KILL)
JAVATUPLES = "/usr/share/java/javatuples.jar"  # Debian's libjavatuples-java; MultiPL-E's Java prompts import it


def exit_zero(status: int, stdout: str, stderr: str) -> str | None:
    """MultiPL-E's usual rule: the program passes when it exits 0."""
    return None if status == 0 else f"exit {status}"


def _and(*rules: Callable[[int, str, str], str | None]) -> Callable[[int, str, str], str | None]:
    def rule(status: int, stdout: str, stderr: str) -> str | None:
        return next((why for r in rules if (why := r(status, stdout, stderr)) is not None), None)
    return rule


def _no(text: str, where: str) -> Callable[[int, str, str], str | None]:
    def rule(status: int, stdout: str, stderr: str) -> str | None:
        streams = {"stdout": stdout, "stderr": stderr, "output": stdout + stderr}
        return f"{text!r} in {where}" if text in streams[where] else None
    return rule


def _empty_stderr(status: int, stdout: str, stderr: str) -> str | None:
    return "output on stderr" if stderr else None


def _go_test(status: int, stdout: str, stderr: str) -> str | None:
    """eval_go.py: `go test`'s stdout, not its exit status, decides."""
    if "[setup failed]" in stdout or "[build failed]" in stdout:
        return "compile error"
    return "FAIL" if "FAIL" in stdout else None


def _mono(status: int, stdout: str, stderr: str) -> str | None:
    """eval_cs.py: a failed Debug.Assert or an unhandled exception on stderr, whatever the exit status."""
    failed = "System.Diagnostics.DefaultTraceListener.Fail" in stderr or "Unhandled Exception" in stderr
    return "Debug.Assert failed or unhandled exception" if failed else None


@dataclass(frozen=True)
class Language:
    key: str  # MultiPL-E's name for it: the task is multiple-KEY
    name: str  # as the paper's table writes it
    file: str  # the program's file name
    run: tuple[str, ...]
    run_timeout_s: float
    packages: str  # the Debian packages that provide the toolchain
    compile: tuple[str, ...] = ()
    compile_timeout_s: float = 0.0
    verdict: Callable[[int, str, str], str | None] = exit_zero  # (status, stdout, stderr) -> why it failed
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # other files beside the program (a build manifest)
    folders: tuple[str, ...] = ()  # configuration outside /usr the toolchain reads (read-only in the sandbox)
    needs: tuple[str, ...] = ()  # files every program needs besides the tools (headers, libraries' sources)
    # what the toolchain itself needs beyond the sandbox's limits (JVM threads and address space, R's files,
    # cargo's builds)
    processes: int = 0
    open_files: int = 0
    memory_mb: int = 0
    tmpfs_mb: int = 0  # its folder and /tmp
    file_size_mb: int = 0
    note: str = ""  # where we differ from MultiPL-E's command

    def tools(self) -> list[str]:
        return list(dict.fromkeys(step[0] for step in (self.compile, self.run) if step and "/" not in step[0]))

    def missing(self) -> str | None:
        """Why this language cannot run here, or None."""
        absent = [tool for tool in self.tools() if shutil.which(tool, path=SYSTEM_PATH) is None]
        absent += [path for path in self.needs if not os.path.exists(path)]
        if absent:
            return f"toolchain missing: {', '.join(absent)} (apt-get install {self.packages})"
        return None

    @property
    def seconds(self) -> float:
        """The longest the whole program may take, both steps."""
        return self.compile_timeout_s + self.run_timeout_s

    def driver(self) -> str:
        """The shell script that compiles and runs `file`, reporting each step's status on fd 3."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"PATH": SYSTEM_PATH, **self.env}.items())
        lines = ['[ "$1" = 3 ] || eval "exec 3>&$1 $1>&-"', f"export {env}"]  # the descriptor may be 3 already
        if self.compile:
            lines += [(f"timeout -k 1 {self.compile_timeout_s:g} {shlex.join(self.compile)} >compile.out 2>&1 "
                       "</dev/null 3>&-"),
                      's=$?; if [ $s -ne 0 ]; then cat compile.out >&2; echo "compile $s" >&3; exit 1; fi',
                      "rm -f compile.out"]
        lines += [f"timeout -k 1 {self.run_timeout_s:g} {shlex.join(self.run)} </dev/null 3>&-",
                  's=$?; echo "run $s" >&3; exit $s']
        return "\n".join(lines) + "\n"

    def judge(self, report: str, stdout: str, stderr: str) -> tuple[bool, str | None]:
        """(passed, error) from the steps' statuses reported on fd 3 and the run's output."""
        steps = dict(line.split(" ", 1) for line in report.splitlines() if " " in line)
        if "compile" in steps:
            return False, "compile timeout" if int(steps["compile"]) in TIMED_OUT else "compile error"
        if "run" not in steps:
            return False, "ended before its run did"
        status = int(steps["run"])
        if status in TIMED_OUT:
            return False, "timeout"
        why = self.verdict(status, stdout, stderr)
        return why is None, why


def _c(key, name, file, run, run_timeout_s, packages, **kw) -> Language:
    return Language(key, name, file, tuple(run), run_timeout_s, packages, **kw)


_GO_ENV = {"HOME": "/tmp", "GOCACHE": "/tmp/go-cache", "GOPATH": "/tmp/go", "GO111MODULE": "off",
           "GOFLAGS": "-buildvcs=false"}
LANGUAGES: dict[str, Language] = {lang.key: lang for lang in (
    _c("cpp", "C++", "main.cpp", ["./main"], 15, "g++",
       compile=("g++", "main.cpp", "-o", "main", "-std=c++17"), compile_timeout_s=15),
    _c("cs", "C#", "main.cs", ["mono", "main.exe"], 5, "mono-mcs mono-runtime",
       compile=("mcs", "-d:DEBUG", "-r:System.Numerics.dll", "main.cs", "-out:main.exe"), compile_timeout_s=15,
       verdict=_mono, env={"MONO_TRACE_LISTENER": "Console.Error", "HOME": "/tmp"}, folders=("/etc/mono",),
       processes=256, note="Mono's mcs instead of Roslyn's csc, which Debian does not package"),
    _c("d", "D", "main.d", ["ldmd2", "-unittest", "-run", "main.d"], 15, "ldc", folders=("/etc/ldc2.conf",),
       note="ldmd2 -unittest -run (LDC) instead of rdmd -unittest (DMD), which Debian does not package"),
    _c("go", "Go", "main_test.go", ["go", "test", "main_test.go"], 30, "golang-go", verdict=_go_test,
       env=_GO_ENV, processes=512),
    _c("java", "Java", "Problem.java", ["java", "-ea", "-cp", f".:{JAVATUPLES}", "Problem"], 15,
       "default-jdk-headless libjavatuples-java",
       compile=("javac", "-encoding", "UTF8", "-d", ".", "Problem.java"), compile_timeout_s=15,
       env={"CLASSPATH": JAVATUPLES}, folders=("/etc/java-17-openjdk",), processes=512, memory_mb=8192),
    _c("jl", "Julia", "main.jl", ["julia", "main.jl"], 5, "julia (not in Debian 12: julialang.org's tarball)"),
    _c("js", "JavaScript", "main.js", ["node", "main.js"], 5, "nodejs"),
    _c("lua", "Lua", "main.lua", ["lua", "main.lua"], 15, "lua5.3"),
    _c("php", "PHP", "main.php", ["php", "main.php"], 15, "php-cli",
       verdict=_and(exit_zero, _no("PHP Parse error", "stdout")), folders=("/etc/php",)),
    _c("pl", "Perl", "main.pl", ["perl", "main.pl"], 15, "perl",
       verdict=_and(exit_zero, _no("ERROR", "output"))),
    _c("r", "R", "main.r", ["Rscript", "main.r"], 5, "r-base-core", folders=("/etc/R",), open_files=1024),
    _c("rb", "Ruby", "main.rb", ["ruby", "main.rb"], 5, "ruby"),
    _c("rkt", "Racket", "main.rkt", ["racket", "main.rkt"], 15, "racket",
       verdict=_and(exit_zero, _empty_stderr), env={"HOME": "/tmp"}, folders=("/etc/racket",)),
    _c("rs", "Rust", "main.rs", ["./main"], 5, "rustc",
       compile=("rustc", "main.rs", "-o", "main"), compile_timeout_s=15),
    _c("scala", "Scala", "main.scala", ["scala", "-cp", ".", "Problem"], 15, "scala",
       compile=("scalac", "-d", ".", "main.scala"), compile_timeout_s=45,
       verdict=_and(exit_zero, _empty_stderr), folders=("/etc/java-17-openjdk",), processes=512, memory_mb=8192),
    _c("sh", "Bash", "main.sh", ["bash", "main.sh"], 15, "bash"),
    _c("swift", "Swift", "main.swift", ["./main"], 5, "swiftlang (not in Debian 12: swift.org's tarball)",
       compile=("swiftc", "main.swift", "-o", "main"), compile_timeout_s=45),
    _c("ts", "TypeScript", "main.ts", ["node", "main.js"], 15, "node-typescript",
       compile=("tsc", "--target", "esnext", "main.ts"), compile_timeout_s=15),
)}
