#!/usr/bin/env python
"""Write Python's standard library as a JSONL code corpus (The Stack v2 style records).

Every machine with Python has this real code, so the quickstart, tests and benchmarks need
no download. Each top-level package or module is one "repository".
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SKIP = {"site-packages", "test", "idlelib", "lib2to3", "__pycache__", "tkinter", "turtledemo"}


def stdlib_records(packages: list[str] | None = None, exclude: tuple[str, ...] = ()):
    """{"content", "path", "repo_name", "language"} (The Stack v2 field names) for each readable .py file."""
    roots = sorted(p for p in STDLIB.iterdir()
                   if p.name not in SKIP and p.stem not in exclude and (p.is_dir() or p.suffix == ".py"))
    if packages:
        roots = [STDLIB / name for name in packages]
    for root in roots:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
            if SKIP & set(file.relative_to(STDLIB).parts):
                continue
            try:
                content = file.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if content.strip():
                yield {
                    "content": content,
                    "path": file.relative_to(root.parent).as_posix(),
                    "repo_name": f"cpython/{root.stem}",
                    "language": "Python",
                }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("output", help="JSONL file to write")
    parser.add_argument("--packages", nargs="+", help="only these top-level packages/modules (default: all)")
    parser.add_argument("--exclude", nargs="+", default=(),
                        help="leave out these top-level packages/modules (e.g. encodings: code tables, not code)")
    parser.add_argument("--repeat", type=int, default=1, help="write the corpus N times (a larger corpus)")
    args = parser.parse_args(argv)
    count = size = 0
    with open(args.output, "w", encoding="utf-8") as out:
        for copy in range(args.repeat):
            for record in stdlib_records(args.packages, args.exclude):
                if copy:
                    record["repo_name"] += f"-copy{copy}"
                out.write(json.dumps(record) + "\n")
                count += 1
                size += len(record["content"])
    print(f"wrote {count} files ({size / 1e6:.1f} MB of code) from {STDLIB} to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
