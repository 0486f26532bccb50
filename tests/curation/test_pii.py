import random
from collections import Counter

from datatrove.data import Document

from megatron_sc2.curation.pii import IPV4_REPLACEMENTS, PIIRedactor, redact
from megatron_sc2.curation.pii_rules import find_pii
from megatron_sc2.support.pii_labelled import FORMAT_TEMPLATES, build_sample, score


def test_labelled_sample_precision_and_recall():
    scores = score(build_sample(n=300))
    print({k: (round(v["precision"], 3), round(v["recall"], 3)) for k, v in scores.items()})
    # the sample includes cases only a model sees (positional passwords, keys in prose): recall stays below 1
    assert scores["all"]["precision"] == 1.0 and scores["all"]["recall"] >= 0.94
    assert scores["KEY"]["recall"] >= 0.94
    for kind in ("EMAIL", "IP_ADDRESS", "KEY", "PASSWORD"):
        assert scores[kind]["recall"] >= 0.85, kind


def test_detect_secrets_key_formats_are_redacted_whole():
    rng = random.Random(1)
    for template, _, make in FORMAT_TEMPLATES * 5:
        key = make(rng)
        redacted, counts = redact(template.format(key))
        assert counts == Counter({"KEY": 1}) and redacted == template.format("<KEY>"), (template, key)


def test_placeholders_and_consistent_ip_mapping():
    text = (
        'ADMIN = "jane.roe@company.io"\n'
        'PRIMARY = "52.14.200.7"; BACKUP = "81.2.69.160"; AGAIN = "52.14.200.7"\n'
        'DNS = "8.8.8.8"; LAN = "192.168.1.20"\n'
        'DB_PASSWORD = "Tr0ub4dor&3"\n'
        'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n'
    )
    redacted, counts = redact(text)
    assert "<EMAIL>" in redacted and "jane.roe" not in redacted
    assert 'DB_PASSWORD = "<PASSWORD>"' in redacted and 'aws_access_key_id = "<KEY>"' in redacted
    first, second = IPV4_REPLACEMENTS[:2]
    assert f'PRIMARY = "{first}"; BACKUP = "{second}"; AGAIN = "{first}"' in redacted
    assert '"8.8.8.8"' in redacted and '"192.168.1.20"' in redacted  # public DNS and private addresses stay
    assert counts == Counter({"IP_ADDRESS": 3, "EMAIL": 1, "PASSWORD": 1, "KEY": 1})
    assert redact(redacted)[1] == Counter()  # replacements are not PII themselves


def test_ordinary_code_left_alone(stdlib_sources):
    lock = (
        '"node_modules/react": {\n  "version": "18.2.0",\n'
        '  "integrity": "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",\n'
        '  "resolved": "https://registry.npmjs.org/react/-/react-18.2.0.tgz"\n},\n'
        'uuid = "123e4567-e89b-12d3-a456-426614174000"\ncommit = "9fceb02d0ae598e95dc970b74767f19372d61af8"\n'
    )
    assert find_pii(lock) == []
    findings = [f for text in stdlib_sources[:100] for f in find_pii(text) if f.kind in ("KEY", "PASSWORD")]
    assert len(findings) <= 3, findings


def test_redactor_block_counts_by_kind():
    block = PIIRedactor()
    docs = [Document(text="mail me: a.b@corp.example.com", id="1"), Document(text="x = 1", id="2")]
    out = list(block.run(iter(docs)))
    assert out[0].text == "mail me: <EMAIL>" and out[1].text == "x = 1"
    assert block.stats["redacted_EMAIL"].total == 1 and block.stats["documents_redacted"].total == 1


def test_a_password_is_redacted_whatever_its_first_character():
    """A placeholder is judged by the whole value: `Xq9vT42zzLm`, `$q9vT42zzLm`, `*q9vT42zzLm` are secrets."""
    firsts = [chr(c) for c in range(32, 127)] + ["é", "Ж", "中", "•", "🔑"]
    for first in firsts:
        value = first + "q9vT42zzLm"
        quote = "'" if first == '"' else '"'
        for line in (f"password = {quote}{value}{quote}\n", f"db_pwd: {quote}{value}{quote}\n"):
            assert redact(line) == (line.replace(value, "<PASSWORD>"), Counter({"PASSWORD": 1})), line
        # an unquoted config value: not after a quote or separator, not code (calls, subscripts), not `=>`
        if first not in " \"',;#()[]>":
            line = f"PASSWORD={value}\n"
            assert redact(line)[0] == "PASSWORD=<PASSWORD>\n", line


def test_placeholders_are_left_alone():
    placeholders = [
        "xxxx", "XXXXXXXX", "****", "........", "xxxx-xxxx", "${PASS}", "${DB_PASSWORD:-}", "$DB_PASS", "$(cat pw)",
        "{password}", "{{ db_password }}", "<password>", "<your password here>", "%(pw)s", "%DB_PASS%",
        "your_password", "YOUR_SECRET_HERE", "example-password", "changeme", "None", "string",
    ]
    for value in placeholders:
        line = f'password = "{value}"\n'
        assert find_pii(line) == [], line
    for value in ("${Xq9vT42zzLm}", "{q9vT42zzLm}", "<Xq9vT42zzLm>", "yourXq9vT42zzLm", "xq9vT42zzLm"):
        assert find_pii(f'password = "{value}"\n'), value  # a random name in a template's shape is a secret
