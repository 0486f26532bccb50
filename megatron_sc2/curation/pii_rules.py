"""PII detection rules: what counts as an email, a key, a password or a public IP address in code.

A leaf module: the redaction step (pii.py) and the model detector (pii_model.py) both build on it.
"""

import base64
import binascii
import bisect
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from megatron_sc2.curation.key_formats import find_key_formats

PUBLIC_DNS_SERVERS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
    "208.67.220.220", "64.6.64.6", "64.6.65.6", "94.140.14.14", "94.140.15.15", "185.228.168.9",
    "185.228.169.9", "8.26.56.26", "8.20.247.20", "2001:4860:4860::8888", "2001:4860:4860::8844",
    "2606:4700:4700::1111", "2606:4700:4700::1001", "2620:fe::fe", "2620:fe::9",
})
# Key formats whose shape alone identifies them; the whole match is the secret.
KEY_FORMAT_PATTERNS = (
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b",  # Slack
    r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
    r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b",  # Stripe
    r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}\b",  # OpenAI
    r"\bSG\.[\w-]{22}\.[\w-]{43}\b",  # SendGrid
    r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JSON Web Token
)
KNOWN_KEY_FORMATS = re.compile("|".join(KEY_FORMAT_PATTERNS))
PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----(?P<value>[A-Za-z0-9+/=:,\s-]{64,}?)-----END \1PRIVATE KEY-----"
)
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<value>[^\s/]{3,})@[\w.-]+", re.IGNORECASE)
# `name = value`, `name: value`, `"name": "value"`, `name := value`, `name => value`.
ASSIGNMENT = re.compile(
    r"(?P<name>[A-Za-z_][\w.-]*)[\"']?(?P<pre>[ \t]*)(?P<sep>:=|=>|=|:)(?P<post>[ \t]*)"
    r"(?:(?P<quote>[\"'])(?P<quoted>(?:(?!(?P=quote))[^\n])+)(?P=quote)|(?P<bare>[^\s\"',;#]+)[ \t]*$)",
    re.MULTILINE,
)
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+(?P<tld>[A-Za-z]{2,})\b")
# Endings of `name@2x.png`-style asset names, which look like emails.
FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "ts", "css", "json", "py"})
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# A free-standing token that may be a secret, from base64/base62-url alphabets. Longer runs are encoded data
# (base64 blobs wrap at 64-76 chars), which the basic filters judge; long key formats are matched above.
TOKEN = re.compile(r"(?<![\w+/=-])[A-Za-z0-9_+/-]{20,64}={0,2}(?![\w+/=-])")
# Words that precede digests and package checksums, which look random but are not secrets.
DIGEST_CONTEXT = re.compile(r"sha\d*|md5|hash|digest|checksum|integrity|etag|h1:|nonce|uuid|commit", re.IGNORECASE)
# An identifier made of words: every lower-case letter in a run of two or more (atomic groups: linear time).
CAMEL_CASE_WORDS = re.compile(r"(?>[A-Z]*[a-z]{2,}|[A-Z]+|\d+|_)+")
# Hex values are digests when free-standing, but keys when assigned to a key name (many API keys are hex).
HEX_KEY = re.compile(r"[0-9a-fA-F]{16,}")
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase"})
SECRET_WORDS = frozenset({"secret", "token", "apikey", "credential", "credentials"})
KEY_QUALIFIERS = frozenset({"api", "access", "secret", "private", "auth", "signing", "encryption", "master", "client"})
# What may precede `NAME=value` on a config line: indentation, shell `export`/`set`, Dockerfile `ENV`/`ARG`.
CONFIG_LINE_START = re.compile(r"[ \t]*(?:(?:export|set|ENV|ARG)[ \t]+)?")
# A bare (unquoted) value that is code, not a literal: attribute chains, calls, subscripts.
CODE_EXPRESSION = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+.*|.*[()\[\]].*")
# Placeholders are judged by the whole value, never by its first character (a secret may start with `x` or `$`):
# fill-in characters (`xxxx`, `****`, `...`), a template reference whose name is not itself random (`${PASS}`,
# `$PASS`, `$(cmd)`, `{password}`, `{{ pass }}`, `<your password>`, `%(pw)s`, `%PASS%`), words that say "fill me
# in" (`your_password`, `example-key`), and type names.
FILLER = re.compile(r"[xX*.#?_-]+|[•·…]+")
TEMPLATE = re.compile(
    r"\$\{(?P<name>[^{}]+)\}|\$\((?P<command>[^()]+)\)|\$(?P<variable>\w+)|\{\{?(?P<field>[^{}]+)\}\}?"
    r"|<(?P<tag>[^<>]+)>|%\((?P<key>\w+)\)[sdr]|%(?P<env>\w+)%"
)
PLACEHOLDER_WORDS = frozenset({"your", "example"})
TYPE_NAMES = re.compile(r"changeme|none|null|true|false|str|string|int|bool|boolean|bytes|any", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str  # EMAIL, KEY, PASSWORD, IP_ADDRESS
    value: str


def _name_words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name.rsplit(".", 1)[-1])]


def _secret_kind(name: str) -> str | None:
    words = _name_words(name)
    if not words:
        return None
    if words[-1] in PASSWORD_WORDS:
        return "PASSWORD"
    if words[-1] in SECRET_WORDS or (words[-1] in ("key", "keys") and KEY_QUALIFIERS.intersection(words[:-1])):
        return "KEY"
    return None


def _entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(c / len(token) * math.log2(c / len(token)) for c in counts.values())


def looks_random(token: str) -> bool:
    """Gibberish test: letters and digits mixed, interleaved, and near the entropy of a random string."""
    if len(token) < 8 or not re.search(r"\d", token) or not re.search(r"[A-Za-z]", token):
        return False
    if re.fullmatch(r"[\d.]+[A-Za-z]*[\d.]*|[0-9a-fA-F-]+", token):  # versions, hex digests, UUIDs
        return False
    alternations = len(re.findall(r"[A-Za-z]\d|\d[A-Za-z]", token))
    return alternations >= 2 and _entropy(token) >= 0.8 * math.log2(min(len(token), 64))


def _decodes_to_text(token: str) -> bool:
    """Base64 of readable text (test vectors, MIME bodies) is data, not a key."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return sum(c.isprintable() or c.isspace() for c in decoded) >= 0.9 * len(decoded)


def _is_secret_token(token: str) -> bool:
    """A random-looking token with both cases, not words joined by `_`, `/`, `-` (mangled names, paths) or
    camel-cased (`testUtf8AndUtf16Surrogates2`)."""
    if any(re.fullmatch(r"[a-z]{3,}|[A-Z]{3,}", part) for part in re.split(r"[_/-]", token)[1:]):
        return False
    if CAMEL_CASE_WORDS.fullmatch(token):
        return False
    return (
        looks_random(token)
        and not _decodes_to_text(token)
        and re.search(r"[a-z]", token) is not None
        and re.search(r"[A-Z]", token) is not None
        and len(re.findall(r"[A-Za-z]\d|\d[A-Za-z]", token)) >= 4
    )


def public_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if not address.is_global or address.is_multicast or str(address) in PUBLIC_DNS_SERVERS:
        return False
    # Dotted versions (`3.1.1.6`, `8.2.4.44`) parse as IPv4; real addresses rarely have three one-digit parts.
    # ASN.1 object identifiers (`2.5.29.14`, `1.3.101.112`) start with arc 0, 1 or 2.
    if address.version == 4 and int(candidate.split(".")[0]) < 3:
        return False
    return address.version == 6 or sum(len(part) == 1 for part in candidate.split(".")) < 3


def _line_before(text: str, position: int) -> str:
    return text[text.rfind("\n", 0, position) + 1 : position]


def is_placeholder(value: str) -> bool:
    """A value that stands for a secret rather than being one."""
    if FILLER.fullmatch(value) or TYPE_NAMES.fullmatch(value):
        return True
    template = TEMPLATE.fullmatch(value)
    if template:
        return not looks_random(next(name for name in template.groups() if name is not None).strip())
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", value)
    return bool(words) and words[0].lower() in PLACEHOLDER_WORDS and not looks_random(value)


def _looks_like_variable(value: str) -> bool:
    """`pwd = password`: an identifier that is not random. `.env`/properties lines (`PASSWORD=hunter2`, no spaces)
    and YAML (`password: hunter2`) keep such values as literals."""
    return value.isidentifier() and not looks_random(value)


def _assignments(text: str):
    for m in ASSIGNMENT.finditer(text):
        kind = _secret_kind(m.group("name"))
        if kind is None:
            continue
        group = "quoted" if m.group("quoted") is not None else "bare"
        value = m.group(group)
        if group == "bare" and (
            not CONFIG_LINE_START.fullmatch(_line_before(text, m.start()))
            or CODE_EXPRESSION.fullmatch(value)
            or (_looks_like_variable(value) and m.group("sep") != ":" and (m.group("pre") or m.group("post")))
        ):
            continue  # unquoted values only on `name: value` config lines, and only literals
        if len(value) < 4 or is_placeholder(value) or _secret_kind(value) is not None:
            continue  # too short, a placeholder, or itself the name of a secret field
        if kind == "KEY" and not (looks_random(value) or HEX_KEY.fullmatch(value)):
            continue
        yield Finding(m.start(group), m.end(group), kind, value)


def _emails(text: str):
    for m in EMAIL.finditer(text):
        if m.group("tld").lower() not in FILE_EXTENSIONS and not m.group().startswith("git@"):  # SSH remotes
            yield Finding(m.start(), m.end(), "EMAIL", m.group())


def _ips(text: str):
    for pattern in (IPV4, IPV6):
        for m in pattern.finditer(text):
            candidate = m.group()
            if pattern is IPV6 and sum(1 for g in candidate.split(":") if g) < 3:
                continue
            if "version" in _line_before(text, m.start()).lower() or not public_ip(candidate):
                continue
            yield Finding(m.start(), m.end(), "IP_ADDRESS", candidate)


def _key_formats(text: str):
    for start, end in find_key_formats(text):
        yield Finding(start, end, "KEY", text[start:end])


def _keys(text: str):
    for m in PRIVATE_KEY_BLOCK.finditer(text):
        yield Finding(m.start("value"), m.end("value"), "KEY", m.group("value"))
    for m in KNOWN_KEY_FORMATS.finditer(text):
        yield Finding(m.start(), m.end(), "KEY", m.group())
    for m in URL_CREDENTIALS.finditer(text):
        yield Finding(m.start("value"), m.end("value"), "PASSWORD", m.group("value"))
    for m in TOKEN.finditer(text):
        if _is_secret_token(m.group()) and not DIGEST_CONTEXT.search(_line_before(text, m.start())):
            yield Finding(m.start(), m.end(), "KEY", m.group())


# Earlier detectors win where findings overlap: the more specific rule names the value. detect-secrets' key
# formats come first, so that a known format is redacted whole, not the part of it a generic rule sees.
RULES = (_keys, _assignments, _emails, _ips)
DETECTORS = (_key_formats, *RULES)


def find_pii(text: str, detectors=DETECTORS, extra: Iterable[Finding] = ()) -> list[Finding]:
    """Non-overlapping findings in text order: those of `detectors`, then `extra` ones (a model's) where free."""
    chosen: list[Finding] = []
    starts: list[int] = []  # of `chosen`, sorted
    for f in chain((f for detector in detectors for f in detector(text)), extra):
        i = bisect.bisect_right(starts, f.start)
        if (i == 0 or chosen[i - 1].end <= f.start) and (i == len(chosen) or f.end <= chosen[i].start):
            chosen.insert(i, f)
            starts.insert(i, f.start)
    return chosen
