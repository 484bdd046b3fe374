#!/usr/bin/env python3
"""Writes samples/replay-702861.jsonl.gz: the transactions of real block
702861 (coinbase left out: it never sits in a mempool) as a recording,
first-seen times spread evenly over the three hours before the block's time.

Usage: python3 tools/make_recording.py
"""

import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from refcheck import split_transactions  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
block = open(os.path.join(ROOT, "samples", "block-702861.bin"), "rb").read()
time = int.from_bytes(block[68:72], "little")
txs = split_transactions(block)[1:]
span = 3 * 3600
with gzip.GzipFile(os.path.join(ROOT, "samples", "replay-702861.jsonl.gz"), "wb", mtime=0) as out:
    for i, tx in enumerate(txs):
        line = {"timestamp": time - span + i * span // len(txs), "raw_hex": tx.hex()}
        out.write((json.dumps(line) + "\n").encode())
print(f"{len(txs)} transactions over {span} s before {time}")
