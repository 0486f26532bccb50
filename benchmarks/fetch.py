"""tools/fetch_contents.py against a local S3 server (moto, on loopback): objects/s, MB/s and CPU seconds per object.

Plants N gzip objects of SIZE bytes of code-like text, writes a per-repository Parquet file of their ids (The Stack
v2's training-set shape), runs the real CLI in a child process and reports its rates and its CPU time (user + system,
from wait4) per object. The local server's own CPU is not counted; it bounds the rate, so the CPU per object is the
figure that carries over to S3, where the rate is set by the network and --concurrency.

    python benchmarks/fetch.py [--objects 2000] [--size 4000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def s3_server():
    """The tests' local S3 server (tests/s3_server.py), loaded from its file."""
    spec = importlib.util.spec_from_file_location("s3_server", REPO / "tests" / "s3_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4000, help="bytes of text per object (The Stack v2: ~4 KB median)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    import pyarrow as pa
    import pyarrow.parquet as pq

    server = s3_server()
    NO_CREDENTIALS, S3Server, blob = server.NO_CREDENTIALS, server.S3Server, server.blob
    line = "    result = compute(value, options)  # a line of code\n"
    text = (line * (args.size // len(line) + 1))[: args.size]
    with tempfile.TemporaryDirectory() as work, S3Server() as s3:
        client = s3.client()
        files = []
        for i in range(args.objects):
            key = blob(f"bench/{i}")
            client.put_object(Bucket="softwareheritage", Key=f"content/{key}", ACL="public-read",
                              Body=gzip.compress(f"# file {i}\n{text}".encode()))
            files.append({"blob_id": key, "path": f"src/f{i}.py", "src_encoding": "UTF-8", "language": "Python"})
        rows = [{"repo_name": f"bench/r{r}", "files": files[r::100]} for r in range(100)]
        (Path(work) / "ids").mkdir()
        pq.write_table(pa.Table.from_pylist(rows), Path(work) / "ids" / "train.parquet")
        env = {**os.environ, **{k: v for k, v in NO_CREDENTIALS.items() if v}, "PYTHONPATH": str(REPO)}
        for name in (k for k, v in NO_CREDENTIALS.items() if v is None):
            env.pop(name, None)
        command = [sys.executable, str(REPO / "tools" / "fetch_contents.py"), "--input", str(Path(work) / "ids"),
                   "--output", str(Path(work) / "out"), "--endpoint-url", s3.url, "--concurrency",
                   str(args.concurrency), "--rows-per-chunk", "10"]
        start = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        assert status == 0, f"fetch_contents.py failed ({status})"
        stats = json.loads((Path(work) / "out" / "stats.json").read_text())
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{stats['objects']:,} objects in {seconds:.1f} s (startup included): {stats['objects'] / seconds:,.0f} "
          f"objects/s, {stats['bytes_downloaded'] / 1e6 / seconds:.2f} MB/s downloaded, "
          f"{stats['bytes_written'] / 1e6 / seconds:.2f} MB/s of text; CPU {cpu:.1f} s = "
          f"{cpu / stats['objects'] * 1e3:.2f} ms per object (--concurrency {args.concurrency})")


if __name__ == "__main__":
    main()
