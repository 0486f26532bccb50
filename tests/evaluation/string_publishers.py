"""The publishers' own scoring code of the string-matched tasks, run from their mirrors on a fixture's samples:
Leolty/repobench (REPOBENCH_COMMIT), amazon-science/cceval (CCEVAL_COMMIT) and bigcode-evaluation-harness
(HARNESS_COMMIT). Their modules import what the metrics do not need (torch, vllm, datasets, transformers, a
tree-sitter library built with tree-sitter 0.20's API), so their definitions are taken out of the source with
`ast`, without imports and decorators (CrossCodeEval's 5 s timeout on a parse, the harness's abstractmethod),
and run beside fuzzywuzzy and nltk, which the metrics use. Without a mirror or those packages (as in CI) the stored
outputs in data/NAME_publisher.json stand in: the return values of the *_outputs functions below on
data/NAME.json, written with json.dumps(indent=1, ensure_ascii=False).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import types
from functools import partial
from pathlib import Path

REPOBENCH_COMMIT = "630c8658"  # Leolty/repobench "add a link to the legacy branch"
CCEVAL_COMMIT = "25f9cab7"  # amazon-science/cceval "Update README.md"
HARNESS_COMMIT = "8fc5bae6"  # bigcode-project/bigcode-evaluation-harness "Update multiple.py"
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
REPOBENCH = MIRRORS / "Leolty+repobench" / "repo"
CCEVAL = MIRRORS / "amazon-science+cceval" / "repo"
HARNESS = Path(os.environ.get("SC2_BIGCODE_HARNESS", MIRRORS / "bigcode-project+bigcode-evaluation-harness/repo"))
DATA = Path(__file__).parent / "data"


def missing(repo: Path, *packages: str) -> str | None:
    """Why the publisher's code cannot run here, or None."""
    if not (repo / "HEAD").exists() and not (repo / ".git").exists():
        return f"no mirror of the publisher at {repo} (set SC2_REFERENCE_MIRRORS, as CI does not)"
    absent = [p for p in packages if importlib.util.find_spec(p) is None]
    return f"the publisher's metric needs {', '.join(absent)} (pip install {' '.join(absent)})" if absent else None


def source(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def definitions(text: str, namespace: dict, names: set[str] | None = None) -> dict:
    """Runs the module's functions, classes and assignments (those in `names`, or all), nothing else."""
    tree = ast.parse(text)
    kept = []
    for node in tree.body:
        named = {node.name} if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else \
            {t.id for t in node.targets if isinstance(t, ast.Name)} if isinstance(node, ast.Assign) else None
        if named is not None and (names is None or named & names):
            if hasattr(node, "decorator_list"):
                node.decorator_list = []
            kept.append(node)
    exec(compile(ast.Module(body=kept, type_ignores=[]), "<publisher>", "exec"), namespace)  # noqa: S102
    return namespace


def fixture(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


# ---- RepoBench ------------------------------------------------------------------------------------

def repobench_outputs(cases: dict) -> dict:
    """construct_prompt's prompt per record (by language and setting); run.py's kept line and eval.py's EM and
    ES per sample."""
    from fuzzywuzzy import fuzz

    utils = definitions(source(REPOBENCH, REPOBENCH_COMMIT, "data/utils.py"), {"re": re})
    run = definitions(source(REPOBENCH, REPOBENCH_COMMIT, "run.py"), {}, {"get_first_line_not_comment"})
    metrics = definitions(source(REPOBENCH, REPOBENCH_COMMIT, "evaluation/metrics.py"), {"fuzz": fuzz},
                          {"exact_match_score", "edit_similarity_score"})
    prompts = {language: {setting: [utils["construct_prompt"](r, language=language) for r in records]
                          for setting, records in settings.items()}
               for language, settings in cases["records"].items()}
    samples = []
    for sample in cases["samples"]:
        record = cases["records"][sample["language"]][sample["setting"]][sample["record"]]
        pred = run["get_first_line_not_comment"](sample["generation"], language=sample["language"])
        ground_truth, generated = [record["next_line"]], [pred]
        samples.append({"pred": pred, "em": metrics["exact_match_score"](ground_truth, generated),
                        # eval.py passes (ground_truth, generated) to a function that names them the other way
                        "es": metrics["edit_similarity_score"](ground_truth, generated)})
    return {"commit": REPOBENCH_COMMIT, "prompts": prompts, "samples": samples}


# ---- CrossCodeEval -----------------------------------------------------------------------------------

def _tree_sitter_0_20(language_module):
    """Language(library, name) and Parser().set_language() as eval_metric.py calls them, on tree-sitter >= 0.22
    and the grammar's wheel (the library it builds is not at hand)."""
    import tree_sitter

    class Parser:
        def set_language(self, language):
            self.parser = tree_sitter.Parser(language)

        def parse(self, code):
            return self.parser.parse(code)

    return (lambda library, name: tree_sitter.Language(language_module.language())), Parser


def cceval_outputs(cases: dict, folder: Path) -> dict:
    """Per case (a record and its one generation), vllm_inference.py's prompt and the row compute_metric_stmt
    writes to detailed_results.json (em, es, id_em, id_f1, ...), run on one prompt file and prediction.jsonl per
    language."""
    import tree_sitter_python
    from fuzzywuzzy import fuzz
    from nltk.tokenize import RegexpTokenizer
    from tqdm import tqdm

    keywords = folder / "keywordlist.py"
    keywords.write_text(source(CCEVAL, CCEVAL_COMMIT, "scripts/keywords/keywordlist.py"))
    for language in ("java", "typescript", "csharp"):
        (folder / f"{language}.txt").write_text(source(CCEVAL, CCEVAL_COMMIT, f"scripts/keywords/{language}.txt"))
    spec = importlib.util.spec_from_file_location("keywordlist", keywords)
    keywordlist = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(keywordlist)
    utils = definitions(source(CCEVAL, CCEVAL_COMMIT, "scripts/eval_utils.py"), {
        "re": re, "fuzz": fuzz, "RegexpTokenizer": RegexpTokenizer,
        "get_language_keywords": keywordlist.get_language_keywords}, {
        "IDENTIFIER_REGEX", "string_pattern", "code_tokenizer", "cal_edit_sim", "is_identifier",
        "extract_identifiers", "get_bracket_lang_statement", "get_ast", "remove_comments", "is_parse_valid",
        "get_python_one_statement", "postprocess_code_lines"})
    language_class, parser_class = _tree_sitter_0_20(tree_sitter_python)
    serial = types.SimpleNamespace(Pool=lambda processes: types.SimpleNamespace(imap_unordered=map),
                                   cpu_count=lambda: 2)
    metric = definitions(source(CCEVAL, CCEVAL_COMMIT, "scripts/eval_metric.py"), {
        **utils, "json": json, "os": os, "partial": partial, "mp": serial, "Language": language_class,
        "Parser": parser_class, "tqdm": partial(tqdm, disable=True)})
    rows = {}
    for language in dict.fromkeys(case["language"] for case in cases["cases"]):
        run = folder / language
        run.mkdir()
        ours = [case for case in cases["cases"] if case["language"] == language]
        with open(run / "prompts.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(case["record"]) + "\n" for case in ours)
        with open(run / "prediction.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"task_id": case["record"]["metadata"]["task_id"], "pred": case["generation"]})
                         + "\n" for case in ours)
        metric["compute_metric_stmt"](types.SimpleNamespace(
            output_dir=str(run), prompt_file=str(run / "prompts.jsonl"), language=language, ts_lib=None))
        for line in (run / "detailed_results.json").read_text().splitlines():
            row = json.loads(line)
            rows[row.pop("task_id")] = row
    return {"commit": CCEVAL_COMMIT, "prompts": [cceval_prompt(case["record"]) for case in cases["cases"]],
            "samples": [rows[case["record"]["metadata"]["task_id"]] for case in cases["cases"]]}


def cceval_prompt(record: dict) -> str:
    """vllm_inference.py's prompt (crossfile_context.text, a newline, the prompt), budgets wider than any
    fixture text so that nothing is cut; a tokenizer of characters."""
    namespace = definitions(source(CCEVAL, CCEVAL_COMMIT, "scripts/vllm_inference.py"), {"logger": None},
                            {"truncate", "prepare_prompt"})
    characters = types.SimpleNamespace(tokenize=list, convert_tokens_to_string="".join)
    return namespace["prepare_prompt"](record["prompt"], record["crossfile_context"]["text"], 10**6, 10**6,
                                       characters)


# ---- SantaCoder FIM ------------------------------------------------------------------------------------

def fim_outputs(cases: dict) -> dict:
    """starcoder_fim's prompt per record; its postprocessed generation and exact match per sample."""
    import abc
    import warnings

    from tqdm import tqdm

    base = definitions(source(HARNESS, HARNESS_COMMIT, "bigcode_eval/base.py"), {
        "ABC": abc.ABC, "abstractmethod": abc.abstractmethod, "warn": warnings.warn,
        "load_dataset": lambda path, name: {"train": cases["records"]}})
    fim = definitions(source(HARNESS, HARNESS_COMMIT, "bigcode_eval/tasks/santacoder_fim.py"),
                      {"Task": base["Task"], "tqdm": tqdm, "Dict": dict, "List": list})
    task = fim["StarCoderFIM"]()
    records = task.get_dataset()
    samples = []
    for sample in cases["samples"]:
        record = records[sample["record"]]
        pred = task.postprocess_generation(task.get_prompt(record) + sample["generation"], sample["record"])
        alone = fim["StarCoderFIM"]()
        alone.dataset = {"train": [record]}
        em = alone.process_results([[pred]], [alone.get_reference(record)])[f"{record['language']} Exact Match"]
        samples.append({"pred": pred, "em": em})
    return {"commit": HARNESS_COMMIT, "prompts": [task.get_prompt(r) for r in records], "samples": samples}
