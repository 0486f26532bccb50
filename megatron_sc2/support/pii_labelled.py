"""A labelled sample for PII redaction: planted secrets in realistic code, and ordinary code that only looks
secret (lock-file digests, versions, UUIDs, commit ids, identifiers, public DNS and private addresses).

Run `python -m megatron_sc2.support.pii_labelled` for precision and recall per kind.
"""

import random
import string
import uuid
from collections import Counter

from megatron_sc2.curation.pii_rules import find_pii

_B62 = string.ascii_letters + string.digits


def _rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def _email(rng):
    user = rng.choice(["john.smith", "a.kowalski", "maria_garcia", "dev-team", "li.wei88", "j.doe+ci"])
    host = rng.choice(["gmail.com", "company.io", "uni-heidelberg.de", "mail.example.org", "corp.co.uk"])
    return f"{user}@{host}"


def _ipv4(rng):
    while True:
        ip = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if not ip.startswith(("127.", "169.254.", "172.", "192.168.", "100.")):
            return ip


def _ipv6(rng):
    return "2a0" + str(rng.randint(1, 9)) + ":" + ":".join(f"{rng.randint(1, 65535):x}" for _ in range(7))


def _secret_token(rng):
    return rng.choice([
        lambda: "AKIA" + _rand(rng, string.ascii_uppercase + string.digits, 16),
        lambda: "ghp_" + _rand(rng, _B62, 36),
        lambda: "xoxb-" + _rand(rng, string.digits, 11) + "-" + _rand(rng, _B62, 24),
        lambda: "AIza" + _rand(rng, _B62 + "_-", 35),
        lambda: "sk_live_" + _rand(rng, _B62, 24),
        lambda: _rand(rng, _B62, 40),
        lambda: _rand(rng, _B62 + "/+", 40),
    ])()


def _password(rng):
    return rng.choice(["hunter2!", "S3cr3tP@ss", "Tr0ub4dor&3", "qwerty123", "pa55w0rd", "Winter2023!"]) + str(
        rng.randint(0, 99)
    )


# Templates with `{}` slots; each slot's label is the kind, or None for a value that is not PII.
POSITIVE_TEMPLATES = [
    ('__author__ = "Jane Roe <{}>"\n', "EMAIL", _email),
    ("# Contact: {} for access\ndef main():\n    pass\n", "EMAIL", _email),
    ('    "author": "{}",\n', "EMAIL", _email),
    ('SERVER = "{}"\nPORT = 8080\n', "IP_ADDRESS", _ipv4),
    ("ssh deploy@{} -p 22\n", "IP_ADDRESS", _ipv4),
    ("  upstream {}:443;\n", "IP_ADDRESS", _ipv4),
    ('host = "{}"\n', "IP_ADDRESS", _ipv6),
    ('AWS_SECRET_ACCESS_KEY = "{}"\n', "KEY", _secret_token),
    ("api_key: {}\n", "KEY", _secret_token),
    ('const token = "{}";\n', "KEY", _secret_token),
    ('client.login(auth_token="{}")\n', "KEY", _secret_token),
    ("export GITHUB_TOKEN={}\n", "KEY", _secret_token),
    ('headers = {{"Authorization": "Bearer {}"}}\n', "KEY", _secret_token),
    ('DB_PASSWORD = "{}"\n', "PASSWORD", _password),
    ("password: {}\n", "PASSWORD", _password),
    ('    conn = connect(user="admin", password="{}")\n', "PASSWORD", _password),
    ('"password": "{}",\n', "PASSWORD", _password),
    ("String dbPassword = \"{}\";\n", "PASSWORD", _password),
    ("DB_PASSWORD={}\nDB_HOST=localhost\n", "PASSWORD", _password),  # .env file
    ("spring.datasource.password={}\n", "PASSWORD", _password),
    ('MAILGUN_API_KEY = "{}"\n', "KEY", lambda rng: _rand(rng, "0123456789abcdef", 32)),
    ('url = "http://{}:8080/api/v1"\n', "IP_ADDRESS", _ipv4),
    ("git clone https://deploy:{}@git.example.org/app.git\n", "PASSWORD", _password),
    # hard for rules: a password passed positionally, a key in prose
    ('    client.login("admin", "{}")\n', "PASSWORD", _password),
    ("# the staging key is {} (rotate monthly)\n", "KEY", lambda rng: _rand(rng, "0123456789abcdef", 32)),
]

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits
# Key formats taken from detect-secrets' plugin list (not written with the rules), in contexts that do not name them.
FORMAT_TEMPLATES = [
    ('curl -H "X-JFrog-Art-Api: {}" https://repo.example.org/artifactory/api/repositories\n', "KEY",
     lambda rng: "AKCp8" + _rand(rng, _B62, 64)),
    ('conn = "DefaultEndpointsProtocol=https;AccountName=store;AccountKey={};EndpointSuffix=core.windows.net"\n',
     "KEY", lambda rng: _rand(rng, _B62 + "+/", 86) + "=="),
    ('client.run("{}")\n', "KEY", lambda rng: rng.choice("MNO") + _rand(rng, _B62, 23) + "." + _rand(rng, _B62, 6)
     + "." + _rand(rng, _B62 + "_-", 27)),
    ('gl = gitlab.Gitlab("https://gitlab.com", "{}")\n', "KEY", lambda rng: "glpat-" + _rand(rng, _B62, 20)),
    ('mc = MailChimp("{}")\n', "KEY", lambda rng: _rand(rng, _LOWER_ALNUM, 32) + f"-us{rng.randint(1, 20)}"),
    ("//registry.npmjs.org/:_authToken={}\n", "KEY", lambda rng: "npm_" + _rand(rng, _B62, 36)),
    ("twine upload -u __token__ -p {} dist/*\n", "KEY",
     lambda rng: "pypi-AgEIcHlwaS5vcmc" + _rand(rng, _B62 + "-_", 80)),
    ('app = SquareApp("sq0idp-4fQx", "{}")\n', "KEY", lambda rng: "sq0csp-" + _rand(rng, _B62 + "-_", 43)),
    ('bot = telebot.TeleBot("{}")\n', "KEY",
     lambda rng: f"{rng.randint(10**8, 10**10 - 1)}:" + _rand(rng, _B62 + "_-", 35)),
    ('client = Client("{}", api_secret, account_sid)\n', "KEY", lambda rng: "SK" + _rand(rng, _LOWER_ALNUM, 32)),
    ('requests.post("{}", json={{"text": message}})\n', "KEY",
     lambda rng: f"https://hooks.slack.com/services/T{_rand(rng, _UPPER_ALNUM, 8)}/B{_rand(rng, _UPPER_ALNUM, 8)}/"
     + _rand(rng, _B62, 24)),
]
POSITIVE_TEMPLATES += FORMAT_TEMPLATES

NEGATIVE_SNIPPETS = [
    lambda r: f'    "integrity": "sha512-{_rand(r, _B62 + "/+", 86)}==",\n',
    lambda r: f"  integrity sha1-{_rand(r, _B62 + '/+', 27)}=\n",
    lambda r: f"github.com/pkg/errors v0.9.1 h1:{_rand(r, _B62 + '/+', 43)}=\n",
    lambda r: f'checksum = "{_rand(r, "0123456789abcdef", 64)}"\n',
    lambda r: f'    "sha256:{_rand(r, "0123456789abcdef", 64)}",\n',
    lambda r: f"commit {_rand(r, '0123456789abcdef', 40)}\n",
    lambda r: f'TEST_ID = "{uuid.UUID(int=r.getrandbits(128))}"\n',
    lambda r: f'request_id = "{str(uuid.UUID(int=r.getrandbits(128))).upper()}"\n',
    lambda r: f'__version__ = "{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}.{r.randint(0, 9)}"\n',
    lambda r: f"numpy=={r.randint(1, 2)}.{r.randint(0, 26)}.{r.randint(0, 9)}\n",
    lambda r: f'DNS = ["8.8.8.8", "1.1.1.1"]\nLOCAL = "192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"\n',
    lambda r: f'bind = "127.0.0.1:{r.randint(1024, 65535)}"\nsubnet = "10.{r.randint(0, 255)}.0.0/16"\n',
    lambda r: "token = tokenizer.encode(text)\nmax_tokens = 2048\n",
    lambda r: 'password = os.environ["DB_PASSWORD"]\npassword: str = ""\n',
    lambda r: 'api_key = "<YOUR_API_KEY>"\nsecret_key = "${SECRET_KEY}"\n',
    lambda r: "def getElementsByTagNameAndClass2(self, selector):\n    return self.queryAll(selector)\n",
    lambda r: f'icon = "assets/logo@2x.png"\nEMAIL_RE = r"[^@]+@[^@]+"\nlr = {r.random():.6f}\n',
    lambda r: "std::vector<int> v; auto it = std::find(v.begin(), v.end(), 3);\n",
    lambda r: f"mac = '00:1A:2B:{r.randint(10, 99)}:4D:5E'\nt = '12:30:45'\n",
    lambda r: "torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)\n",
    lambda r: f"self.assertEqual(hashlib.md5(data).hexdigest(), '{_rand(r, '0123456789abcdef', 32)}')\n",
    lambda r: "BASE_URL = 'https://api.github.com/repos/{owner}/{repo}/pulls?per_page=100'\n",
    lambda r: "git clone git@github.com:python/cpython.git\n",
    lambda r: "def testHandlesUtf8AndUtf16Surrogates2(self):\n    pass\n",
    lambda r: 'PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"\n',  # a PNG header in base64
    lambda r: "mask = '255.255.255.0'\nexample = '203.0.113.7'\n",
    lambda r: 'image: "nginx@sha256:' + _rand(r, "0123456789abcdef", 64) + '"\n',
    lambda r: "pwd = os.getcwd()\npassword = getpass.getpass()\nself.password = password\n",
]


def build_sample(n: int = 300, seed: int = 0) -> list[tuple[str, Counter]]:
    """`n` snippets, half with one planted value, half ordinary code; each with its Counter of (kind, value)."""
    rng = random.Random(seed)
    sample = []
    for i in range(n):
        if i % 2 == 0:
            template, kind, make = POSITIVE_TEMPLATES[(i // 2) % len(POSITIVE_TEMPLATES)]
            value = make(rng)
            sample.append((template.format(value), Counter({(kind, value): 1})))
        else:
            sample.append((NEGATIVE_SNIPPETS[(i // 2) % len(NEGATIVE_SNIPPETS)](rng), Counter()))
    return sample


def score(sample, find=find_pii) -> dict[str, dict[str, float]]:
    """Precision and recall per kind (and `all`) of `find` (text -> findings), matching findings to labels by kind
    and exact value."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for text, labels in sample:
        found = Counter((f.kind, f.value) for f in find(text))
        for (kind, _), n in (found & labels).items():
            tp[kind] += n
        for (kind, _), n in (found - labels).items():
            fp[kind] += n
        for (kind, _), n in (labels - found).items():
            fn[kind] += n
    scores = {}
    for kind in sorted(set(tp) | set(fp) | set(fn)) + ["all"]:
        t, p, n = (sum(c.values()) if kind == "all" else c[kind] for c in (tp, fp, fn))
        scores[kind] = {"precision": t / (t + p) if t + p else 1.0, "recall": t / (t + n) if t + n else 1.0,
                        "tp": t, "fp": p, "fn": n}
    return scores


def failures(sample):
    """The snippets where findings and labels disagree, for inspection."""
    for text, labels in sample:
        found = Counter((f.kind, f.value) for f in find_pii(text))
        if found != labels:
            yield text, dict(labels), dict(found)


if __name__ == "__main__":
    sample = build_sample()
    for kind, s in score(sample).items():
        print(f"{kind:11s} precision {s['precision']:.3f} recall {s['recall']:.3f}  (tp {s['tp']} fp {s['fp']} fn {s['fn']})")
