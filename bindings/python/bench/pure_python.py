"""The method in plain Python, step by step as docs/algorithm.md gives it,
in the way the reference script computes it (loops over bytes, hashlib,
lists): the baseline the Rust core is measured against in bench.py. It is
fiatline's own code, written from the docs, and gives the same price.
"""

import hashlib
import math

USD = [5, 10, 15, 20, 25, 30, 40, 50, 100, 150, 200, 300, 500, 1000]
ROUND_BTC_BINS = [201, 401, 461, 496, 540, 601, 661, 696, 740, 801, 861, 896, 940,
                  1001, 1061, 1096, 1140, 1201]
SPIKES = {40: 0.001300198324984352, 141: 0.001676746949820743, 201: 0.003468805546942046,
          202: 0.001991977522512513, 236: 0.001905066647961839, 261: 0.003341772718156079,
          262: 0.002588902624584287, 296: 0.002577893841190244, 297: 0.002733728814200412,
          340: 0.003076117748975647, 341: 0.005613067550103145, 342: 0.003088253178535568,
          400: 0.002918457489366139, 401: 0.006174500465286022, 402: 0.004417068070043504,
          403: 0.002628663628020371, 436: 0.002858828161543839, 461: 0.004097463611984264,
          462: 0.003345917406120509, 496: 0.002521467726855856, 497: 0.002784125730361008,
          541: 0.003792850444811335, 601: 0.003688240815848247, 602: 0.002392400117402263,
          636: 0.001280993059008106, 661: 0.001654665137536031, 662: 0.001395501347054946,
          741: 0.001154279140906312, 801: 0.000832244504868709}


def varint(b, i):
    n = b[i]
    if n < 0xfd:
        return n, i + 1
    w = {0xfd: 2, 0xfe: 4, 0xff: 8}[n]
    return int.from_bytes(b[i + 1:i + 1 + w], "little"), i + 1 + w


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def block_outputs(block, seen, height=0):
    """Steps 6: the outputs of the block's used transactions, in order."""
    time = int.from_bytes(block[68:72], "little")
    count, i = varint(block, 80)
    out = []
    for _ in range(count):
        start = i
        i += 4
        segwit = block[i] == 0 and block[i + 1] == 1
        if segwit:
            i += 2
        n_in, i = varint(block, i)
        prevs, coinbase = [], False
        for _ in range(n_in):
            prev, index = block[i:i + 32], int.from_bytes(block[i + 32:i + 36], "little")
            coinbase |= prev == b"\0" * 32 and index == 0xffffffff
            prevs.append(prev)
            n, i = varint(block, i + 36)
            i += n + 4
        n_out, i = varint(block, i)
        values, op_return = [], False
        for _ in range(n_out):
            values.append(int.from_bytes(block[i:i + 8], "little"))
            n, i = varint(block, i + 8)
            op_return |= n > 0 and block[i] == 0x6a
            i += n
        outputs_end = i
        witness_ok = True
        if segwit:
            for _ in range(n_in):
                items, i = varint(block, i)
                total = 0
                for _ in range(items):
                    n, i = varint(block, i)
                    total += n
                    witness_ok &= n <= 500 and total <= 500
                    i += n
        i += 4
        if segwit:
            # The txid leaves out the marker, the flag and the witnesses.
            stripped = block[start:start + 4] + block[start + 6:outputs_end] + block[i - 4:i]
        else:
            stripped = block[start:i]
        txid = sha256d(stripped)
        same_day = any(p in seen for p in prevs)
        seen.add(txid)
        if n_in > 5 or n_out != 2 or coinbase or op_return or not witness_ok or same_day:
            continue
        for v in values:
            btc = v / 1e8
            if 1e-5 < btc < 1e5:
                out.append((btc, height, time))
    return out


def edges():
    e = [0.0]
    for exp in range(-6, 6):
        for b in range(200):
            e.append(10 ** (exp + b / 200))
    return e


def price(outputs):
    """Steps 5 and 7 to 11 over `outputs`, [(btc, height, time)]: the rough
    price, the central price and how many price points step 10 found."""
    edge = edges()
    counts = [0.0] * 2400
    for btc, _, _ in outputs:
        est = int(((math.log10(btc) + 6) / 12) * 2401)
        while edge[est] <= btc:
            est += 1
        counts[est - 1] += 1.0
    for n in range(0, 201):
        counts[n] = 0
    for n in range(1601, 2400):
        counts[n] = 0
    for r in ROUND_BTC_BINS:
        counts[r] = 0.5 * (counts[r + 1] + counts[r - 1])
    total = 0.0
    for n in range(201, 1601):
        total += counts[n]
    for n in range(201, 1601):
        counts[n] = min(counts[n] / total, 0.008)
    smooth = [0.00150 * 2.718281828459045 ** (-((x - 411) ** 2) / (2 * 201 ** 2)) + 0.0000005 * x
              for x in range(803)]
    spike = [SPIKES.get(x, 0.0) for x in range(803)]
    center, left = 601, 601 - 402
    best, best_score, score_sum = 0, 0.0, 0.0
    for slide in range(-141, 201):
        window = counts[left + slide:left + slide + 803]
        sm = sp = 0.0
        for n in range(len(window)):
            sm += window[n] * smooth[n]
            sp += window[n] * spike[n]
        score = sp + 0.65 * sm if slide < 150 else sp
        if score > best_score:
            best, best_score = slide, score
        score_sum += score

    def spike_score(slide):
        window = counts[left + slide:left + slide + 803]
        s = 0.0
        for n in range(len(window)):
            s += window[n] * spike[n]
        return s

    price_best = 100 / edge[center + best]
    up, down = spike_score(best + 1), spike_score(best - 1)
    neighbour, neighbour_score = (1, up) if down <= up else (-1, down)
    price_2nd = 100 / edge[center + best + neighbour]
    avg = score_sum / 342
    a1, a2 = best_score - avg, abs(neighbour_score - avg)
    rough = int((a1 / (a1 + a2)) * price_best + (a2 / (a1 + a2)) * price_2nd)

    micro = []
    for start, step, end in [(0.00005, 0.00001, 0.0001), (0.0001, 0.00001, 0.001),
                             (0.001, 0.0001, 0.01), (0.01, 0.001, 0.1), (0.1, 0.01, 1)]:
        r = start
        while r < end:
            micro.append(r)
            r += step
    points = []
    for v, _, _ in outputs:
        for u in USD:
            b = u / rough
            if b - 0.25 * b < v < b + 0.25 * b and not any(r - 0.0001 * r < v < r + 0.0001 * r for r in micro):
                points.append(u / v)
    lo, hi = rough - 0.05 * rough, rough + 0.05 * rough
    xs = sorted(p for p in points if lo < p < hi)
    # Added left to right, as the core does (Python 3.12's sum() compensates).
    total = 0.0
    for x in xs:
        total += x
    n, prefix = len(xs), 0.0
    best_d, central = math.inf, 0.0
    for i, x in enumerate(xs):
        left_sum = prefix
        prefix += x
        d = (x * i - left_sum) + ((total - prefix) - x * (n - i - 1))
        if d < best_d:
            best_d, central = d, x
    return rough, central, len(points)
