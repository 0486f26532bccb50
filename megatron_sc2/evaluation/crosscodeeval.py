"""CrossCodeEval (Ding et al. 2023): the rest of a line (or statement) of a file whose completion needs other
files of its repository, in Python, Java, TypeScript and C# (`crosscodeeval-LANGUAGE`), scored as
amazon-science/cceval 25f9cab7 scores it (scripts/eval_metric.py, scripts/eval_utils.py).

- Records: `crosscodeeval_data/LANGUAGE/line_completion_rg1_bm25.jsonl` of the release's
  data/crosscodeeval_data.tar.xz (unpacked into --data-dir): the paper's "retrieval" setting, up to five
  chunks of other files (`crossfile_context.list`), for each chunk BM25 ranks highest against the prompt's
  last ten lines the one that follows it.
- Prompt: StarCoder2's repository format, `<repo_name>REPOSITORY`, each retrieved chunk as
  `<file_sep>FILENAME\\nCHUNK`, then `<file_sep>FILE\\nPROMPT` (metadata.repository, metadata.file). The
  publisher's vllm_inference.py puts `crossfile_context.text` (the same chunks, each line commented, under
  `# the below code fragment can be found in:` headers) and a newline before the prompt, and cuts both to token
  budgets; we cut nothing.
- A generation is cut at `<|endoftext|>` and `<file_sep>`; scoring then takes, as postprocess_code_lines does,
  for Java, TypeScript and C# the text up to the first `;`, `{` or `}` (all of it when that is its first
  character), for Python the shortest prefix that ends before a newline and after which prompt + prefix
  parses without an ERROR node in tree-sitter's Python grammar (rstripped; all of it when none does), and
  drops `#...` and `//...` from it and from the reference (remove_comments).
- Metrics, per sample: `exact_match` (the stripped non-blank lines equal), `edit_similarity`
  (string_match.edit_similarity of the stripped prediction and reference, / 100), `identifier_exact_match`
  (the identifiers, in order, equal) and `identifier_f1` (of the sets of identifiers; 0 when both are empty).
  An identifier is a `\\w+` run of the code without its string literals that starts with [_a-zA-Z] and is not a
  keyword of the language (crosscodeeval_keywords.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP, REPO_NAME
from megatron_sc2.evaluation.crosscodeeval_keywords import KEYWORDS
from megatron_sc2.evaluation.string_match import StringMatchTask, edit_similarity
from megatron_sc2.evaluation.tasks import MANIFEST, Problem, Task, TaskData, stop_at, verified_records

FILE = "crosscodeeval_data/{}/line_completion_rg1_bm25.jsonl"
FIELDS = ("prompt", "groundtruth", "crossfile_context", "metadata")
STOPS = (EOD, FILE_SEP)
STRING = re.compile(r'"([^"\\]*(\\.[^"\\]*)*)"|\'([^\'\\]*(\\.[^\'\\]*)*)\'')


def prompt(record: dict) -> str:
    context = record["crossfile_context"]  # {} or "" where the publisher found none
    chunks = "".join(f"{FILE_SEP}{c['filename']}\n{c['retrieved_chunk']}" for c in (context or {}).get("list", []))
    return f"{REPO_NAME}{record['metadata']['repository']}{chunks}{FILE_SEP}{record['metadata']['file']}\n" \
           f"{record['prompt']}"


def first_bracket_statement(completion: str) -> str:
    end = next((i for i, c in enumerate(completion) if c in ";{}"), None)
    return completion[:end + 1] if end else completion


def python_parser():
    try:
        import tree_sitter
        import tree_sitter_python
    except ModuleNotFoundError:
        raise RuntimeError("crosscodeeval-python ends a completion where tree-sitter's Python grammar parses, as "
                           "CrossCodeEval does: pip install 'tree-sitter>=0.22' tree-sitter-python") from None
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def has_error_node(node) -> bool:
    """Whether the tree holds an ERROR node (MISSING ones do not count); too deep a tree counts, as there."""
    if node.type == "ERROR":
        return True
    try:
        for child in node.children:
            if has_error_node(child):
                return True
    except RecursionError:
        return True
    return False


def first_python_statement(parser, prompt: str, completion: str) -> str:
    for i in range(len(completion) - 1):
        if completion[i + 1] == "\n":
            try:
                code = (prompt + completion[:i + 1]).encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: the publisher's bytes() fails and keeps it all
                return completion
            if not has_error_node(parser.parse(code).root_node):
                return completion[:i + 1].rstrip()
    return completion


def without_comments(code: str) -> str:
    return re.sub(r"//.*", "", re.sub(r"#.*", "", code))


def nonblank_lines(code: str) -> list[str]:
    return [line.strip() for line in code.split("\n") if line.strip()]


def identifiers(code: str, language: str) -> list[str]:
    return [t for t in re.findall(r"\w+", STRING.sub("", code))
            if re.match(r"[_a-zA-Z]", t) and t not in KEYWORDS[language]]


class CrossCodeEval(StringMatchTask):
    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.language, self.name = language, f"crosscodeeval-{language}"
        self.records = verified_records(data_dir, FILE.format(language), manifest, FIELDS)
        self.parser = python_parser() if language == "python" else None

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), name.removeprefix("crosscodeeval-"), data.manifest)

    def problems(self) -> list[Problem]:
        return [Problem(r["metadata"]["task_id"], prompt(r), STOPS, r["groundtruth"], r) for r in self.records]

    def postprocess(self, problem: Problem, generation: str) -> str:
        return stop_at(generation, problem.stops)

    def statement(self, problem: Problem, completion: str) -> str:
        """The completion as the publisher scores it: its first statement, without comments."""
        if self.parser is None:
            return without_comments(first_bracket_statement(completion))
        return without_comments(first_python_statement(self.parser, problem.data["prompt"], completion))

    def string_metrics(self, problem: Problem, completion: str) -> dict[str, float]:
        prediction, reference = self.statement(problem, completion), without_comments(problem.reference)
        found, expected = identifiers(prediction, self.language), identifiers(reference, self.language)
        shared, wrong, missed = len(set(found) & set(expected)), len(set(found) - set(expected)), \
            len(set(expected) - set(found))
        return {"exact_match": nonblank_lines(prediction) == nonblank_lines(reference),
                "edit_similarity": edit_similarity(prediction.strip(), reference.strip()) / 100,
                "identifier_exact_match": found == expected,
                "identifier_f1": 2 * shared / (2 * shared + wrong + missed) if shared + wrong + missed else 0.0}
