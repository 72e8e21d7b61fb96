"""Numba kernels of the call-auction uncrossing: plain functions over int64 arrays.

The rules are in :mod:`exchange.auction`; :mod:`exchange.auction.uncross` is the typed
wrapper in front (it validates, so the kernels trust their inputs) and
:mod:`exchange.auction.reference` the plain Python oracle they are tested against.

Layout: the orders are sorted once, by price ascending (then priority, then index for
:func:`uncross_kernel`; :func:`indicative_kernel` needs no time order). One pass over the
sorted orders folds them into *levels* (one per distinct limit price, ascending):

* ``lvl_price[k]`` the price of level k;
* ``bid[k]``  buy qty with limit >= lvl_price[k]  (a suffix sum over the levels);
* ``ask[k]``  sell qty with limit <= lvl_price[k] (a prefix sum);
* ``start[k]`` where level k starts in the sorted order (``start[m]`` = n).

:func:`_select` scans the levels and the gaps of ticks between them once (every tick is a
candidate, but the ticks of one gap all have the same bid and ask qty, so a gap is
scanned as one segment: O(levels), not O(ticks)); the allocation at the price p walks
the sells from the bottom level up to the last level <= p and the buys from the top
level down to the first level >= p, in price-time priority. Everything after the sort
is O(n).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exchange.schema import Side

_BUY, _SELL = int(Side.BUY), int(Side.SELL)  # plain ints: compile-time constants

# Which step of the rule decided the price (mirrors uncross.Rule).
R_NONE, R_VOLUME, R_SURPLUS, R_PRESSURE, R_REFERENCE = 0, 1, 2, 3, 4

# Columns of a trade row.
T_BUY, T_SELL, T_QTY = 0, 1, 2
T_FIELDS = 3


@njit(cache=True)
def _levels(side, price, qty, order):
    """Fold the orders, sorted by price ascending (``order``), into levels (see above)."""
    n = order.shape[0]
    m = 0
    last = -1
    for j in range(n):
        p = price[order[j]]
        if j == 0 or p != last:
            m += 1
            last = p
    lvl_price = np.empty(m, np.int64)
    bid = np.zeros(m, np.int64)
    ask = np.zeros(m, np.int64)
    start = np.empty(m + 1, np.int64)
    k = -1
    for j in range(n):
        i = order[j]
        p = price[i]
        if k < 0 or p != lvl_price[k]:
            k += 1
            lvl_price[k] = p
            start[k] = j
        if side[i] == _BUY:
            bid[k] += qty[i]
        else:
            ask[k] += qty[i]
    start[m] = n
    for k in range(m - 2, -1, -1):  # bid: qty at or above the level
        bid[k] += bid[k + 1]
    for k in range(1, m):  # ask: qty at or below the level
        ask[k] += ask[k - 1]
    return lvl_price, bid, ask, start


@njit(cache=True)
def _select(lvl_price, bid, ask, reference, tick):
    """The uncrossing price and the rule step that decided it; (-1, R_NONE) when nothing
    crosses. Every tick is a candidate: one ascending scan over the *segments*, each
    level followed by the gap of ticks up to the next level (where bid qty is the next
    level's and ask qty this level's), keeps the running tie sets: ``n1`` ticks with the
    best volume, ``n2`` of those with the least surplus (from ``lo`` to ``hi``: a range
    of consecutive ticks, see :mod:`exchange.auction`), and whether all of them have buy
    surplus / all have sell surplus."""
    m = lvl_price.shape[0]
    best_v = 0
    best_s = 0
    n1 = 0
    n2 = 0
    lo = -1
    hi = -1
    all_buy = False
    all_sell = False
    for j in range(2 * m - 1):
        k = j // 2
        if j % 2 == 0:  # the level k
            b = bid[k]
            a = ask[k]
            first = lvl_price[k]
            last = first
        else:  # the ticks strictly between levels k and k + 1
            b = bid[k + 1]
            a = ask[k]
            first = lvl_price[k] + tick
            last = lvl_price[k + 1] - tick
            if first > last:
                continue
        count = (last - first) // tick + 1
        v = min(b, a)
        if v == 0 or v < best_v:
            continue
        s = abs(b - a)
        if v > best_v:
            best_v = v
            best_s = s
            n1 = count
            fresh = True
        else:
            n1 += count
            if s > best_s:
                continue
            fresh = s < best_s
            best_s = s
        if fresh:
            n2 = count
            lo = first
            all_buy = b > a
            all_sell = b < a
        else:
            n2 += count
            all_buy = all_buy and b > a
            all_sell = all_sell and b < a
        hi = last
    if best_v == 0:
        return -1, R_NONE
    if n1 == 1:
        return hi, R_VOLUME
    if n2 == 1:
        return hi, R_SURPLUS
    if all_buy:
        return hi, R_PRESSURE
    if all_sell:
        return lo, R_PRESSURE
    return min(max(reference, lo), hi), R_REFERENCE


@njit(cache=True)
def _bounds(lvl_price, p):
    """(last level at or below p, first level at or above p): the ask and the bid qty at
    p are ``ask[below]`` and ``bid[above]``."""
    below = np.searchsorted(lvl_price, p, side="right") - 1
    above = np.searchsorted(lvl_price, p, side="left")
    return below, above


@njit(cache=True)
def _outcome(lvl_price, bid, ask, reference, tick):
    """(price, volume, bid - ask surplus, rule) over the levels; zeros and R_NONE when
    nothing crosses."""
    p, rule = _select(lvl_price, bid, ask, reference, tick)
    if p < 0:
        return 0, 0, 0, R_NONE
    below, above = _bounds(lvl_price, p)
    return p, min(bid[above], ask[below]), bid[above] - ask[below], rule


@njit(cache=True)
def indicative_kernel(side, price, qty, reference, tick):
    """(price, volume, bid - ask surplus, rule) of the uncross; (0, 0, 0, R_NONE) when
    nothing crosses. No allocation of fills, so no time order needed."""
    order = np.argsort(price)
    lvl_price, bid, ask, start = _levels(side, price, qty, order)
    return _outcome(lvl_price, bid, ask, reference, tick)


@njit(cache=True)
def uncross_kernel(side, price, qty, priority, reference, tick):
    """(price, volume, bid - ask surplus, rule, filled, trades) of the uncross.

    ``filled[i]`` is order i's executed qty; ``trades`` rows are (buy index, sell index,
    qty): the filled buys in price-time priority paired greedily with the filled sells in
    price-time priority. Equal priorities are ordered by index (stable sorts)."""
    n = side.shape[0]
    filled = np.zeros(n, np.int64)
    by_time = np.argsort(priority, kind="mergesort")
    order = by_time[np.argsort(price[by_time], kind="mergesort")]
    lvl_price, bid, ask, start = _levels(side, price, qty, order)
    p, volume, signed, rule = _outcome(lvl_price, bid, ask, reference, tick)
    if rule == R_NONE:
        return 0, 0, 0, R_NONE, filled, np.empty((0, T_FIELDS), np.int64)
    m = lvl_price.shape[0]
    below, above = _bounds(lvl_price, p)

    # sells: levels 0..below ascending, time order within a level
    sells = np.empty(n, np.int64)
    ns = 0
    left = volume
    for j in range(start[below + 1]):
        if left == 0:
            break
        i = order[j]
        if side[i] == _SELL:
            f = min(qty[i], left)
            filled[i] = f
            left -= f
            sells[ns] = i
            ns += 1

    # buys: levels m-1..above descending, time order within a level
    buys = np.empty(n, np.int64)
    nb = 0
    left = volume
    for lv in range(m - 1, above - 1, -1):
        if left == 0:
            break
        for j in range(start[lv], start[lv + 1]):
            i = order[j]
            if side[i] == _BUY:
                f = min(qty[i], left)
                filled[i] = f
                left -= f
                buys[nb] = i
                nb += 1
                if left == 0:
                    break

    # pair greedily: each trade uses up a buy or a sell (the last one both)
    trades = np.empty((nb + ns - 1, T_FIELDS), np.int64)
    t = 0
    b = 0
    s = 0
    rb = filled[buys[0]]
    rs = filled[sells[0]]
    while b < nb and s < ns:
        q = min(rb, rs)
        trades[t, T_BUY] = buys[b]
        trades[t, T_SELL] = sells[s]
        trades[t, T_QTY] = q
        t += 1
        rb -= q
        rs -= q
        if rb == 0:
            b += 1
            if b < nb:
                rb = filled[buys[b]]
        if rs == 0:
            s += 1
            if s < ns:
                rs = filled[sells[s]]
    return p, volume, signed, rule, filled, trades[:t]


@njit(cache=True)
def book_kernel(bid_price, bid_qty, ask_price, ask_qty, reference, tick):
    """(price, volume, bid - ask surplus, rule) of the uncross of a book given as price
    levels, best first on each side (bids descending, asks ascending, one entry per
    distinct price); (0, 0, 0, R_NONE) when nothing crosses. The same rule as
    :func:`indicative_kernel` (it depends only on the qty at each price), O(levels), for
    the engine, whose book is already sorted."""
    nb = bid_price.shape[0]
    na = ask_price.shape[0]
    lvl_price = np.empty(nb + na, np.int64)
    bid = np.zeros(nb + na, np.int64)
    ask = np.zeros(nb + na, np.int64)
    i = 0  # next ask, ascending
    j = nb - 1  # next bid, ascending
    m = 0
    while i < na or j >= 0:
        if j < 0 or (i < na and ask_price[i] < bid_price[j]):
            lvl_price[m] = ask_price[i]
            ask[m] = ask_qty[i]
            i += 1
        elif i >= na or bid_price[j] < ask_price[i]:
            lvl_price[m] = bid_price[j]
            bid[m] = bid_qty[j]
            j -= 1
        else:
            lvl_price[m] = ask_price[i]
            ask[m] = ask_qty[i]
            bid[m] = bid_qty[j]
            i += 1
            j -= 1
        m += 1
    lvl_price, bid, ask = lvl_price[:m], bid[:m], ask[:m]
    for k in range(m - 2, -1, -1):
        bid[k] += bid[k + 1]
    for k in range(1, m):
        ask[k] += ask[k - 1]
    return _outcome(lvl_price, bid, ask, reference, tick)
