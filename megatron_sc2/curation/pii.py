"""PII redaction with rules (StarCoder2 paper §3.2 without the StarPII model).

Emails become `<EMAIL>`, secrets `<KEY>`, passwords `<PASSWORD>`; public IP addresses become one of the private
addresses StarCoder2 used, the same address always mapping to the same replacement within a file. What a rule can
not see (names, secrets in unnamed positions, context-dependent cases) is listed in docs/curation.md; the rules
themselves are pii_rules.py.
"""

from collections import Counter
from collections.abc import Iterable
from itertools import islice

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from megatron_sc2.curation.pii_rules import Finding, find_pii

IPV4_REPLACEMENTS = ("172.16.31.10", "172.16.58.3", "172.16.17.32", "192.168.127.12", "192.168.3.11")
IPV6_REPLACEMENTS = (
    "fd00:c2b6:b24b:be67:2827:688d:e6a1:6a3b", "fd00:a516:7c1b:17cd:6d81:2137:bd2a:2c5b",
    "fc00:e968:6179::de52:7100", "fc00:db20:35b:7399::5", "fdf8:f53e:61e4::18",
)


def _ip_replacement(address: str, already_mapped: dict[str, str]) -> str:
    """The next unused private address of the same family (distinct addresses stay distinct, up to 5)."""
    is_v6 = ":" in address
    pool = IPV6_REPLACEMENTS if is_v6 else IPV4_REPLACEMENTS
    return pool[sum((":" in a) == is_v6 for a in already_mapped) % len(pool)]


def redact(text: str, model_findings: Iterable[Finding] = ()) -> tuple[str, Counter]:
    """The text with PII replaced, and the number of replacements per kind; a model's findings fill in where the
    rules found nothing."""
    findings = find_pii(text, extra=model_findings)
    if not findings:
        return text, Counter()
    ip_map: dict[str, str] = {}
    pieces, cursor = [], 0
    for f in findings:
        if f.kind == "IP_ADDRESS":
            replacement = ip_map.setdefault(f.value, _ip_replacement(f.value, ip_map))
        else:
            replacement = f"<{f.kind}>"
        pieces += [text[cursor : f.start], replacement]
        cursor = f.end
    pieces.append(text[cursor:])
    return "".join(pieces), Counter(f.kind for f in findings)


class PIIRedactor(PipelineStep):
    """Replaces emails, keys, passwords and public IP addresses (and, with a model, names); counts replacements
    per kind. The model (`pii_model.PIIModel`) is loaded in each task, and sees documents in groups so that its
    windows fill batches."""

    type = "✂️ - FORMAT"
    name = "🔏 PII redaction"
    DOCUMENTS_PER_GROUP = 64

    def __init__(self, model_path: str | None = None, batch_size: int = 32):
        super().__init__()
        self.model_path, self.batch_size = model_path, batch_size

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        model = None
        if self.model_path:
            from megatron_sc2.curation.pii_model import PIIModel

            model = PIIModel(self.model_path, self.batch_size)
        data = iter(data)
        while group := list(islice(data, self.DOCUMENTS_PER_GROUP)):
            with self.track_time():
                model_findings = model.find([doc.text for doc in group]) if model else [()] * len(group)
            for doc, found in zip(group, model_findings):
                self.stat_update("total")
                with self.track_time():
                    doc.text, counts = redact(doc.text, found)
                if counts:
                    self.stat_update("documents_redacted")
                for kind, count in counts.items():
                    self.stat_update(f"redacted_{kind}", value=count)
                yield doc
