"""Text rules shared by the GitHub sources (issues, pull requests), as StarCoder's issue pipeline has them
(bigcode-dataset `preprocessing/utils/utils_issues.py`): email-reply boilerplate, bot accounts, long comments."""

import re

# An email reply as a whole: the part before the quoted mail, and what follows "view it on GitHub".
_EMAIL_REPLIES = tuple(
    re.compile(pattern, re.DOTALL)
    for pattern in (
        r"(.*)From:.+Reply to this email directly.+view it on GitHub(.*)\n?(.*)",
        r"(.*)On.+notifications@github.com.+wrote:.+Reply to this email directly.+view it on GitHub(.*)\n?(.*)",
        r"(.*)Signed-off-by: .+<.+>(.*?)\n?(.*)",
    )
)
_EMAIL_DATE = re.compile(r"\d+/\d+/\d+ \d{2}:\d{2} [AP]M.+wrote")
_PAGE_BREAK = re.compile(r"_{20,}")

BOT_NAMES = frozenset({
    "Apache-HBase", "AutorestCI", "CLAassistant", "cmsbuild", "codecov-io", "codecov-commenter", "coveralls",
    "danger-public", "dnfclas", "msftclas", "PyDocTeur", "SparkQA", "karma-pr-reporter", "claassistantio",
    "probot-stale",
})  # fmt: skip
BOT_NAME_PARTS = ("[bot]", "botmanager", "bors-", "jenkins", "k8s-", "-test-", "travis")
BOT_NAME_ENDINGS = (
    "-automaton", "-automation", "-benchmark", "-build", "-deployer", "-cloud", "bot", "-ci", "-linter",
    "-teamcity", "-test", "-testing", "-service-account",
)  # fmt: skip


def strip_email_reply(text: str | None) -> str:
    """The comment without what GitHub's email replies add: the quoted mail, the "Reply to this email directly"
    footer, a Signed-off-by trailer, page-break lines."""
    if not text:
        return ""
    text = text.strip()
    match = next((m for m in (p.match(text) for p in _EMAIL_REPLIES) if m), None)
    if match:
        text = match.group(1) + match.group(3)
    else:  # cut line by line: from the "... wrote:" line to the footer or the last quoted line
        lines = text.split("\n")
        start, end = 0, -1
        for number, line in enumerate(lines):
            line = line.strip()
            if "notifications@github.com" in line or _EMAIL_DATE.search(line):
                start = number
            if "Reply to this email directly" in line:
                end = number + 1 if line.endswith(":") else number
            if line.startswith(">"):
                end = number
        text = "\n".join(lines[:start] + lines[end + 1:])
    return _PAGE_BREAK.sub("", text).strip()


def is_bot(name: str) -> bool:
    lowered = name.lower()
    return (name in BOT_NAMES or any(part in lowered for part in BOT_NAME_PARTS)
            or lowered.endswith(BOT_NAME_ENDINGS))


def truncate_lines(text: str, max_lines: int, marker: str, keep_last: int = 20) -> str:
    """A text of more than `max_lines` lines cut in the middle: its first `max_lines - keep_last` lines, `marker`
    on a line of its own, its last `keep_last` lines."""
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return text
    return "\n".join(lines[:max_lines - keep_last]) + f"\n{marker}\n" + "\n".join(lines[-keep_last:])
