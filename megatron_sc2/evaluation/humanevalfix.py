"""HumanEvalFix (HumanEvalPack, OctoPack: Muennighoff et al. 2023): a HumanEval function with a subtle bug
and its unit tests; the model writes the fixed function. Six languages: `humanevalfix-LANG`, LANG one of
python, js, java, go, cpp, rust, from `--data-dir/humanevalpack-LANG.jsonl` (checked against manifest.json).

Everything follows bigcode-evaluation-harness 8fc5bae6's `humanevalfixtests-LANG`
(bigcode_eval/tasks/humanevalpack.py) with `--prompt issue`, the prompt its author added for StarCoder2's
evaluation (harness commit 1e4bb7e8, 2024-02-26): the bug report as a GitHub issue in StarCoder2's issue
format, answered with the start of the fixed code. With BASE = the declaration (Rust: `fn main(){}` first):

    <issue_start>username_0: Fix bugs in ENTRY_POINT.\\n\\n```BASE BUGGY_SOLUTION\\nTESTS```\\nUpvotes: 100
    <issue_comment>username_1: Sure, here is the fixed code.\\n\\n```BASE          (without the line break, stripped)

A generation is cut at the first stop string (the language's, then ``` and <|endoftext|>) and then at the end
of its first block (Python: before the first unindented line; the others: at the brace that closes the
function, and Java's class), and follows BASE (right-stripped): that is the fixed function, the completion
as scored. Its program is assembled as the harness's `process_results` does (imports, Go's packages, Rust's
declaration lines) and run as its metric, Muennighoff/code_eval_octopack's execute.py, runs it: RUNNERS.
"""

from __future__ import annotations

from pathlib import Path

from megatron_sc2.data.special_tokens import EOD
from megatron_sc2.evaluation.languages import Language
from megatron_sc2.evaluation.sandbox import Sandbox
from megatron_sc2.evaluation.tasks import MANIFEST, Problem, Task, TaskData, stop_at, verified_records

LANGUAGES = ("python", "js", "java", "go", "cpp", "rust")
FIELDS = ("task_id", "declaration", "buggy_solution", "canonical_solution", "test", "entry_point")
STOPS = {  # the harness's LANGUAGE_TO_STOP_WORDS, then what `--prompt issue` and the tokenizer add
    "python": ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert"),
    "go": ("\n//", "\nfunc main(", "struct", "\nfunc"),
}
ISSUE_STOPS = ("```", EOD)
# the harness's IMPORT_HELPER: what it puts before every Python and C++ program, and the Go packages it imports
# wherever a program names them
PYTHON_IMPORTS = "\n".join([*(f"import {module}" for module in (
    "math", "re", "sys", "copy", "datetime", "itertools", "collections", "heapq", "statistics", "functools", "hashlib",
    "numpy")), "import numpy as np", "import string", "from typing import *", "from collections import *"])
CPP_IMPORTS = "using namespace std;\n" + "\n".join(f"#include<{header}>" for header in (
    "stdlib.h", "algorithm", "cmath", "math.h", "numeric", "stdio.h", "vector", "set", "map", "queue", "stack", "list",
    "deque", "boost/any.hpp", "string", "climits", "cstring", "iostream", "sstream", "fstream"))
GO_PACKAGES = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5")


def _silent(status: int, stdout: str, stderr: str) -> str | None:
    """code_eval_octopack's JavaScript rule: a program passes when it prints nothing, whatever its status."""
    return "output on stdout or stderr" if stdout or stderr else None


# How code_eval_octopack's execute.py runs each language, with the harness's LANGUAGE_TO_TIMEOUT per step
# (Java's javac: 5 s), and what it needs installed; Python runs under the sandbox's runner, with --timeout.
# Go builds apart from the run (its own limit): each program builds testify afresh, the metric's image does
# not. Rust builds the crates in each program's folder (the metric: once, in one shared project).
RUST_CRATES = "/usr/local/share/humanevalfix/crates"  # `cargo vendor` of the metric's Cargo.toml: docs/evaluation.md
CARGO_TOML = """[package]
name = "rust"
version = "0.1.0"
edition = "2021"

[dependencies]
rand = "0.4"
regex = "1"
md5 = "0.7.0"
"""
_CARGO = ("cargo", "--offline", "--config", 'source.crates-io.replace-with="humanevalfix"', "--config",
          f'source.humanevalfix.directory="{RUST_CRATES}"')
_JVM = {"folders": ("/etc/java-17-openjdk",), "processes": 512, "memory_mb": 8192}
RUNNERS = {
    "js": Language("js", "JavaScript", "test.js", ("node", "test.js"), 10, "nodejs", verdict=_silent),
    "java": Language("java", "Java", "Main.java", ("java", "-cp", ".", "Main"), 10, "default-jdk-headless",
                     compile=("javac", "Main.java"), compile_timeout_s=5, **_JVM),
    "go": Language("go", "Go", "main_test.go", ("./main.test", "-test.timeout=20s"), 20,
                   "golang-go golang-github-stretchr-testify-dev", processes=512,
                   compile=("go", "test", "-c", "-o", "main.test", "main_test.go"), compile_timeout_s=60,
                   env={"HOME": "/tmp", "GOCACHE": "/tmp/go-cache", "GO111MODULE": "off", "GOPATH": "/usr/share/gocode"},
                   needs=("/usr/share/gocode/src/github.com/stretchr/testify/assert",)),
    "cpp": Language("cpp", "C++", "test.cpp", ("./a.out",), 60, "g++ libboost-dev libssl-dev",
                    compile=("g++", "-std=c++11", "test.cpp", "-lcrypto", "-lssl"), compile_timeout_s=60,
                    needs=("/usr/include/boost/any.hpp", "/usr/include/openssl/ssl.h")),
    "rust": Language("rust", "Rust", "test.rs", (*_CARGO, "test", "--bin", "test", "--message-format", "json"), 300,
                     "cargo; then cargo vendor the metric's crates into that folder: docs/evaluation.md",
                     compile=(*_CARGO, "check", "--bin", "test", "--message-format", "json"), compile_timeout_s=300,
                     files={"Cargo.toml": CARGO_TOML + '\n[[bin]]\nname = "test"\npath = "test.rs"\n'},
                     env={"HOME": "/tmp", "CARGO_HOME": "/tmp/cargo"}, needs=(RUST_CRATES,), processes=256,
                     memory_mb=8192, tmpfs_mb=1024, file_size_mb=256),
}


def prompt_base(record: dict, language: str) -> str:
    """What the fixed code starts with: the declaration (for Rust after an empty main, as the harness)."""
    return ("fn main(){}\n" if language == "rust" else "") + record["declaration"]


def issue_prompt(record: dict, language: str) -> str:
    base = prompt_base(record, language)
    bug = base + record["buggy_solution"] + "\n" + record["test"]
    return (f"<issue_start>username_0: Fix bugs in {record['entry_point']}.\n\n```{bug}```\nUpvotes: 100"
            f"<issue_comment>username_1: Sure, here is the fixed code.\n\n```{base}").strip()


def first_block(code: str, language: str) -> str:
    """The harness's `remove_last_block` after its stops: the code up to the end of the function."""
    if language == "python":
        lines = code.split("\n")
        return next(("\n".join(lines[:i]) for i, line in enumerate(lines) if line.strip() and line[0] not in " \t"),
                    code)
    depth = 2 if language == "java" else 1
    for i, char in enumerate(code):
        depth += (char == "{") - (char == "}")
        if depth == 0:
            return code[:i + 1]
    if language == "java":
        main = code.find("public static void main")
        if main != -1:
            code = code[:main] + "}"
        if "}" in code:
            code = code[:code.rfind("}")] + "}"
        if code.count("{") - 1 == code.count("}"):
            code += "\n}"
    elif "}" in code:
        code = code[:code.rfind("}")] + "}"
    return code


def go_program(record: dict, code: str) -> str:
    """The harness's Go program: its test file's package and imports (less those the code imports itself),
    an import of each package of GO_PACKAGES a line outside comments names, the code, the tests. (The harness
    imports them in the order of a Python set, and drops a re-imported line from the test setup for the
    problem's later samples too; we sort them and drop it for that sample only.)"""
    setup = record["test_setup"] + "\n"
    for line in setup.split("\n"):
        line = line.replace("import", "").replace("(", "").replace(")", "").strip()
        if line.startswith('"') and line in code:
            setup = setup.replace(line, "")
    whole = f"{setup}{code}\n\n{record['test']}"
    named = sorted({f'"{package.split("/")[-1]}"' for package in GO_PACKAGES if f'"{package}"' not in whole and any(
        package.split("/")[-1] + "." in line and not line.strip().startswith("//") for line in whole.split("\n"))})
    imports = "import (\n" + "\n".join("    " + package for package in named) + "\n)\n" if named else ""
    if "package main" in code and "package main" in setup:
        code = code.replace("package main", "")
    return f"{setup}{imports}{code}\n\n{record['test']}"


def rust_program(record: dict, code: str) -> str:
    """The harness's Rust program: an empty main and the declaration's lines the code lacks, the code up to a
    second main, the tests."""
    head = "" if "fn main()" in code else "fn main(){}\n"
    for line in (line.strip() for line in record["declaration"].split("\n")):
        if line not in code and not (line.startswith("fn") and line.split("(")[0] in code):
            head += line + "\n"
    return head + "fn main()".join(code.split("fn main()")[:2]) + "\n\n" + record["test"]


def program(language: str, record: dict, code: str) -> str:
    """The program the harness runs for the fixed code `code` (prompt base + cut generation)."""
    if language == "go":
        return go_program(record, code)
    if language == "rust":
        return rust_program(record, code)
    if language == "python":
        code = (PYTHON_IMPORTS + "\n" + code).strip()
    elif language == "cpp":
        code = (CPP_IMPORTS + "\n" + code.split("int main")[0]).strip()
    elif language == "java":
        code = code.replace("public class Main {\n    }", "").strip()
    return f"{code}\n\n{record['test']}"


class HumanEvalFix(Task):
    """One language of HumanEvalFix; `pack_language` is HumanEvalPack's name for it, `language` its runner."""

    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.name, self.pack_language = f"humanevalfix-{language}", language
        self.language = "python" if language == "python" else RUNNERS[language]
        fields = FIELDS + (("test_setup",) if language == "go" else ())
        self.records = verified_records(data_dir, f"humanevalpack-{language}.jsonl", manifest, fields)

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        language = name.removeprefix("humanevalfix-")
        if language not in LANGUAGES:
            raise ValueError(f"--tasks {name}: HumanEvalFix's languages are {', '.join(LANGUAGES)}")
        return cls(data.directory(name), language, data.manifest)

    def problems(self) -> list[Problem]:
        stops = STOPS.get(self.pack_language, ()) + ISSUE_STOPS
        problems = []
        for record in self.records:
            base = prompt_base(record, self.pack_language)
            problems.append(Problem(record["task_id"], issue_prompt(record, self.pack_language), stops,
                                    base[len(base.rstrip()):] + record["canonical_solution"], record))
        return problems

    def postprocess(self, problem: Problem, generation: str) -> str:
        code = first_block(stop_at(generation.rstrip(), problem.stops), self.pack_language)
        return prompt_base(problem.data, self.pack_language).rstrip() + code

    def program(self, problem: Problem, completion: str) -> str:
        return program(self.pack_language, problem.data, completion)

    def from_harness(self, problem: Problem, generation: str) -> str | None:
        """The harness saves the fixed code itself (the prompt base, then the cut generation)."""
        return generation if generation.startswith(prompt_base(problem.data, self.pack_language).rstrip()) else None

    def missing(self, sandbox: Sandbox) -> str | None:
        """Every Python program imports numpy (the harness's imports): the sandbox's Python must have it."""
        if self.pack_language != "python":
            return super().missing(sandbox)
        if sandbox.run(*sandbox.python("import numpy\n")).passed:
            return None
        return "toolchain missing: numpy for the sandbox's Python (apt-get install python3-numpy)"
