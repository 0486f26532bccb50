"""The code a pull request shows: its base files (whole or around the changes) and its diff hunks, computed with
difflib as The Stack v2's renderer does (bigcode-project/the-stack-v2 `pull_requests_and_issues/render.py`)."""

import sys
from difflib import SequenceMatcher

DIFFS_OMITTED = "[DIFFS OMITTED]"


def changed_lines(base: str, head: str) -> tuple[int, int]:
    """The base lines [start, end) that the change touches; (sys.maxsize, 0) when nothing changed."""
    start, end = sys.maxsize, 0
    for group in SequenceMatcher(None, base.splitlines(), head.splitlines()).get_grouped_opcodes():
        changes = [op for op in group if op[0] != "equal"]
        start, end = min(changes[0][1], start), max(changes[-1][2], end)
    return start, end


def diff_hunks(path: str, base: str, head: str, first_line: int, context: int) -> str:
    """`<pr_file>path` and the file's hunks (`<pr_diff_hunk>@@ -a,b +c,d @@` then ` `/`-`/`+` lines) from
    `first_line` of the base on, with `context` unchanged lines around changes; changes closer than `context`
    lines share a hunk. Line numbers count from the shown base excerpt."""
    base_lines, head_lines = base.splitlines()[first_line:], head.splitlines()[first_line:]
    blocks, block = [], []
    for group in SequenceMatcher(None, base_lines, head_lines).get_grouped_opcodes():
        for op in group:
            if op[0] == "equal":
                continue
            if not block or op[1] - context <= block[-1][2]:
                block.append(op)
            else:
                blocks.append(block)
                block = [op]
    if block:
        blocks.append(block)

    out, previous_end = [f"<pr_file>{path}"], 0
    for number, ops in enumerate(blocks):
        before = context + min(ops[0][1] - context - previous_end, 0)
        next_start = blocks[number + 1][0][1] if number + 1 < len(blocks) else len(base_lines) - 1
        after = min(context, next_start - ops[-1][2])
        base_from, base_to = ops[0][1] - before, ops[-1][2] + after
        head_from, head_to = ops[0][3] - before, ops[-1][4] + after
        out.append(f"<pr_diff_hunk>@@ -{base_from + 1},{base_to - base_from} +{head_from + 1},{head_to - head_from} @@\n")
        previous_end = ops[-1][2]
        out += [f" {base_lines[i]}\n" for i in range(base_from, ops[0][1])]
        for position, (_, b1, b2, h1, h2) in enumerate(ops):
            out += [f"-{base_lines[i]}\n" for i in range(b1, b2)]
            out += [f"+{head_lines[i]}\n" for i in range(h1, h2)]
            if position + 1 < len(ops):
                out += [f" {base_lines[i]}\n" for i in range(b2, ops[position + 1][1])]
        out.append("\n".join(f" {base_lines[i]}" for i in range(ops[-1][2], base_to)))
    return "".join(out)


def shift_hunk_header(header: str, lines: int) -> str:
    """A review comment's `@@ -a,b +c,d @@ ...` header renumbered for a base excerpt starting `lines` later."""
    _, ranges, rest = header.split("@@")[:3]
    old, new = (part.strip().split(",") for part in ranges.strip(" -").split("+"))
    old_start, new_start = int(old[0]) - lines, int(new[0]) - lines
    if old_start < 0 or new_start < 0:
        raise ValueError(f"hunk {header!r} starts before the shown base")
    old_count = f",{old[1]}" if len(old) > 1 else ""
    new_count = f",{new[1]}" if len(new) > 1 else ""
    return f"@@ -{old_start}{old_count} +{new_start}{new_count} @@{rest}"
