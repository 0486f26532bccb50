"""Key detection compared: our rules, detect-secrets as BigCode's PII pipeline configured it, and the merge that
`pii.find_pii` runs (detect-secrets' key formats first, then the rules).

For each: precision/recall of KEY on the labelled sample (megatron_sc2/support/pii_labelled.py, planted keys and
look-alikes), keys found in real code (CPython's `Lib/`, ordinary code where nearly every hit is test data or a
false key), and MB/s on one core.

    python benchmarks/pii_keys.py [--files 2000]
"""

import argparse
import sysconfig
import time
from pathlib import Path

from detect_secrets.core.scan import _process_line_based_plugins
from detect_secrets.settings import transient_settings

from megatron_sc2.curation.pii_rules import RULES, Finding, find_pii
from megatron_sc2.support.pii_labelled import build_sample, score

# BigCode's configuration (bigcode-dataset pii/utils/keys_detection.py): its plugins and filters, and its hash
# post-filters; its gibberish-detector model is not used (it needs a model trained on a downloaded corpus).
BIGCODE_PLUGINS = [{"name": name} for name in (
    "ArtifactoryDetector", "AWSKeyDetector", "Base64HighEntropyString", "HexHighEntropyString",
    "AzureStorageKeyDetector", "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "MailchimpDetector", "NpmDetector",
    "SendGridDetector", "SlackDetector", "SoftlayerDetector", "StripeDetector", "TwilioKeyDetector",
)]
BIGCODE_FILTERS = [{"path": f"detect_secrets.filters.heuristic.{name}"} for name in (
    "is_potential_uuid", "is_likely_id_string", "is_templated_secret", "is_sequential_string")]


def _is_hash(text: str, value: str, start: int) -> bool:
    line = text[text.rfind("\n", 0, start) + 1 : start].lower()
    return len(value) in (32, 40, 64) and any(word in line for word in ("sha", "md5", "hash", "byte"))


def _file_has_hashes(text: str) -> bool:
    lower, threshold = text.lower(), int(0.02 * text.count("\n"))
    return lower.count("sha") > threshold or lower.count("hash") > threshold


def detect_secrets_keys(text: str) -> list[Finding]:
    """KEY findings of detect-secrets' engine in BigCode's configuration (call inside `bigcode_settings()`)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    findings = []
    for secret in _process_line_based_plugins(list(enumerate(lines, 1)), "snippet.py"):
        value = secret.secret_value
        start = text.find(value, offsets[secret.line_number - 1])
        if start < 0 or _is_hash(text, value, start) or _file_has_hashes(text):
            continue
        findings.append(Finding(start, start + len(value), "KEY", value))
    return findings


def bigcode_settings():
    return transient_settings({"plugins_used": BIGCODE_PLUGINS, "filters_used": BIGCODE_FILTERS})


def keys_only(find):
    return lambda text: [f for f in find(text) if f.kind == "KEY"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--files", type=int, default=2000, help="CPython Lib/**/*.py files (sorted) to scan")
    args = parser.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = [p for p in sorted(root.rglob("*.py")) if "site-packages" not in p.parts][: args.files]
    texts = [p.read_text(errors="ignore") for p in paths]
    mb = sum(map(len, texts)) / 1e6
    sample = build_sample()
    detectors = {
        "rules (pii_rules.py)": keys_only(lambda text: find_pii(text, RULES)),
        "detect-secrets, BigCode's config": detect_secrets_keys,
        "merged (find_pii)": keys_only(find_pii),
    }
    print(f"labelled sample: {len(sample)} snippets; real code: {len(texts)} files of {root}, {mb:.1f} MB")
    print(f"{'detector':34s} {'KEY precision':>13s} {'recall':>7s} {'fp':>4s}  {'keys in Lib':>11s} {'MB/s':>6s}")
    with bigcode_settings():
        for name, find in detectors.items():
            s = score(sample, find)["KEY"]
            start = time.process_time()
            found = sum(len(find(text)) for text in texts)
            speed = mb / (time.process_time() - start)
            print(f"{name:34s} {s['precision']:13.3f} {s['recall']:7.3f} {s['fp']:4d}  {found:11d} {speed:6.2f}")


if __name__ == "__main__":
    main()
