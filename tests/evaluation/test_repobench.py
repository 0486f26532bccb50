"""repobench-python and repobench-java build RepoBench's prompt in StarCoder2's repository format and score each
sample as Leolty/repobench 630c8658 does (string_publishers.REPOBENCH_COMMIT).

data/repobench.json holds records in RepoBench v1.1's schema, made up here (the release is on the Hugging Face
Hub, which this project never downloads from): a cross_file_first, cross_file_random and in_file record per
language that run.py keeps, three Python ones it leaves out (level 24k, before and after its date window),
unicode, runs of blank lines and trailing blanks in the code; and raw generations: exact, after a comment, a
docstring line (run.py's quirk), empty, whitespace only, differing only in spaces, unicode, multi-line, and a
line of 200+ characters (where the order of edit similarity's arguments matters). data/repobench_publisher.json
holds what the publisher's construct_prompt, get_first_line_not_comment and eval.py's metrics gave for them.
"""

import json
import re
from pathlib import Path

import pyarrow
import pyarrow.parquet
import pytest
from evaluation.string_publishers import REPOBENCH, fixture, missing, repobench_outputs

from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME
from megatron_sc2.evaluation.repobench import FILES, RepoBench
from megatron_sc2.evaluation.scoring import score
from megatron_sc2.evaluation.tasks import make_task, sha256

CASES, STORED = fixture("repobench"), fixture("repobench_publisher")


def write_release(folder: Path, records: dict = CASES["records"]) -> Path:
    """The release's files of each language, a setting's records all in its first shard; a manifest of them."""
    sums = {}
    for language, settings in records.items():
        schema = pyarrow.Table.from_pylist([r for rs in settings.values() for r in rs]).schema
        for name in FILES[language]:
            setting, shard = name.split("-")[:2]
            path = folder / f"repobench_{language}_v1.1" / "data" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = settings.get(setting, []) if shard == "00000" else []
            pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows, schema=schema), path)
            sums[str(path.relative_to(folder))] = {"sha256": sha256(path)}
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(sums))
    return manifest


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict[str, RepoBench]:
    folder = tmp_path_factory.mktemp("repobench")
    manifest = write_release(folder)
    return {language: RepoBench(folder, language, manifest) for language in CASES["records"]}


def test_run_pys_default_levels_and_dates_choose_the_records(tasks):
    assert [p.task_id for p in tasks["python"].problems()] == ["cross_file_first/0", "cross_file_random/0",
                                                              "in_file/0"]
    assert [p.task_id for p in tasks["java"].problems()] == ["cross_file_first/0", "in_file/0"]


def publishers_layout(prompt: str, language: str) -> str:
    """Our prompt with construct_prompt's comment lines in place of StarCoder2's tokens: the one difference."""
    comment = "#" if language == "python" else "//"
    repository, *files = prompt.removeprefix(REPO_NAME).split(FILE_SEP)
    snippets = "".join(f"{comment} Path: {file}\n\n" for file in files[:-1])
    return re.sub(r"\n{4,}", "\n\n", f"{comment} Repo Name: {repository}\n{snippets}{comment} Path: {files[-1]}")


def test_the_prompt_is_construct_prompts_in_starcoder2s_repository_format(tasks):
    for language, task in tasks.items():
        for problem in task.problems():
            setting, index = problem.task_id.split("/")
            assert problem.prompt.startswith(f"{REPO_NAME}{problem.data['repo_name']}{FILE_SEP}")
            assert publishers_layout(problem.prompt, language) == STORED["prompts"][language][setting][int(index)]


def test_every_sample_scores_as_the_publishers_code_scores_it(tasks):
    by_language: dict[str, tuple[list, list]] = {}
    for sample, theirs in zip(CASES["samples"], STORED["samples"]):
        task = tasks[sample["language"]]
        problem = next(p for p in task.problems() if p.task_id == f"{sample['setting']}/{sample['record']}")
        completion = task.postprocess(problem, sample["generation"])
        ours = task.string_metrics(problem, completion)
        assert (completion, ours["exact_match"]) == (theirs["pred"], theirs["em"] == 1)
        assert ours["edit_similarity"] * 100 == pytest.approx(theirs["es"], abs=1e-9)
        problems, samples = by_language.setdefault(sample["language"], ([], []))
        problems.append(problem)
        samples.append([(completion, None)])
    for language, (problems, samples) in by_language.items():  # eval.py's average over all settings
        metrics, records = score(tasks[language], problems, samples, sandbox=None)
        theirs = [s for case, s in zip(CASES["samples"], STORED["samples"]) if case["language"] == language]
        assert metrics["edit_similarity"] == pytest.approx(sum(s["es"] for s in theirs) / len(theirs) / 100, abs=1e-9)
        assert metrics["exact_match"] == pytest.approx(sum(s["em"] for s in theirs) / len(theirs), abs=1e-12)
        assert {"exact_match", "edit_similarity"} <= set(records[0]) and "passed" not in records[0]
    assert {s["em"] for s in STORED["samples"]} == {0, 1} and len({s["es"] for s in STORED["samples"]}) > 5


def test_a_generation_ends_at_a_special_token(tasks):
    problem = tasks["python"].problems()[0]
    assert tasks["python"].postprocess(problem, f"\n    x = 1{FILE_SEP}y = 2\n") == "    x = 1"


def test_a_missing_or_wrong_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"^--data-dir .*: no repobench_java_v1.1/data/cross_file_first-00000-of"):
        make_task("repobench-java", tmp_path)
    broken = {"python": {s: [{k: v for k, v in r.items() if k != "next_line"} for r in rs]
                         for s, rs in CASES["records"]["python"].items()}}
    manifest = write_release(tmp_path, broken)
    with pytest.raises(ValueError, match=r"cross_file_first-00000-of-00002-baebda7f3a6e980a.parquet: record 1 has "
                                         r"no next_line: each record needs repo_name, .*, level$"):
        RepoBench(tmp_path, "python", manifest)


@pytest.mark.skipif(missing(REPOBENCH, "fuzzywuzzy") is not None, reason=str(missing(REPOBENCH, "fuzzywuzzy")))
def test_the_publishers_code_gives_the_stored_outputs():
    assert repobench_outputs(CASES) == STORED
