"""GitHub issues (StarCoder2 paper §5.3; filters of StarCoder's issue pipeline, bigcode-dataset
`preprocessing/filtering_issues.py`).

Raw record (bigcode/the-stack-github-issues): `issue_id`, `repo`, `events`: each with `type` (`issue` or
`comment`), `action` (`opened`, `created`, `closed`, `reopened`, ...), `author`, and `title`, `description` or
`comment`. Rendered:

    <issue_start>Title: TITLE\\nusername_0: DESCRIPTION<issue_comment>username_1: COMMENT<issue_closed>...
"""

import functools
from dataclasses import dataclass

from megatron_sc2.sources.blocks import Drop
from megatron_sc2.sources.github_text import is_bot, strip_email_reply, truncate_lines
from megatron_sc2.sources.pseudonyms import pseudonyms, replace_names

ID_KEY = "issue_id"


@dataclass(frozen=True)
class IssueOptions:
    min_chars: int = 200  # all events' text together
    max_single_user_chars: int = 7_000
    max_single_user_events: int = 10
    max_comment_lines: int = 100  # the paper's; the reference code (filtering_issues.py) uses 80
    keep_last_lines: int = 20


def clean_comments(record: dict, rng, options: IssueOptions) -> None:
    """Each event's one `text`: its comment or description without email-reply boilerplate, long ones cut in
    the middle."""
    for event in record["events"]:
        text = strip_email_reply(event.get("comment") or event.get("description") or "")
        event["text"] = truncate_lines(text, options.max_comment_lines, "[Truncated]", options.keep_last_lines)


def remove_bot_comments(record: dict, rng) -> None:
    """Drops the events of bot accounts, and a human comment just before a bot's that called it (named it, or
    was a `/command`); an issue left with no events goes (`bot_issue`)."""
    events, kept, last_removed = record["events"], [], 0
    for number, event in enumerate(events):
        author = event.get("author") or ""
        if not is_bot(author):
            kept.append(event)
            continue
        if number > 0 and 0 < last_removed < number - 1:
            previous = events[number - 1]["text"]
            if author in previous or previous.startswith("/"):
                kept.pop()
        last_removed = number
    if not kept:
        raise Drop("bot_issue")
    record["events"] = kept


def size_and_users(record: dict, rng, options: IssueOptions) -> None:
    """Keeps conversations of at least `min_chars`, and of one user only when short and with few events."""
    events = record["events"]
    size = sum(len(event["text"]) for event in events)
    if size < options.min_chars:
        raise Drop("too_short")
    if len({event.get("author") for event in events}) >= 2:
        return
    if size > options.max_single_user_chars:
        raise Drop("single_user_too_long")
    if len(events) > options.max_single_user_events:
        raise Drop("single_user_too_many_events")


def pseudonymize(record: dict) -> None:
    mapping = pseudonyms(event.get("author") for event in record["events"])
    for event in record["events"]:
        event["author"] = mapping.get(event.get("author"), event.get("author") or "")
        for key in ("text", "title"):
            event[key] = replace_names(event.get(key), mapping)


def render(record: dict, rng, options: IssueOptions) -> tuple[str, dict]:
    events = record["events"]
    title = next((event["title"] for event in events if event.get("title")), "")
    parts, opened = [f"<issue_start>Title: {title}\n"], False
    for event in events:
        if event.get("type") == "issue" and event.get("action") == "closed":
            parts.append("<issue_closed>")
        elif event.get("type") == "comment" or event.get("action") == "opened":
            parts.append(f"{'<issue_comment>' if opened else ''}{event['author']}: {event['text']}")
            opened = True
    return "".join(parts), {"id": record.get(ID_KEY), "repository": record.get("repo")}


def filters(options: IssueOptions) -> list:
    return [
        functools.partial(clean_comments, options=options), remove_bot_comments,
        functools.partial(size_and_users, options=options),
    ]
