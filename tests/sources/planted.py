"""Planted raw records of each conversation source, in the raw formats docs/sources.md describes.

Deterministic (no randomness): the reference fixture (`reference_renders.json`) is rendered from these.
"""

from __future__ import annotations


def _code(lines: int, name: str) -> str:
    return "\n".join(f"def {name}_{i}(x):\n    return x * {i} + {i % 7}" for i in range(lines // 2)) + "\n"


def _edit(text: str, replacements: dict[int, str], insert_at: int | None = None) -> str:
    lines = text.split("\n")
    for number, line in replacements.items():
        lines[number] = line
    if insert_at is not None:
        lines[insert_at:insert_at] = ["# added by the pull request", "CONSTANT = 42"]
    return "\n".join(lines)


def _event(kind: str, action: str | None, actor: str, at: str, **fields) -> dict:
    event = {
        "type": kind, "action": action, "actor.login": actor, "actor.is_bot": False, "created_at": at,
        "title": None, "text": None, "head_commit_id": None, "base_commit_id": None, "base_repo_name": None,
        "head_repo_name": None, "pull_request.merged": False, "comment_id": None, "review_comment.id": None,
        "review.state": None, "comment.pull_request_review_id": None, "comment.in_reply_to_id": None,
        "comment.path": None, "comment.original_position": None, "comment.diff_hunk": None,
        "num_diff_files": None, "head_base_files": None,
    }
    event.update(fields)
    return event


def pull_request(number: int, repo: str = "octo/widgets", merged: bool = True, title: str | None = None,
                 pr_count: int = 1, files: int = 2) -> dict:
    """An approved pull request: opened, a comment, a review with a review comment, a second commit, and closed
    (merged or not). Its author is mentioned by the reviewer."""
    base_files = {f"src/module_{k}.py": _code(120 + 10 * k, f"f{k}") for k in range(files)}
    first = {path: _edit(code, {20 + number % 5: "    return None  # changed", 90: "    return x"})
             for path, code in base_files.items()}
    second = {path: _edit(code, {}, insert_at=50) for path, code in first.items()}
    h1, h2, base = f"h1-{number}", f"h2-{number}", f"b-{number}"
    author, reviewer, commenter = f"alice{number}", "bob-reviews", "carol"
    common = {"base_repo_name": repo, "head_repo_name": f"{author}/widgets", "base_commit_id": base}

    def commit(head: str, heads: dict, at: str) -> dict:
        return _event("PullRequestCommitEvent", None, None, at, head_commit_id=head, base_commit_id=base,
                      num_diff_files=len(heads), head_base_files=[
                          {"base_path": path, "base_content": base_files[path], "head_content": content,
                           "base_language": "Python"} for path, content in heads.items()])

    hunk = "@@ -40,6 +40,6 @@ def f0_19(x):\n" + "\n".join(f" line {i}" for i in range(5)) + "\n-old\n+new"
    events = [
        _event("PullRequestEvent", "opened", author, "2023-01-01T00:00:00Z", head_commit_id=h1,
               title=title or f"Make the widget faster, part {number}",
               text=f"This change makes widgets faster by caching (number {number}).\n<!-- template -->Thanks!",
               **common),
        commit(h1, first, "2023-01-01T00:00:01Z"),
        _event("IssueCommentEvent", "created", commenter, "2023-01-02T00:00:00Z", comment_id=1000 + number,
               text=f"@{author} this looks good to me, but could you add a test?"),
        _event("PullRequestReviewCommentEvent", "created", reviewer, "2023-01-03T00:00:00Z", head_commit_id=h1,
               **{"review_comment.id": 2000 + number, "comment.pull_request_review_id": 3000 + number,
                  "comment.path": "src/module_0.py", "comment.original_position": 6, "comment.diff_hunk": hunk},
               text=f"Why return None here, {author}? It breaks callers.", **common),
        _event("PullRequestReviewEvent", "created", reviewer, "2023-01-03T00:00:01Z", head_commit_id=h1,
               **{"review_comment.id": 3000 + number, "review.state": "changes_requested"},
               text="Please see my comment.", **common),
        commit(h2, second, "2023-01-04T00:00:00Z"),
        _event("PullRequestReviewEvent", "created", reviewer, "2023-01-05T00:00:00Z", head_commit_id=h2,
               **{"review_comment.id": 4000 + number, "review.state": "approved"}, text="", **common),
        _event("PullRequestEvent", "closed", author, "2023-01-06T00:00:00Z", head_commit_id=h2,
               **{"pull_request.merged": merged}, **common),
    ]
    return {"pull_request.guid": f"{repo}/pull/{number}", "repo_name": repo, "license_type": "permissive",
            "pr_count_per_repo": pr_count, "events": events}


def issue(number: int, users: tuple[str, ...] = ("dana", "erik"), closed: bool = True,
          comment: str = "I can reproduce this on version 2.1 with the attached script; the stack trace follows.",
          comments: int = 2) -> dict:
    """An issue opened by the first user, commented on in turn by the users, maybe closed."""
    events = [{"type": "issue", "action": "opened", "author": users[0], "datetime": "2023-02-01T00:00:00Z",
               "title": f"Crash when loading file {number}", "description":
               f"Loading a file with {number} rows crashes the reader.\nSteps: open, load, wait.", "comment": None}]
    for k in range(comments):
        events.append({"type": "comment", "action": "created", "author": users[(k + 1) % len(users)],
                       "datetime": f"2023-02-0{k + 2}T00:00:00Z", "comment": f"@{users[0]} {comment}",
                       "description": None})
    if closed:
        events.append({"type": "issue", "action": "closed", "author": users[0],
                       "datetime": "2023-02-09T00:00:00Z", "comment": None, "description": None})
    return {"issue_id": number, "repo": "octo/reader", "events": events}


def question(number: int, answers: int = 3) -> dict:
    return {
        "id": number,
        "question": {"author": "frank", "title": f"How do I sort a list {number}?",
                     "body": "I have a list of tuples and want it sorted by the second item."},
        "answers": [{"author": f"gina{k}", "body": f"Use sorted(items, key=lambda t: t[1]) -- frank, try {k}.",
                     "score": 10 - k, "accepted": k == 1} for k in range(answers)],
    }


def pr_cases() -> list[dict]:
    """Pull requests that exercise each rendering rule and each drop."""
    unapproved = pull_request(7, merged=False)
    unapproved["events"] = [e for e in unapproved["events"] if e.get("review.state") != "approved"]
    codecov = pull_request(8)
    codecov["events"].insert(3, _event("IssueCommentEvent", "created", "codecov-io", "2023-01-02T00:00:01Z",
                                       comment_id=5000, text="## Codecov Report\nMerging will increase coverage"))
    short_comment = pull_request(9)
    short_comment["events"][2]["text"] = "LGTM"
    return [
        pull_request(1), pull_request(2, merged=False), pull_request(3, files=3),
        pull_request(4, title="Fix"), pull_request(5, title="Bump dependency versions for the release"),
        pull_request(6, repo="octo/gadgets"), unapproved, codecov, short_comment,
    ]


def issue_cases() -> list[dict]:
    """Issues that exercise each filter rule."""
    bots = issue(12, users=("dana", "erik", "travis-ci"), comments=4)
    only_bots = issue(13, users=("dependabot[bot]",))
    email = issue(14, comment="Thanks, that fixed it.\n\nOn Mon, Feb 6, 2023 dana <notifications@github.com> "
                  "wrote:\n> the old text\nReply to this email directly, view it on GitHub")
    long_comment = issue(15, comment="\n".join(f"trace line {k}" for k in range(150)))
    return [
        issue(10), issue(11, users=("dana",), comments=1), bots, only_bots, email, long_comment,
        issue(16, users=("dana",), comments=11), issue(17, comment="ok", comments=1, users=("dana",)),
        issue(18, users=("dana",), comment="x" * 8000, comments=1),
    ]
