"""Clearing prices for fixed decisions: each instrument's interval of consistent prices,
the tie rule, and the move inside the intervals that keeps accepted blocks in the money.
"""

from __future__ import annotations

import highspy
import numpy as np

from exchange.clearing.dispatch import HourlyBook
from exchange.clearing.highs import INTEGRALITY_TOL, SolveClock, new_highs
from exchange.clearing.model import ClearingError, Side
from exchange.clearing.prices import (
    Accepted,
    Intervals,
    Prices,
    clamp_to_band,
    price_interval,
    surplus,
    tie_price,
    usage,
)


def price_intervals(book: HourlyBook, fills: list[int], accepted: Accepted) -> Intervals:
    """Per instrument, the band-clamped interval of prices consistent with the hourly
    fills (:func:`~exchange.clearing.prices.price_interval`); :class:`ClearingError` if
    one is empty."""
    auction = book.auction
    use = usage(auction, fills, accepted)
    out = {}
    for key in auction.instruments:
        lo, hi, lw, hw = price_interval(auction, book.by_inst.get(key, ()), fills, use)
        blo, bhi = clamp_to_band(auction.products[key[0]], lo, hi)
        if blo > bhi:
            raise ClearingError(f"instrument {key!r}: no consistent price: {lw} needs >= {lo}, {hw} needs <= {hi}")
        out[key] = (blo, bhi)
    return out


def tie_prices(book: HourlyBook, intervals: Intervals) -> Prices:
    """The tie rule in every instrument (:func:`~exchange.clearing.prices.tie_price`)."""
    return {key: tie_price(book.auction.products[key[0]], lo, hi) for key, (lo, hi) in intervals.items()}


def block_prices(book: HourlyBook, intervals: Intervals, default: Prices, accepted: Accepted,
                 clock: SolveClock) -> Prices | None:
    """Prices inside the intervals keeping every accepted block in the money, nearest
    (in ticks, L1) to the tie-rule prices ``default``; ``None`` if there are none.

    A small integer program (totally unimodular: each block's row is a run of
    consecutive hours of one product) solved by HiGHS, read back and re-checked exactly."""
    auction = book.auction
    keys: dict = {}
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        for hour in blk.hours_of(a):
            keys.setdefault((blk.alternatives[a].product, hour), len(keys))
    if not keys:
        return dict(default)
    klist = list(keys)
    n = len(klist)
    # columns: q_i (price in ticks, integer), e+_i, e-_i ; q_i - e+_i + e-_i = default_i/tick
    h = new_highs({"mip_rel_gap": 0.0})
    inf = highspy.kHighsInf
    ticks = [auction.products[k[0]].tick_fen for k in klist]
    lower = [intervals[k][0] // t for k, t in zip(klist, ticks)] + [0.0] * (2 * n)
    upper = [intervals[k][1] // t for k, t in zip(klist, ticks)] + [inf] * (2 * n)
    cost = [0.0] * n + [1.0] * (2 * n)
    h.addVars(3 * n, np.array(lower, dtype=float), np.array(upper, dtype=float))
    h.changeColsCost(3 * n, np.arange(3 * n, dtype=np.int32), np.array(cost))
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n))
    for i, k in enumerate(klist):
        target = default[k] // ticks[i]
        h.addRow(float(target), float(target), 3, np.array([i, n + i, 2 * n + i], dtype=np.int32),
                 np.array([1.0, -1.0, 1.0]))
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        alt = blk.alternatives[a]
        t = auction.products[alt.product].tick_fen
        idx = np.array([keys[(alt.product, hh)] for hh in blk.hours_of(a)], dtype=np.int32)
        total = alt.limit_fen * blk.length
        if blk.side is Side.BUY:  # sum p <= limit * L
            h.addRow(-inf, float(total // t), len(idx), idx, np.ones(len(idx)))
        else:  # sum p >= limit * L
            h.addRow(float(-(-total // t)), inf, len(idx), idx, np.ones(len(idx)))
    clock.run(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = h.getSolution().col_value
    prices = dict(default)
    for i, k in enumerate(klist):
        q = round(x[i])
        if abs(x[i] - q) > INTEGRALITY_TOL:
            return None
        prices[k] = int(q) * ticks[i]
        lo, hi = intervals[k]
        if not lo <= prices[k] <= hi:
            return None
    # exact re-check; fall back to removal if float rounding broke anything
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        if surplus(blk, a, prices) < 0:
            return None
    return prices
