"""Bitcoin Core's verbose JSON of a raw transaction (`getrawtransaction
<txid> true`, the entries of `getblock <hash> 2`), as the tests' fixture
for the dict API: the fields Core writes, built from the bytes here."""

import hashlib


def _varint(b, i):
    n = b[i]
    if n < 0xFD:
        return n, i + 1
    w = {0xFD: 2, 0xFE: 4, 0xFF: 8}[n]
    return int.from_bytes(b[i + 1 : i + 1 + w], "little"), i + 1 + w


def _hash(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()[::-1].hex()


def verbose(raw, with_hex=False, blocktime=None):
    """The dict Core gives for `raw`; values in BTC, scripts in hex."""
    i = 4
    version = int.from_bytes(raw[:4], "little", signed=True)
    segwit = raw[4] == 0 and raw[5] == 1
    if segwit:
        i += 2
    n_in, i = _varint(raw, i)
    vin = []
    for _ in range(n_in):
        prev, index = raw[i : i + 32], int.from_bytes(raw[i + 32 : i + 36], "little")
        n, i = _varint(raw, i + 36)
        script, i = raw[i : i + n], i + n
        sequence = int.from_bytes(raw[i : i + 4], "little")
        i += 4
        if prev == b"\0" * 32 and index == 0xFFFFFFFF:
            vin.append({"coinbase": script.hex(), "sequence": sequence})
        else:
            vin.append({
                "txid": prev[::-1].hex(),
                "vout": index,
                "scriptSig": {"asm": "", "hex": script.hex()},
                "sequence": sequence,
            })
    n_out, i = _varint(raw, i)
    vout = []
    for n in range(n_out):
        sats = int.from_bytes(raw[i : i + 8], "little")
        size, i = _varint(raw, i + 8)
        script, i = raw[i : i + size], i + size
        vout.append({"value": sats / 1e8, "n": n, "scriptPubKey": {"hex": script.hex()}})
    outputs_end = i
    if segwit:
        for entry in vin:
            items, i = _varint(raw, i)
            stack = []
            for _ in range(items):
                size, i = _varint(raw, i)
                stack.append(raw[i : i + size].hex())
                i += size
            if stack:
                entry["txinwitness"] = stack
    locktime = int.from_bytes(raw[i : i + 4], "little")
    stripped = raw[:4] + raw[6:outputs_end] + raw[i : i + 4] if segwit else raw
    d = {
        "txid": _hash(stripped),
        "hash": _hash(raw),
        "version": version,
        "size": len(raw),
        "locktime": locktime,
        "vin": vin,
        "vout": vout,
    }
    if with_hex:
        d["hex"] = raw.hex()
    if blocktime is not None:
        d["blocktime"] = blocktime
    return d
