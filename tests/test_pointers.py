"""Every pointer a reader follows leads somewhere: the tests docs cite (guarantees.md names one per
promise), the repository paths docs name, and scripts in tools/ and benchmarks/ that run as installed
(no `sys.path` edits) and point nowhere outside the repository."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md", REPO / "docker" / "README.md"]
TESTS = sorted((REPO / "tests").rglob("test_*.py"))
# Files of other projects that docs quote (Megatron-LM's CI and user guide, CPython's tests).
ELSEWHERE = {"docker/.ngc_version.dev", "docs/user-guide/hybrid-model-migration.md", "test_ipaddress.py"}


def doc_text(doc: Path) -> str:
    """The doc with paths broken over two lines joined again."""
    return re.sub(r"/\n\s*", "/", doc.read_text(encoding="utf-8"))


def test_every_cited_test_exists():
    missing = []
    for doc in DOCS:
        for path, name in re.findall(r"((?:tests/)?[\w/]*test_\w+\.py)(?:::(\w+))?", doc_text(doc)):
            if path in ELSEWHERE:
                continue
            files = [REPO / path] if path.startswith("tests/") else [t for t in TESTS if t.name == Path(path).name]
            files = [f for f in files if f.is_file()]
            if not files or (name and not any(re.search(rf"^def {name}\(", f.read_text(), re.MULTILINE)
                                               for f in files)):
                missing.append(f"{doc.relative_to(REPO)}: {path}{'::' + name if name else ''}")
    assert not missing


def test_every_repository_path_in_the_docs_exists():
    """Paths from the repository root, and modules by their path in the package (`training/trainer.py`)."""
    packages = "|".join(p.name for p in (REPO / "megatron_sc2").iterdir() if (p / "__init__.py").is_file())
    from_root = r"(?<![\w./-])((?:megatron_sc2|tools|benchmarks|docs|examples|tests|docker)/[\w./-]+)([{*]?)"
    in_package = rf"(?<![\w./-])((?:{packages})/[\w/]+\.py)()"
    missing = []
    for doc in DOCS:
        text = doc_text(doc)
        for path, glob in re.findall(from_root, text) + re.findall(in_package, text):
            path = path.rstrip(".-")
            if not (glob or path in ELSEWHERE or (REPO / path).exists() or (REPO / "megatron_sc2" / path).exists()
                    or path in ("docs/s", "docs/s/core")):
                missing.append(f"{doc.relative_to(REPO)}: {path}")
    assert not missing


def test_scripts_run_as_installed_and_point_only_into_the_repository():
    scripts = sorted((REPO / "tools").rglob("*.py")) + sorted((REPO / "benchmarks").rglob("*.py"))
    assert len(scripts) > 10
    assert not [str(s.relative_to(REPO)) for s in scripts if "sys.path" in s.read_text()]
    texts = [*DOCS, *scripts, *(p for d in ("megatron_sc2", "tests", "examples", ".ci") for p in (REPO / d).rglob("*"))]
    assert not [str(t.relative_to(REPO)) for t in texts if t.is_file() and re.search(r"reference/[\w-]+\.md",
                                                                                        t.read_text(errors="ignore"))]
