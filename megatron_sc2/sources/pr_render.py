"""Pull request text (StarCoder2 paper §5.2), as The Stack v2's renderer writes it (bigcode-project/the-stack-v2
`pull_requests_and_issues/render.py`):

    <pr>Title: TITLE\\nusername_0: DESCRIPTION<pr_status>opened<repo_name>REPO
    <pr_base><pr_file>PATH<pr_base_code>CODE...<pr_diff><pr_file>PATH<pr_diff_hunk>@@ ... @@\\n-old\\n+new...
    <pr_comment>username_1: COMMENT<pr_event_id>ID<pr_status>created
    <pr_review>username_1: TEXT<pr_event_id>ID<pr_review_state>approved
    <pr_review_comment><pr_event_id>ID<pr_in_reply_to_review_id>ID<pr_file>PATH<pr_diff_hunk_comment_line>LINE
        <pr_diff_hunk>HUNK<pr_comment>username_1: TEXT
    <pr>username_0<pr_status>closed<pr_is_merged>True

(without the line breaks). The diff of a new head commit precedes the first event on it. A title or description
the rules reject drops the pull request; a later event they reject is left out.
"""

import sys
from pathlib import Path

from megatron_sc2.sources import pr_diff
from megatron_sc2.sources.blocks import Drop
from megatron_sc2.sources.github_text import strip_email_reply, truncate_lines
from megatron_sc2.sources.prs import COMMIT_EVENT, ID_KEY, PROptions

REVIEW_EVENTS = ("PullRequestReviewEvent", "PullRequestReviewCommentEvent")
TITLE_KEYWORDS = ("depend", "release")  # dependency bumps and release PRs


class _Omit(Exception):
    """This event's text is rejected; the pull request goes only when it is the opening."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _title(text: str | None, o: PROptions) -> str:
    text = truncate_lines(text or "", o.max_text_lines, "[TRUNCATED]")
    if len(text) < o.min_title:
        raise _Omit("short_title")
    if any(keyword in text.lower() for keyword in TITLE_KEYWORDS):
        raise _Omit("dependency_title")
    return f"Title: {text[:o.max_title]}\n"


def _without_markdown_comments(text: str) -> str:
    return "".join(part.rsplit("-->", 1)[-1] for part in text.split("<!--"))


def _text(user: str, text: str | None, o: PROptions, short_ok: bool = False) -> str:
    """`user: text`, the text cleaned and cut; Codecov reports become a placeholder."""
    text = strip_email_reply(user if text is None else text)
    if "Qwiet" in text:
        raise _Omit("qwiet")
    if "codecov" in text.lower():
        return f"{user}: [OMITTED]CodeCov"
    text = truncate_lines(_without_markdown_comments(text), o.max_text_lines, "[TRUNCATED]")
    if len(text) < o.min_text and not short_ok:
        raise _Omit("short_description")
    text = text[:o.max_text]
    return f"{user}: {text}" if text else user


def _pr_event(event: dict, opened_shown: bool, o: PROptions) -> str:
    action = event.get("action")
    try:
        if action in ("edited", "opened", "reopened"):
            out = "<pr>" + _title(event.get("title"), o) + _text(event["actor.login"], event.get("text"), o)
        else:
            out = "<pr>" + event["actor.login"]
    except _Omit:
        if action == "opened":
            raise
        return ""
    if action is not None:
        out += f"<pr_status>{action.lower()}"
    if not opened_shown:
        out += f"<repo_name>{event.get('base_repo_name')}"
    if action == "closed":
        out += f"<pr_is_merged>{event.get('pull_request.merged')}"
    return out


def _comment(event: dict, o: PROptions) -> str:
    try:
        out = "<pr_comment>" + _text(event["actor.login"], event.get("text"), o)
        if event.get("comment_id") is not None:
            out += f"<pr_event_id>{int(event['comment_id'])}"
    except (_Omit, ValueError, TypeError):
        return ""
    if event.get("action") is not None:
        out += f"<pr_status>{event['action'].lower()}"
    return out


def _review_hunk(hunk: str, skipped_lines: int, o: PROptions) -> str:
    lines = hunk.split("\n")
    if "@@" in lines[0]:
        lines[0] = pr_diff.shift_hunk_header(lines[0], skipped_lines)
    hunk = lines[0] + "\n" + "\n".join(lines[1:])
    return "<pr_diff_hunk>" + ("[OMITTED]" if len(hunk) > o.max_review_hunk else hunk)


def _review(event: dict, base: dict, o: PROptions) -> str:
    user = event["actor.login"]
    try:
        if event["type"] == "PullRequestReviewEvent":
            text = _text(user, event["text"], o, short_ok=True) if event.get("text") else user
            return (f"<pr_review>{text}<pr_event_id>{int(event['review_comment.id'])}"
                    f"<pr_review_state>{event.get('review.state')}")
        out = f"<pr_review_comment><pr_event_id>{int(event['review_comment.id'])}"
        if event.get("comment.pull_request_review_id") is not None:
            out += f"<pr_in_reply_to_review_id>{int(event['comment.pull_request_review_id'])}"
        if event.get("comment.in_reply_to_id") is not None:
            out += f"<pr_in_reply_to_comment_id>{int(event['comment.in_reply_to_id'])}"
        path = event.get("comment.path")
        out += f"<pr_file>{path}<pr_diff_hunk_comment_line>{int(event['comment.original_position'])}"
        skipped = base[path]["start"] if path in base else 0
        out += _review_hunk(event.get("comment.diff_hunk") or "", skipped, o)
        return out + "<pr_comment>" + _text(user, event.get("text"), o)
    except (_Omit, ValueError, TypeError, KeyError):  # rejected text, a hunk starting before the shown base,
        return ""  # or an event without its id or line


def _files(diffs: list[dict]):
    for diff in diffs:
        for file in diff.get("head_base_files") or ():
            if file.get("base_content") is not None and file.get("head_content") is not None:
                yield file


def _dropped_data_file(path: str, file: dict, total: int, o: PROptions, rng) -> bool:
    rule = o.subsampled_languages.get(file["language"])
    if rule is None:
        return False
    if any(key in path for key in rule["subsample_keys"]) or len(file["content"]) / max(total, 1) > \
            rule["all_base_file_ratio"]:
        return rng.random() > rule["retain_prob"]
    return False


def _base(diffs: list[dict], length: int, o: PROptions, rng) -> tuple[str, dict]:
    """`<pr_base>` and each changed file's base code, and per path the first base line shown (`start`)."""
    files: dict[str, dict] = {}
    for file in _files(diffs):
        start, end = pr_diff.changed_lines(file["base_content"], file["head_content"])
        info = files.setdefault(file["base_path"], {
            "start": sys.maxsize, "end": 0, "size": 0, "content": file["base_content"],
            "language": file.get("base_language") or Path(file["base_path"]).name,
        })
        if start < info["start"] or end > info["end"]:
            info["start"], info["end"] = min(start, info["start"]), max(end, info["end"])
            info["size"] = sum(map(len, file["base_content"].splitlines()[info["start"]:info["end"]]))
            if sum(f["size"] for f in files.values()) + length > o.max_length:
                raise Drop("too_long")
    for info in files.values():
        if rng.random() < o.full_base_prob:
            info["start"] = 0
        else:
            lines = info["content"].splitlines()
            before, after = rng.randrange(*o.base_extra_lines), rng.randrange(*o.base_extra_lines)
            info["start"], end = max(0, info["start"] - before), min(len(lines), info["end"] + after)
            info["content"] = "\n".join(lines[info["start"]:end])
    total = sum(len(f["content"]) for f in files.values())
    files = {path: f for path, f in files.items() if not _dropped_data_file(path, f, total, o, rng)}
    if not files or sum(len(f["content"]) for f in files.values()) + length > o.max_length:
        raise Drop("too_long")
    return "<pr_base>" + "".join(f"<pr_file>{p}<pr_base_code>{f['content']}" for p, f in files.items()), files


def _diff(diff: dict, base: dict, length: int, o: PROptions, rng) -> str:
    out = "<pr_diff>"
    if int(diff.get("num_diff_files") or 0) == 0:
        return out + pr_diff.DIFFS_OMITTED
    for file in _files([diff]):
        if file["base_path"] in base:  # a data file left out of the base is left out of the diffs
            out += pr_diff.diff_hunks(file["base_path"], file["base_content"], file["head_content"],
                                      base[file["base_path"]]["start"], rng.randrange(*o.diff_context))
        if length + len(out) > o.max_length:
            raise Drop("too_long")
    return out


def render(record: dict, rng, options: PROptions) -> tuple[str, dict]:
    o = options
    events = [e for e in record["events"] if e.get("type") != COMMIT_EVENT]
    diffs = [e for e in record["events"] if e.get("type") == COMMIT_EVENT]
    by_head = {diff.get("head_commit_id"): diff for diff in diffs}
    out, base, head, opened = "", {}, "", False

    def diff_of_new_head(event: dict) -> str:
        nonlocal head
        if event.get("head_commit_id") is None or event["head_commit_id"] == head:
            return ""
        head = event["head_commit_id"]
        return _diff(by_head[head], base, len(out), o, rng) if head in by_head else ""

    try:
        for event in events:
            event["actor.login"] = event.get("actor.login") or ""
            kind = event.get("type")
            if kind == "PullRequestEvent":
                if event.get("action") != "opened" and opened:
                    out += diff_of_new_head(event)
                out += _pr_event(event, opened, o)
                if not opened and event.get("action") in ("opened", "reopened"):
                    opened = True
                    shown, base = _base(diffs, len(out), o, rng)
                    out += shown
                    out += diff_of_new_head(event)
            elif kind in REVIEW_EVENTS and opened:
                out += diff_of_new_head(event)
                out += _review(event, base, o)
            elif kind == "IssueCommentEvent":
                out += _comment(event, o)
            if len(out) > o.max_length:
                raise Drop("too_long")
    except _Omit as omit:
        raise Drop(omit.reason) from None
    if len(out) < o.min_length:
        raise Drop("too_short")
    return out, {"id": record.get(ID_KEY), "repository": record.get("repo_name")}
