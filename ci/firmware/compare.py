#!/usr/bin/env python3
"""Compares the firmware's printout with `fiatline price --json` on the host.

Usage: compare.py FIRMWARE_OUTPUT HOST_REFERENCE_JSON HOST_HOURLY_JSON [--ulp-off FIELD]

Every double is compared as its exact bits; --ulp-off moves one host value
by one unit in the last place first, to show that such a difference fails.
"""
import json
import struct
import sys


def bits(x):
    return struct.unpack(">Q", struct.pack(">d", x))[0]


def main():
    firmware_out, ref_path, hourly_path = sys.argv[1:4]
    ulp_off = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--ulp-off" else None
    fw = {}
    for line in open(firmware_out):
        parts = line.split()
        if len(parts) == 2:
            fw[parts[0]] = parts[1]
        if line.startswith(("error", "panic")):
            sys.exit(f"the firmware failed: {line.strip()}")
    ref = json.load(open(ref_path))
    hourly = json.load(open(hourly_path))
    if ulp_off:
        host = ref if ulp_off in ref else hourly
        host[ulp_off] = struct.unpack(">d", struct.pack(">Q", bits(host[ulp_off]) + 1))[0]
    doubles = {
        "price": ref["price"],
        "confidence": ref["confidence"],
        "deviation": ref["deviation"],
        "refined": hourly["refined"],
        "refined_confidence": hourly["confidence"],
        "open": hourly["open"],
        "high": hourly["high"],
        "low": hourly["low"],
        "close": hourly["close"],
        "per_transaction_price": ref["price"],
    }
    integers = {k: ref[k] for k in ("rough", "points", "points_in_range", "outputs", "blocks", "txs", "used_txs")}
    integers["hours"] = hourly["hours"]
    failed = []
    for name, want in doubles.items():
        got = int(fw.get(name, "0x0"), 16)
        status = "ok" if got == bits(want) else "DIFFERS"
        print(f"{name:24} device 0x{got:016x}  host 0x{bits(want):016x} ({want!r})  {status}")
        if got != bits(want):
            failed.append(name)
    for name, want in integers.items():
        got = fw.get(name)
        status = "ok" if got == str(want) else "DIFFERS"
        print(f"{name:24} device {got}  host {want}  {status}")
        if got != str(want):
            failed.append(name)
    if fw.get("grade") != hourly["grade"]:
        failed.append("grade")
    print(f"{'grade':24} device {fw.get('grade')}  host {hourly['grade']}")
    if failed:
        sys.exit(f"the device and the host differ: {', '.join(failed)}")
    print("every field is bit-identical")


if __name__ == "__main__":
    main()
