"""GitHub pull requests (StarCoder2 paper §5.2, §2.3): the filters before rendering, and pseudonyms.

Raw record (The Stack v2's grouped pull requests, bigcode-project/the-stack-v2 `pull_requests_and_issues/`):
`pull_request.guid`, `repo_name`, `license_type`, `pr_count_per_repo` (pull requests of the repository that
passed the filters before subsampling) and `events`, sorted by `created_at`: `PullRequestEvent`,
`PullRequestReviewEvent`, `PullRequestReviewCommentEvent`, `IssueCommentEvent` with GH Archive's fields (`action`,
`actor.login`, `actor.is_bot`, `title`, `text`, `head_commit_id`, `base_commit_id`, `review.state`, `comment.*`,
...), and `PullRequestCommitEvent`s with the files of a head commit (`head_base_files`: `base_path`,
`base_content`, `head_content`, `base_language`). The renderer is `pr_render.py`.
"""

import functools
from dataclasses import dataclass, field

from megatron_sc2.sources.blocks import Drop
from megatron_sc2.sources.github_text import is_bot
from megatron_sc2.sources.pseudonyms import pseudonyms, replace_names

ID_KEY = "pull_request.guid"
COMMIT_EVENT = "PullRequestCommitEvent"
PERMISSIVE = frozenset({"permissive", "no_license"})
# Data files shown only now and then (10%): when the path names a lock/package/output file, or the file is more
# than half of all base code shown.
SUBSAMPLED_LANGUAGES = {
    "YAML": {"all_base_file_ratio": 0.5, "retain_prob": 0.1,
             "subsample_keys": ("pack", "lock", "yarn", "output", "swagger", "openapi")},
    "JSON": {"all_base_file_ratio": 0.5, "retain_prob": 0.1, "subsample_keys": ("pack", "lock", "output")},
}


@dataclass(frozen=True)
class PROptions:
    opt_out: frozenset = frozenset()  # lower-case `owner/name` repositories and user names
    subsample_per_repo: bool = True  # keep 0.8 at 1 PR per repository down to 0.1 at 1,000, then 100 / count
    full_base_prob: float = 0.2  # base files whole; else the changed ranges with random extra lines:
    base_extra_lines: tuple[int, int] = (0, 32)  # [low, high) lines added before and after
    diff_context: tuple[int, int] = (3, 10)  # [low, high) context lines of diff hunks
    subsampled_languages: dict = field(default_factory=lambda: SUBSAMPLED_LANGUAGES)
    min_title: int = 10
    max_title: int = 500
    max_text_lines: int = 80
    min_text: int = 20
    max_text: int = 1000
    max_review_hunk: int = 10_000
    min_length: int = 200
    max_length: int = 100_000  # the paper's; the reference code's default is 1,000,000


def _actor_is_bot(event: dict) -> bool:
    return bool(event.get("actor.is_bot")) or is_bot(event.get("actor.login") or "")


def _owner(repository: str | None) -> str:
    return (repository or "").split("/")[0].lower()


def opted_out(record: dict, rng, options: PROptions) -> None:
    """Drops a pull request of an opted-out repository or owner, or opened by or from an opted-out user; removes
    other opted-out users' events."""
    names = options.opt_out
    if not names:
        return
    if (record.get("repo_name") or "").lower() in names or _owner(record.get("repo_name")) in names:
        raise Drop("opted_out")
    kept = []
    for event in record["events"]:
        actor = (event.get("actor.login") or "").lower()
        if event.get("type") == "PullRequestEvent" and event.get("action") == "opened" and (
            actor in names or _owner(event.get("head_repo_name")) in names
            or _owner(event.get("base_repo_name")) in names
        ):
            raise Drop("opted_out")
        if actor not in names:
            kept.append(event)
    record["events"] = kept


def permissive(record: dict, rng) -> None:
    if record.get("license_type") not in PERMISSIVE:
        raise Drop("non_permissive")


def not_bot_opened(record: dict, rng) -> None:
    if any(e.get("type") == "PullRequestEvent" and e.get("action") == "opened" and _actor_is_bot(e)
           for e in record["events"]):
        raise Drop("bot")


def approved_or_merged(record: dict, rng) -> None:
    events = record["events"]
    approved = any(e.get("type") == "PullRequestReviewEvent" and e.get("review.state") == "approved"
                   for e in events)
    if not approved and not _merged(events):
        raise Drop("unapproved")


def _merged(events: list[dict]) -> bool:
    return any(e.get("pull_request.merged") for e in events)


def single_base(record: dict, rng) -> None:
    """Drops a pull request whose base commit changed (a merge may add one base at the end)."""
    events = record["events"]
    bases = len({e["base_commit_id"] for e in events if e.get("base_commit_id") is not None}) - 1
    if bases - _merged(events) > 0:
        raise Drop("base_changed")


def has_diff(record: dict, rng) -> None:
    """Keeps a pull request with the files of its first head commit."""
    diffs = {(e.get("head_commit_id"), e.get("base_commit_id")) for e in record["events"]
             if e.get("type") == COMMIT_EVENT}
    if not diffs:
        raise Drop("no_diff")
    commits = sorted(
        (e.get("created_at") or "", (e["head_commit_id"], e["base_commit_id"])) for e in record["events"]
        if e.get("type") != COMMIT_EVENT and e.get("head_commit_id") is not None
        and e.get("base_commit_id") is not None
    )
    if not commits or commits[0][1] not in diffs:
        raise Drop("no_initial_diff")


def retention(prs_in_repository: int) -> float:
    """The share of a repository's pull requests kept: 0.8 at one, linearly down to 0.1 at 1,000, then 100 per
    repository."""
    if prs_in_repository <= 1000:
        return -0.0007 * prs_in_repository + 0.8007
    return 100 / prs_in_repository


def subsample(record: dict, rng, options: PROptions) -> None:
    if not options.subsample_per_repo:
        return
    count = record.get("pr_count_per_repo")
    if not isinstance(count, int) or count < 1:
        raise Drop("no_pr_count_per_repo")
    if rng.random() >= retention(count):
        raise Drop("subsampled")


def pseudonymize(record: dict) -> None:
    """Names in the conversation's events (commit events carry code, left as it is)."""
    events = [e for e in record["events"] if e.get("type") != COMMIT_EVENT]
    mapping = pseudonyms(e.get("actor.login") for e in events)
    for event in events:
        if event.get("actor.login"):
            event["actor.login"] = mapping[event["actor.login"]]
        for key in ("text", "title"):
            event[key] = replace_names(event.get(key), mapping)


def filters(options: PROptions) -> list:
    return [
        functools.partial(opted_out, options=options), permissive, not_bot_opened, approved_or_merged,
        single_base, has_diff, functools.partial(subsample, options=options),
    ]
