"""The reference uncross: plain Python, the rules of :mod:`exchange.auction` to the letter.

No cleverness: every candidate price is scanned over all orders (O(n * prices)), the
tie steps filter the candidate list one after the other. It is the oracle of the tests
and the baseline of ``bench/auction.py``. Inputs are trusted (validate with
:func:`exchange.auction.uncross` first); they may be lists or arrays of ints.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from exchange.auction.uncross import Rule, UncrossResult
from exchange.schema import Side

BUY, SELL = int(Side.BUY), int(Side.SELL)


def reference_uncross(side: Sequence[int], price: Sequence[int], qty: Sequence[int],
                      priority: Sequence[int], reference: int) -> UncrossResult:
    side = [int(x) for x in side]
    price = [int(x) for x in price]
    qty = [int(x) for x in qty]
    priority = [int(x) for x in priority]
    n = len(side)
    none = UncrossResult(0, 0, 0, 0, Rule.NONE, np.zeros(n, np.int64), np.zeros((0, 3), np.int64))

    # every candidate: (price, executable volume, bid - ask)
    cands = []
    for p in sorted(set(price)):
        bid = sum(qty[i] for i in range(n) if side[i] == BUY and price[i] >= p)
        ask = sum(qty[i] for i in range(n) if side[i] == SELL and price[i] <= p)
        cands.append((p, min(bid, ask), bid - ask))
    if not cands or max(c[1] for c in cands) == 0:
        return none

    # (1) maximum volume
    best_v = max(c[1] for c in cands)
    tied = [c for c in cands if c[1] == best_v]
    rule = Rule.VOLUME
    if len(tied) > 1:
        # (2) minimum surplus
        best_s = min(abs(c[2]) for c in tied)
        tied = [c for c in tied if abs(c[2]) == best_s]
        rule = Rule.SURPLUS
    if len(tied) > 1:
        # (3) market pressure
        if all(c[2] > 0 for c in tied):
            tied = [max(tied)]
            rule = Rule.PRESSURE
        elif all(c[2] < 0 for c in tied):
            tied = [min(tied)]
            rule = Rule.PRESSURE
        else:
            # (4) nearest the reference; equally near: the higher price
            tied = [min(tied, key=lambda c: (abs(c[0] - reference), -c[0]))]
            rule = Rule.REFERENCE
    p, volume, signed = tied[0]

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
