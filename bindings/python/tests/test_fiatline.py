"""The Python package against the command line and the reference vectors."""

import gzip
import json
import os
import subprocess
import threading
import time

import pytest

import fiatline
from core_json import verbose

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BLOCK = open(os.path.join(ROOT, "samples", "block-702861.bin"), "rb").read()
BLOCK_TIME = int.from_bytes(BLOCK[68:72], "little")
# ALGORITHM's regression vector: the reference script's price of the block.
PRICE = 42951.63645734903
CONFIDENCE = 0.7229262768797773


def cli(*args):
    """`fiatline price … --json` on the host, built by cargo if need be."""
    out = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "-p", "fiatline-server", "--", *args],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def cli_json():
    path = os.path.join(ROOT, "samples", "block-702861.bin")
    return cli("price", "--block-file", path, "--json"), cli(
        "price", "--block-file", path, "--json", "--refinement", "hourly"
    )


def test_price_blocks_gives_the_reference_price_and_every_cli_field(cli_json):
    reference, hourly = cli_json
    r = fiatline.price_blocks([BLOCK])
    assert r["price"] == PRICE
    assert r["rough"] == 42880
    assert r == reference
    h = fiatline.price_blocks([BLOCK], refinement="hourly")
    assert h == hourly
    assert h["price"] == PRICE and h["reference_confidence"] == CONFIDENCE
    assert h["hours"] == 1 and "few_hours" in h["flags"]


def test_hex_and_bytearray_blocks_are_the_same_block():
    assert fiatline.price_blocks([BLOCK.hex()])["price"] == PRICE
    assert fiatline.price_blocks([bytearray(BLOCK)])["price"] == PRICE


def test_block_transactions_split_the_block():
    txs = fiatline.block_transactions(BLOCK)
    assert len(txs) == 2500
    assert all(isinstance(t, bytes) for t in txs)
    # After the header and the count (fd c4 09: 2,500), the transactions are the block.
    assert BLOCK[80:83] == bytes([0xFD, 0xC4, 0x09])
    assert b"".join(txs) == BLOCK[83:]


def test_transactions_one_at_a_time_equal_the_block():
    c = fiatline.Calculator()
    for tx in fiatline.block_transactions(BLOCK):
        c.add_transaction(tx, time=BLOCK_TIME, height=702861)
    e = c.estimate()
    whole = fiatline.price_blocks([BLOCK])
    for key in ("price", "rough", "confidence", "points", "points_in_range", "outputs", "txs", "used_txs"):
        assert e[key] == whole[key], key
    assert e["blocks"] == 0  # only whole blocks count as blocks
    # Estimating does not end the run: more can come.
    c.add_block(BLOCK)
    assert c.estimate()["txs"] == 5000


@pytest.mark.parametrize("shape", ["bytes", "hex", "dict", "dict with hex"])
def test_calculate_price_for_transactions_takes_every_shape(shape):
    txs = fiatline.block_transactions(BLOCK)
    given = {
        "bytes": txs,
        "hex": [t.hex() for t in txs],
        "dict": [verbose(t) for t in txs],
        "dict with hex": [verbose(t, with_hex=True) for t in txs],
    }[shape]
    got = fiatline.Calculator().calculate_price_for_transactions(given)
    assert got == {"price_usd": PRICE, "confidence": CONFIDENCE}


def test_a_dict_serialises_to_its_own_txid():
    # Rebuilt from Core's fields, a transaction is byte for byte itself: the
    # dict path and the bytes path price the same outputs.
    txs = fiatline.block_transactions(BLOCK)
    c1, c2 = fiatline.Calculator(), fiatline.Calculator()
    for t in txs[:50]:
        c1.add_transaction(t)
        c2.add_transaction(verbose(t))
    assert c1.estimate() == c2.estimate()
    # The block then spends some of those 50 (the same-day rule reads the
    # txids): equal again only if each rebuilt txid is the real one.
    c1.add_block(BLOCK)
    c2.add_block(BLOCK)
    assert c1.estimate() == c2.estimate()
    assert c2.estimate()["used_txs"] < c2.estimate()["txs"]


def test_hourly_calculator_reads_times_from_dicts():
    txs = fiatline.block_transactions(BLOCK)
    c = fiatline.Calculator(refinement="hourly")
    for t in txs:
        c.add_transaction(verbose(t, blocktime=BLOCK_TIME))
    e = c.estimate()
    assert e["price"] == PRICE
    assert e["path"][0][0] == BLOCK_TIME  # hours count from the first time


def _vectors():
    base = os.path.join(ROOT, "testdata", "refined")
    expected = json.load(open(os.path.join(base, "expected.json")))
    for name, v in expected.items():
        path = os.path.join(base, "synthetic.csv" if name == "synthetic" else f"{name}.csv.gz")
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            header = f.readline().strip().split(",")
            t, p = header.index("timestamp" if "timestamp" in header else "time"), header.index("price")
            points = [(int(r[t]), float(r[p])) for r in (line.strip().split(",") for line in f) if r[0]]
        yield name, v, points


@pytest.mark.parametrize("name,expected,points", list(_vectors()), ids=lambda x: x if isinstance(x, str) else "")
def test_refine_matches_every_vector(name, expected, points):
    date = time.strftime("%Y-%m-%d", time.gmtime(expected["day_start"]))
    r = fiatline.refine(points, expected["central"], date)
    for ours, theirs in [("refined", "price"), ("confidence", "confidence"), ("range", "R"),
                         ("edge", "edge"), ("noise", "noise")]:
        assert r[ours] == pytest.approx(expected[theirs], rel=1e-9), ours
    assert (r["grade"], r["hours"], r["fallback"]) == (expected["grade"], expected["hours"], expected["fallback"])


def test_bad_input_raises_with_the_core_message():
    with pytest.raises(fiatline.FiatlineError, match=r"^block 0 is not a valid block: unexpected end"):
        fiatline.price_blocks([BLOCK[:-1]])
    with pytest.raises(fiatline.NoPriceError, match="no price from these blocks: no output amount"):
        fiatline.price_blocks([])
    with pytest.raises(fiatline.FiatlineError, match="refinement 'fast'|refinement \"fast\""):
        fiatline.price_blocks([BLOCK], refinement="fast")
    with pytest.raises(fiatline.FiatlineError, match="not hex"):
        fiatline.price_blocks(["zz"])
    with pytest.raises(TypeError):
        fiatline.price_blocks([42])
    c = fiatline.Calculator()
    tx = fiatline.block_transactions(BLOCK)[1]
    with pytest.raises(fiatline.FiatlineError, match="transaction 0 is not a valid transaction: trailing"):
        c.add_transaction(tx + b"\0")
    with pytest.raises(fiatline.FiatlineError, match='no "vin"'):
        c.add_transaction({"version": 2, "locktime": 0, "vout": []})
    with pytest.raises(fiatline.FiatlineError):
        fiatline.refine([(0, 1.0)], -1.0, "2024-01-01")
    with pytest.raises(fiatline.FiatlineError, match="not a date"):
        fiatline.refine([(0, 1.0)], 1.0, "2024-13-01")
    # Nothing was taken from the refused input.
    with pytest.raises(fiatline.NoPriceError):
        c.estimate()
    assert issubclass(fiatline.FiatlineError, ValueError)


def test_the_gil_is_released_while_pricing():
    blocks = [BLOCK] * 40
    ticks = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks[0]
        fiatline.price_blocks(blocks)  # about 60 ms of Rust
        during = ticks[0] - before
    finally:
        done.set()
        t.join()
    # Holding the GIL, the counting thread could not run at all meanwhile.
    assert during > 1000, during
