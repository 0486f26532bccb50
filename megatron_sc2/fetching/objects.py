"""One Software Heritage content object: `s3://softwareheritage/content/{blob_id}`, gzip, decoded with the record's
`src_encoding`.

Retries are botocore's "standard" mode: throttling (SlowDown, 503, Throttling...) and transient errors (500, 502,
503, 504, dropped connections) are retried with exponential backoff and jitter, up to `MAX_ATTEMPTS` tries. An
object that still cannot be had raises (the task fails, its finished work kept, and a rerun goes on); one that
is absent, not gzip, or not text in its encoding is a bad object, counted by reason.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

BUCKET = "softwareheritage"
PREFIX = "content/"
MAX_ATTEMPTS = 10

# reason -> what it means; every one counts as bad input towards --max-bad-fraction
BAD_REASONS = {
    "missing_object": "no such object in the bucket",
    "not_gzip": "the object is not gzip (or its gzip stream is cut short)",
    "undecodable": "the bytes are not text in the record's src_encoding",
    "unknown_encoding": "src_encoding names no codec Python knows",
    "missing_key": "the record lacks blob_id or src_encoding",
}


class Unavailable(RuntimeError):
    """The store refused or kept failing after the retries: not the object's fault; the task stops."""


@dataclass(frozen=True)
class Fetched:
    content: str | None  # None for a bad object
    reason: str | None  # a BAD_REASONS key, for a bad object
    size: int  # bytes downloaded


def client(endpoint_url: str | None, concurrency: int):
    """An S3 client: the user's credentials when boto3 finds some, unsigned requests otherwise."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, max_pool_connections=concurrency,
                    **({} if session.get_credentials() else {"signature_version": UNSIGNED}))
    return session.client("s3", endpoint_url=endpoint_url, config=config,
                          region_name=session.region_name or "us-east-1")


def fetch(s3, bucket: str, blob_id, src_encoding) -> Fetched:
    if not isinstance(blob_id, str) or not blob_id or not isinstance(src_encoding, str):
        return Fetched(None, "missing_key", 0)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=PREFIX + blob_id)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404"):
            return Fetched(None, "missing_object", 0)
        hint = "; configure AWS credentials that may read it" if code in ("403", "AccessDenied") else ""
        raise Unavailable(f"s3://{bucket}/{PREFIX}{blob_id}: {error}{hint}") from None
    except BotoCoreError as error:
        raise Unavailable(f"s3://{bucket}/{PREFIX}{blob_id}: {error}") from None
    try:
        data = gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        return Fetched(None, "not_gzip", len(body))
    try:
        return Fetched(data.decode(src_encoding), None, len(body))
    except LookupError:
        return Fetched(None, "unknown_encoding", len(body))
    except UnicodeDecodeError:
        return Fetched(None, "undecodable", len(body))
