"""The Stack v2 curation pipeline (StarCoder2 paper §2-3) as datatrove blocks.

Raw code records go through basic filters, opt-out and decontamination, MinHash near-deduplication and PII
redaction, and come out as JSONL for `tools/preprocess_data.py`. See docs/curation.md.
"""
