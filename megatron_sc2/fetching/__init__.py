"""Published code datasets -> records with `content`: Software Heritage blobs fetched from S3 (tools/fetch_contents.py)."""
