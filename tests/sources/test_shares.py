"""With the paper's probabilities, the share of 10,000 records that draw each choice is within 2 points of its
target: whole base files (0.2), per-repository subsampling (0.8 at one pull request ... 0.1 at 1,000, 100 per
repository above), answer order (uniform)."""

import copy

import planted
import pytest

from megatron_sc2.sources import pr_render, prs, stackexchange
from megatron_sc2.sources.blocks import Drop, record_rng

RECORDS = 10_000
TOLERANCE = 0.02


def small_pull_request() -> dict:
    """One 80-line file changed in its middle: a changed range shows at most 31 + 1 + 31 of its lines."""
    record = planted.pull_request(1, files=1)
    base = "\n".join(f"line {k}" for k in range(80))
    head = base.replace("line 40", "line forty")
    for event in record["events"]:
        for file in event.get("head_base_files") or ():
            file["base_content"], file["head_content"] = base, head
    return record


def test_base_files_are_whole_for_a_fifth_of_pull_requests():
    record, options, whole = small_pull_request(), prs.PROptions(), 0
    for number in range(RECORDS):
        text, _ = pr_render.render(copy.deepcopy(record), record_rng(0, "render", f"pr/{number}"), options)
        shown = text.split("<pr_base_code>")[1].split("<pr_diff>")[0]
        whole += shown.startswith("line 0\n") and shown.endswith("line 79")
    assert abs(whole / RECORDS - options.full_base_prob) < TOLERANCE


@pytest.mark.parametrize("per_repository, target", [(1, 0.8), (500, 0.4507), (1000, 0.1007), (5000, 0.02)])
def test_subsampling_keeps_the_papers_share_per_repository(per_repository, target):
    options, kept = prs.PROptions(), 0
    for number in range(RECORDS):
        try:
            prs.subsample({"pr_count_per_repo": per_repository}, record_rng(7, "subsample", f"r/{number}"), options)
            kept += 1
        except Drop:
            pass
    assert abs(kept / RECORDS - target) < TOLERANCE


def test_each_answer_comes_first_for_a_third_of_questions():
    first = {f"username_{k}": 0 for k in (1, 2, 3)}
    options = stackexchange.StackExchangeOptions()
    for number in range(RECORDS):
        record = planted.question(number)
        stackexchange.pseudonymize(record)
        text, _ = stackexchange.render(record, record_rng(0, "render", str(number)), options)
        first[text.split("<issue_comment>")[1].split(":")[0]] += 1
    assert all(abs(count / RECORDS - 1 / 3) < TOLERANCE for count in first.values()), first
