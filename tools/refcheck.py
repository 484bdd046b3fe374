#!/usr/bin/env python3
"""Compares fiatline with the reference script on the same blocks.

Serves the given raw block files from a minimal Bitcoin Core JSON-RPC node on
loopback (getblockcount, getblockhash, getblockheader, getblock <hash> 0),
runs the reference script in recent-block mode (-rb) against it, reads its
rough and final price, runs `fiatline price` on the same files, and prints
both. The reference is not part of this repository: pass the path of a copy
of UTXOracle.py (v9.1) you fetched yourself.

The reference prices the 144 blocks below the tip, so the run must be exactly
144 blocks (repeat files with --repeat); one more block is served as the tip.

Usage:
  python3 tools/refcheck.py UTXOracle.py --fiatline target/release/fiatline \\
      --block-file samples/block-702861.bin --repeat 144
"""

import argparse
import hashlib
import http.server
import json
import os
import runpy
import subprocess
import sys
import tempfile
import threading

RUN = 144


def read_block(path):
    raw = open(path, "rb").read()
    text = raw.strip()
    if text and all(c in b"0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text.decode())
    return raw


def compact_size(b, i):
    n = b[i]
    if n < 0xfd:
        return n, i + 1
    width = {0xfd: 2, 0xfe: 4, 0xff: 8}[n]
    return int.from_bytes(b[i + 1:i + 1 + width], "little"), i + 1 + width


def split_transactions(block, scale=1.0):
    """Returns the raw transactions of a block (no validation: real blocks
    only), with every output value multiplied by `scale`."""
    block = bytearray(block)
    count, i = compact_size(block, 80)
    txs = []
    for _ in range(count):
        start = i
        i += 4
        segwit = block[i] == 0 and block[i + 1] == 1
        i += 2 if segwit else 0
        n_in, i = compact_size(block, i)
        for _ in range(n_in):
            n, i = compact_size(block, i + 36)
            i += n + 4
        n_out, i = compact_size(block, i)
        for _ in range(n_out):
            value = int.from_bytes(block[i:i + 8], "little")
            block[i:i + 8] = min(int(value * scale), 2**63 - 1).to_bytes(8, "little")
            n, i = compact_size(block, i + 8)
            i += n
        if segwit:
            for _ in range(n_in):
                items, i = compact_size(block, i)
                for _ in range(items):
                    n, i = compact_size(block, i)
                    i += n
        i += 4
        txs.append(bytes(block[start:i]))
    return txs


def shuffled_run(blocks, seed, scale):
    """144 blocks, each a random sample of the given blocks' transactions in
    random order, so spends meet their parents before, after or not at all."""
    import random
    rng = random.Random(seed)
    pool = [tx for b in blocks for tx in split_transactions(b, scale)]
    out = []
    for h in range(RUN):
        txs = rng.sample(pool, rng.randint(1, len(pool)))
        count = len(txs)
        varint = bytes([count]) if count < 0xfd else b"\xfd" + count.to_bytes(2, "little")
        header = bytearray(blocks[0][:80])
        header[68:72] = (1_700_000_000 + 600 * h).to_bytes(4, "little")
        out.append(bytes(header) + varint + b"".join(txs))
    return out


def serve(blocks):
    """Starts a JSON-RPC node on loopback; heights 0..len-1, tip len-1."""
    hashes = [hashlib.sha256(b"%d" % h + b[:80]).hexdigest() for h, b in enumerate(blocks)]
    by_hash = {h: i for i, h in enumerate(hashes)}

    class Node(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, req):
            method, params = req["method"], req.get("params", [])
            if method == "getblockcount":
                result = len(blocks) - 1
            elif method == "getblockhash":
                result = hashes[int(params[0])]
            elif method == "getblockheader":
                i = by_hash[params[0]]
                result = {"hash": params[0], "height": i,
                          "time": int.from_bytes(blocks[i][68:72], "little")}
            elif method == "getblock":
                result = blocks[by_hash[params[0]]].hex()
            else:
                result = None
            return {"result": result, "error": None, "id": req.get("id")}

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            # fiatline batches requests: a JSON array of calls.
            answer = [self.answer(r) for r in req] if isinstance(req, list) else self.answer(req)
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Node)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_reference(script, port):
    datadir = tempfile.mkdtemp(prefix="refcheck-")
    with open(os.path.join(datadir, "bitcoin.conf"), "w") as f:
        f.write(f"rpcuser=u\nrpcpassword=p\nrpcconnect=127.0.0.1\nrpcport={port}\n")
    argv, cwd = sys.argv, os.getcwd()
    sys.argv = [script, "-rb", "-p", datadir]
    os.chdir(datadir)  # the reference writes its chart to the working directory
    import webbrowser
    webbrowser.open = lambda *a, **k: True
    try:
        out = runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = argv
        os.chdir(cwd)
    return out["rough_price_estimate"], out["central_price"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference")
    ap.add_argument("--fiatline", default="target/release/fiatline")
    ap.add_argument("--block-file", action="append", required=True)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--shuffle", type=int, metavar="SEED",
                    help=f"price {RUN} blocks made of shuffled samples of the given blocks' transactions")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="with --shuffle, multiply every output value (moves the price by 1/scale)")
    args = ap.parse_args()

    files = args.block_file * args.repeat
    if args.shuffle is not None:
        blocks = shuffled_run([read_block(p) for p in args.block_file], args.shuffle, args.scale)
        tmp = tempfile.mkdtemp(prefix="refcheck-blocks-")
        files = []
        for h, b in enumerate(blocks):
            files.append(os.path.join(tmp, f"{h}.bin"))
            open(files[-1], "wb").write(b)
    if len(files) != RUN:
        sys.exit(f"the reference prices {RUN} blocks; got {len(files)}")
    blocks = [read_block(p) for p in files]
    server = serve(blocks + [blocks[-1]])
    port = server.server_address[1]
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        rough, price = run_reference(args.reference, port)

    def ours(cmd):
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
        return {"rough": out["rough"], "price": out["price"]}

    files_cmd = [args.fiatline, "price", "--json"]
    for p in files:
        files_cmd += ["--block-file", p]
    results = {
        "reference": {"rough": rough, "price": price},
        "fiatline --block-file": ours(files_cmd),
        # The same node the reference read, through fiatline's RPC source.
        "fiatline --recent --rpc-url": ours([args.fiatline, "price", "--recent", "--json",
                                              "--rpc-url", f"http://127.0.0.1:{port}",
                                              "--rpc-user", "u", "--rpc-password", "p"]),
    }
    server.shutdown()
    print(json.dumps(results))
    ok = all(r["rough"] == rough and abs(r["price"] - price) <= 1e-6 for r in results.values())
    print("same" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
