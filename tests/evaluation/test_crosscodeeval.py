"""crosscodeeval-LANGUAGE builds CrossCodeEval's prompt in StarCoder2's repository format and scores each sample
as amazon-science/cceval 25f9cab7 does (string_publishers.CCEVAL_COMMIT).

data/crosscodeeval.json holds cases of a record in CrossCodeEval's schema, made up here (the release's data
tarball is not in the mirror), its crossfile_context made by the publisher's get_crossfile_context_from_chunks
(prompt_builder/augment_with_cfc.py, without reranking), and one raw generation: Python ones ending at a
statement's end, going on past a multi-line call (where tree-sitter decides), ending where the tree has a MISSING
node but no ERROR one, with a comment, empty, whitespace only, unicode, unfinished, after Python 2 code, and 200+
characters long; Java ones cut at `;`, with `;` or `{` first (the publisher keeps all), a comment inside, a string
literal; a TypeScript and a C# one. data/crosscodeeval_publisher.json holds vllm_inference.py's prompt and the
row compute_metric_stmt wrote to detailed_results.json for each.
"""

import json
from pathlib import Path

import pytest
from evaluation.string_publishers import CCEVAL, cceval_outputs, fixture, missing

from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME
from megatron_sc2.evaluation.crosscodeeval import FILE, CrossCodeEval, prompt
from megatron_sc2.evaluation.tasks import make_task, sha256

CASES, STORED = fixture("crosscodeeval"), fixture("crosscodeeval_publisher")
LANGUAGES = tuple(dict.fromkeys(case["language"] for case in CASES["cases"]))
PACKAGES = ("fuzzywuzzy", "nltk", "tree_sitter_python")


def write_release(folder: Path, cases: list[dict]) -> Path:
    """Each language's file of the unpacked tarball, and a manifest of them."""
    sums = {}
    for language in LANGUAGES:
        path = folder / FILE.format(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(c["record"]) + "\n" for c in cases if c["language"] == language))
        sums[FILE.format(language)] = {"sha256": sha256(path)}
    (folder / "manifest.json").write_text(json.dumps(sums))
    return folder / "manifest.json"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict[str, CrossCodeEval]:
    folder = tmp_path_factory.mktemp("crosscodeeval")
    manifest = write_release(folder, CASES["cases"])
    return {language: CrossCodeEval(folder, language, manifest) for language in LANGUAGES}


def problem_of(tasks, case):
    return next(p for p in tasks[case["language"]].problems() if p.task_id == case["record"]["metadata"]["task_id"])


def publishers_layout(ours: str, language: str) -> str:
    """Our prompt as vllm_inference.py lays it out: the retrieved chunks, commented under get_crossfile_context_
    from_chunks's headers (without the repository and file path our format has), a newline, the prompt."""
    comment = "#" if language == "python" else "//"
    _, *chunks, in_file = ours.removeprefix(REPO_NAME).split(FILE_SEP)
    text = f"{comment} Here are some relevant code fragments from other files of the repo:\n\n"
    for chunk in chunks:
        filename, code = chunk.split("\n", 1)
        lines = "\n".join(f"{comment} {line}" for line in code.strip("\n").splitlines())
        text += f"{comment} the below code fragment can be found in:\n{comment} {filename}\n{lines}\n\n"
    return f"{text}\n{in_file.split(chr(10), 1)[1]}"


def test_the_prompt_is_the_publishers_in_starcoder2s_repository_format(tasks):
    for case, theirs in zip(CASES["cases"], STORED["prompts"]):
        ours = problem_of(tasks, case).prompt
        metadata = case["record"]["metadata"]
        assert ours.startswith(f"{REPO_NAME}{metadata['repository']}{FILE_SEP}")
        assert ours.endswith(f"{FILE_SEP}{metadata['file']}\n{case['record']['prompt']}")
        assert publishers_layout(ours, case["language"]) == theirs
    record = {**CASES["cases"][0]["record"], "crossfile_context": ""}  # the publisher's record without any
    assert prompt(record) == f"{REPO_NAME}acme/loader{FILE_SEP}acme/load.py\n{record['prompt']}"


def test_every_sample_scores_as_the_publishers_code_scores_it(tasks):
    for case, theirs in zip(CASES["cases"], STORED["samples"]):
        problem = problem_of(tasks, case)
        ours = tasks[case["language"]].string_metrics(problem, tasks[case["language"]].postprocess(
            problem, case["generation"]))
        assert (ours["exact_match"], ours["identifier_exact_match"]) == (theirs["em"] == 1, theirs["id_em"] == 1)
        assert ours["edit_similarity"] * 100 == pytest.approx(theirs["es"], abs=1e-9)
        assert ours["identifier_f1"] == pytest.approx(theirs["id_f1"], abs=1e-9)
    assert {s["em"] for s in STORED["samples"]} == {0, 1} and len({s["es"] for s in STORED["samples"]}) > 8
    assert 0 < sum(s["id_f1"] for s in STORED["samples"]) < len(STORED["samples"])


def test_a_missing_or_wrong_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"no crosscodeeval_data/java/line_completion_rg1_bm25.jsonl \(this tool"):
        make_task("crosscodeeval-java", tmp_path)
    broken = [{**c, "record": {k: v for k, v in c["record"].items() if k != "groundtruth"}} for c in CASES["cases"]]
    manifest = write_release(tmp_path, broken)
    with pytest.raises(ValueError, match=r"line_completion_rg1_bm25.jsonl: record 1 has no groundtruth: each record needs"):
        CrossCodeEval(tmp_path, "java", manifest)


@pytest.mark.skipif(missing(CCEVAL, *PACKAGES) is not None, reason=str(missing(CCEVAL, *PACKAGES)))
def test_the_publishers_code_gives_the_stored_outputs(tmp_path):
    assert cceval_outputs(CASES, tmp_path) == STORED
