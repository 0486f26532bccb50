"""Key formats recognised by detect-secrets (the library BigCode's PII pipeline used for keys), as PII findings.

detect-secrets' format plugins (Artifactory, Azure storage, Discord, GitLab, Mailchimp, npm, PyPI, Square, Telegram,
Twilio, ...) each carry the regular expressions of one vendor's key format. Its scanning engine runs every plugin on
every line with per-line filter machinery, about 0.3 MB/s of code on one core; this module runs the same expressions
only on lines that hold a candidate (a run of key characters that every format here has), about 9 MB/s, with the exact offsets redaction needs. The plugins that judge by entropy or by a keyword name
(`Base64HighEntropyString`, `HexHighEntropyString`, `KeywordDetector`) are left out: on code they flag digests and
test data, and `pii_rules.py` covers that ground with code-aware exceptions (see docs/curation.md).
"""

import re
from collections.abc import Iterator
from functools import cache

FORMAT_PLUGINS = (
    "ArtifactoryDetector", "AWSKeyDetector", "AzureStorageKeyDetector", "DiscordBotTokenDetector",
    "GitHubTokenDetector", "GitLabTokenDetector", "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)
# Every key of these formats holds a run of key characters of 10 or more with a digit, or of 20 or more.
CANDIDATE_RUN = re.compile(r"[A-Za-z0-9_+/=-]{10,}")
DIGIT = re.compile(r"\d")
LONG_GROUP = 16
# What some formats match around the key itself: a `name=` prefix, delimiters.
KEY_PREFIX = re.compile(r"^[A-Za-z]\w*=(?=\S{20})|^[\s\"':=]+")
KEY_SUFFIX = re.compile(r"[\s\"';]+$")


@cache
def _patterns() -> tuple[re.Pattern, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    return tuple(pattern for name in FORMAT_PLUGINS for pattern in plugins[name]().denylist)


def _is_candidate(line: str) -> bool:
    return any(len(run.group()) >= 20 or DIGIT.search(run.group()) for run in CANDIDATE_RUN.finditer(line))


def _key_span(match: re.Match) -> tuple[int, int]:
    """The span of the key in a match, trimmed: the longest group where a format captures the key apart from its
    keyword (IBM, Softlayer, npm), else the whole match (a group of a few characters is a prefix, as GitLab's)."""
    groups = [g for g in range(1, match.re.groups + 1) if match.group(g)]
    group = max(groups, key=lambda g: len(match.group(g)), default=0)
    if group and len(match.group(group)) < LONG_GROUP:
        group = 0
    start, end = match.span(group)
    value = match.group(group)
    if prefix := KEY_PREFIX.match(value):
        start += prefix.end()
    if suffix := KEY_SUFFIX.search(value):
        end -= len(suffix.group())
    return start, end


def find_key_formats(text: str) -> Iterator[tuple[int, int]]:
    """Spans of `text` that detect-secrets' format plugins recognise as keys."""
    line_start = 0
    for line in text.splitlines(keepends=True):
        if _is_candidate(line):
            for pattern in _patterns():
                for match in pattern.finditer(line):
                    start, end = _key_span(match)
                    if end > start:
                        yield line_start + start, line_start + end
        line_start += len(line)
