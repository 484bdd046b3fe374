#!/usr/bin/env python3
"""Python-side throughput of the fiatline package against the same steps
in plain Python (pure_python.py: the reference script's way, written from
docs/algorithm.md), on real block 702861, side by side in one run.

    python3 bindings/python/bench/bench.py [--repeat N] [--block FILE]

Both sides must give the same price, or the run fails.
"""

import argparse
import os
import statistics
import sys
import time

import fiatline

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pure_python  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


def best_of(repeat, f):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--block", default=os.path.join(ROOT, "samples", "block-702861.bin"))
    args = ap.parse_args()
    block = open(args.block, "rb").read()
    txs = fiatline.block_transactions(block)
    n = len(txs)
    time_of_block = int.from_bytes(block[68:72], "little")

    rows = []

    def row(name, f, repeat=args.repeat):
        best, median, result = best_of(repeat, f)
        rows.append((name, best, median, n / best))
        return result

    py_outputs = row("pure Python: parse + txid + filter (step 6)",
                     lambda: pure_python.block_outputs(block, set(), 702861))
    py_rough, py_price, py_points = row("pure Python: steps 5, 7-11 (histogram to price)",
                             lambda: pure_python.price(py_outputs), repeat=max(1, args.repeat // 2))
    py_total = rows[-2][1] + rows[-1][1]
    rows.append(("pure Python: the whole block", py_total, rows[-2][2] + rows[-1][2], n / py_total))

    rust = row("fiatline.price_blocks([block])", lambda: fiatline.price_blocks([block]))

    def each():
        c = fiatline.Calculator()
        for tx in txs:
            c.add_transaction(tx, time=time_of_block)
        return c.estimate()

    per_tx = row("fiatline.Calculator, add_transaction × 2,500", each)
    hexes = [t.hex() for t in txs]
    simple = row("calculate_price_for_transactions(hex strings)",
                 lambda: fiatline.Calculator().calculate_price_for_transactions(hexes))

    width = max(len(r[0]) for r in rows)
    print(f"block {os.path.basename(args.block)}: {n:,} transactions; best of {args.repeat}")
    print(f"{'':{width}}  {'best':>10}  {'median':>10}  {'tx/s':>12}")
    for name, best, median, rate in rows:
        print(f"{name:{width}}  {best * 1e3:8.2f} ms  {median * 1e3:8.2f} ms  {rate:12,.0f}")
    speedup = py_total / rows[3][1]
    print(f"price_blocks is {speedup:,.0f}x the pure-Python steps")
    prices = {
        "pure Python": py_price,
        "price_blocks": rust["price"],
        "add_transaction": per_tx["price"],
        "calculate_price_for_transactions": simple["price_usd"],
    }
    print("prices: " + ", ".join(f"{k} {v!r}" for k, v in prices.items()))
    if len(set(prices.values())) != 1 or py_rough != rust["rough"]:
        sys.exit("the prices differ")
    if py_points != rust["points"]:
        sys.exit(f"price points: pure Python {py_points}, price_blocks {rust['points']}")


if __name__ == "__main__":
    main()
