"""A real S3 API on loopback for the fetch tests and benchmark: moto's server, behind a proxy that counts the
objects it serves, can answer 503 to the first request of chosen keys, and can slow each answer down."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKET = "softwareheritage"
# the environment of a user without AWS credentials: the fetcher then sends unsigned requests
NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
                  "AWS_PROFILE": None, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                  "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}


def blob(name: str) -> str:
    """A blob id (a SHA-1, as Software Heritage's) for a test object."""
    return hashlib.sha1(name.encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """`url` is the proxy's endpoint; `served[key]` counts 200 answers, `refused[key]` injected 503s. Once
    `hold_after` answers were begun, later requests wait for `release` and then go unanswered (so that a test can
    kill the client between two answers)."""

    def __init__(self, delay: float = 0.0):
        from moto.server import ThreadedMotoServer

        self.moto_port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.served, self.refused, self.fail_first, self.delay = Counter(), Counter(), set(), delay
        self.lock, self.hold_after, self.release, self.begun = threading.Lock(), None, threading.Event(), 0
        self.proxy = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.proxy.server_address[1]}"

    def __enter__(self):
        self.moto.start()
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *exc):
        self.proxy.shutdown()
        self.moto.stop()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.moto_port}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def plant(self, blob_id: str, data: bytes, compress: bool = True) -> None:
        self.client().put_object(Bucket=BUCKET, Key=f"content/{blob_id}", Body=gzip.compress(data) if compress else data,
                                 ACL="public-read")

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                key = self.path.split("?")[0].removeprefix(f"/{BUCKET}/")
                with server.lock:
                    refuse = key in server.fail_first and not server.refused[key]
                    if refuse:
                        server.refused[key] += 1
                if refuse:
                    body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                time.sleep(server.delay)
                with server.lock:
                    held = server.hold_after is not None and server.begun >= server.hold_after
                    server.begun += not held
                if held:
                    server.release.wait(60)
                    self.close_connection = True
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", server.moto_port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request("GET", self.path, headers=headers)
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:  # the client was killed
                    return
                if answer.status == 200:
                    with server.lock:
                        server.served[key] += 1

        return Handler
