"""The reference uncross: plain Python, the rules of :mod:`exchange.auction` to the letter.

No cleverness: the bid and ask qty of a candidate are summed over all orders, the tie
steps filter the candidate list one after the other. Every tick is a candidate; the
ticks strictly between two neighbouring limit prices all have the same bid and ask qty,
so each such gap is listed once, as a run of ticks (O(n * limit prices)). It is the
oracle of the tests (which check it against a scan of every single tick) and the
baseline of ``bench/auction.py``. Inputs are trusted (validate with
:func:`exchange.auction.uncross` first); they may be lists or arrays of ints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exchange.auction.uncross import Rule, UncrossResult
from exchange.schema import Side

BUY, SELL = int(Side.BUY), int(Side.SELL)


def reference_uncross(side: Sequence[int], price: Sequence[int], qty: Sequence[int],
                      priority: Sequence[int], reference: int, tick: int) -> UncrossResult:
    side = [int(x) for x in side]
    price = [int(x) for x in price]
    qty = [int(x) for x in qty]
    priority = [int(x) for x in priority]
    n = len(side)
    none = UncrossResult(0, 0, 0, 0, Rule.NONE, np.zeros(n, np.int64), np.zeros((0, 3), np.int64))

    def at(p: int) -> tuple[int, int]:
        """(executable volume, bid - ask) at the price p."""
        bid = sum(qty[i] for i in range(n) if side[i] == BUY and price[i] >= p)
        ask = sum(qty[i] for i in range(n) if side[i] == SELL and price[i] <= p)
        return min(bid, ask), bid - ask

    # every candidate as runs of ticks alike: (first, last, executable volume, bid - ask)
    limits = sorted(set(price))
    runs = []
    for p, above in zip(limits, limits[1:] + [None]):
        runs.append((p, p, *at(p)))
        if above is not None and p + tick < above:  # the ticks strictly between
            runs.append((p + tick, above - tick, *at(p + tick)))
    if not runs or max(r[2] for r in runs) == 0:
        return none

    def ticks(runs: list) -> int:
        return sum((last - first) // tick + 1 for first, last, _, _ in runs)

    # (1) maximum volume
    best_v = max(r[2] for r in runs)
    tied = [r for r in runs if r[2] == best_v]
    rule = Rule.VOLUME
    if ticks(tied) > 1:
        # (2) minimum surplus
        best_s = min(abs(r[3]) for r in tied)
        tied = [r for r in tied if abs(r[3]) == best_s]
        rule = Rule.SURPLUS
    lo, hi = min(r[0] for r in tied), max(r[1] for r in tied)
    if ticks(tied) == 1:
        p = lo
    elif all(r[3] > 0 for r in tied):
        # (3) market pressure: buy surplus everywhere, the highest
        p, rule = hi, Rule.PRESSURE
    elif all(r[3] < 0 for r in tied):
        # (3) market pressure: sell surplus everywhere, the lowest
        p, rule = lo, Rule.PRESSURE
    else:
        # (4) the tied ticks are the range lo..hi: the reference, or its nearer end
        p, rule = min(max(reference, lo), hi), Rule.REFERENCE
    volume, signed = at(p)

    # allocation in price-time priority (equal priorities: by index)
    buys = sorted((i for i in range(n) if side[i] == BUY and price[i] >= p),
                  key=lambda i: (-price[i], priority[i], i))
    sells = sorted((i for i in range(n) if side[i] == SELL and price[i] <= p),
                   key=lambda i: (price[i], priority[i], i))
    filled = [0] * n
    for queue in (buys, sells):
        left = volume
        for i in queue:
            filled[i] = min(qty[i], left)
            left -= filled[i]
    buys = [i for i in buys if filled[i]]
    sells = [i for i in sells if filled[i]]

    # pair greedily
    trades = []
    rem_b = {i: filled[i] for i in buys}
    rem_s = {i: filled[i] for i in sells}
    b = s = 0
    while b < len(buys) and s < len(sells):
        q = min(rem_b[buys[b]], rem_s[sells[s]])
        trades.append((buys[b], sells[s], q))
        rem_b[buys[b]] -= q
        rem_s[sells[s]] -= q
        if rem_b[buys[b]] == 0:
            b += 1
        if rem_s[sells[s]] == 0:
            s += 1

    surplus, surplus_side = (signed, BUY) if signed > 0 else (-signed, SELL) if signed < 0 else (0, 0)
    return UncrossResult(p, volume, surplus, surplus_side, rule, np.array(filled, np.int64),
                         np.array(trades, np.int64).reshape(-1, 3))
