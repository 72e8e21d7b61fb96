"""A naive reference for the day-ahead clearing tests: builders, a brute force over every
block decision, and random small days.

The brute force expands each instrument's hourly orders into single GPUs sorted by limit
(consuming the cheapest ``t`` units = filling asks / dropping bids), so for fixed block
decisions the hourly welfare and the interval of consistent prices (between the last
consumed unit's limit and the next one's, clamped to the band) follow directly. Whether
prices exist that keep the accepted blocks in the money is asked of HiGHS as a plain LP
(interval bounds and one row per block, in ticks): the rows are runs of consecutive
hours, so the matrix is totally unimodular and an LP solution means an integer one. No
code of exchange.clearing is used beyond its types.
"""

from __future__ import annotations

import itertools

import highspy
import numpy as np
from hypothesis import strategies as st

from exchange.clearing import (
    Auction,
    BlockAlternative,
    BlockOrder,
    HourlyOrder,
    ProductSpec,
    Side,
    clear,
    verify,
)

BUY, SELL = Side.BUY, Side.SELL
BAND = ProductSpec(tick_fen=1, band_lo_fen=1, band_hi_fen=1000)


def bid(oid, limit, qty, hour=0, product="r", account="buyer"):
    return HourlyOrder(oid, account, BUY, product, hour, limit, qty)


def ask(oid, limit, qty, hour=0, product="r", account="seller"):
    return HourlyOrder(oid, account, SELL, product, hour, limit, qty)


def block(bid_, side, qty, start, length, alts, min_ratio=100, account="blk"):
    """A block; ``alts`` as ``(product, limit)`` or ``(product, limit, start)``."""
    return BlockOrder(bid_, account, side, start, length, qty,
                      tuple(BlockAlternative(*alt) for alt in alts), min_ratio)


def run(auction, **kw):
    """Clear at gap 0 and verify."""
    result = clear(auction, mip_rel_gap=0.0, **kw)
    verify(auction, result)
    return result


def run_hours(blk: BlockOrder, a: int) -> range:
    """The hours of block ``blk``'s alternative ``a``: from its own start, else the block's."""
    start = blk.alternatives[a].start
    start = blk.start if start is None else start
    return range(start, start + blk.length)


def _units(auction: Auction, key) -> tuple[list[int], int, int]:
    """The instrument's hourly GPUs as sorted limits, its bid value and bid volume."""
    units, bid_value, bids = [], 0, 0
    for o in auction.orders:
        if (o.product, o.hour) == key:
            units += [o.limit_fen] * o.qty
            if o.side is BUY:
                bid_value += o.limit_fen * o.qty
                bids += o.qty
    units.sort()
    return units, bid_value, bids


def hourly(auction: Auction, net: dict) -> tuple[int, dict] | None:
    """Best hourly welfare for the net block demand ``net`` and each instrument's
    interval of consistent prices; ``None`` if the hourly orders cannot absorb it."""
    total, intervals = 0, {}
    for key in auction.instruments:
        units, bid_value, bids = _units(auction, key)
        t = net.get(key, 0) + bids
        if not 0 <= t <= len(units):
            return None
        total += bid_value - sum(units[:t])
        spec = auction.products[key[0]]
        lo = units[t - 1] if t >= 1 else spec.band_lo_fen
        hi = units[t] if t < len(units) else spec.band_hi_fen
        intervals[key] = (max(lo, spec.band_lo_fen), min(hi, spec.band_hi_fen))
    return total, intervals


def prices_exist(auction: Auction, intervals: dict, accepted: list[tuple[BlockOrder, int]]) -> bool:
    """Whether prices on the tick inside ``intervals`` keep every accepted ``(block,
    alternative index)`` in the money."""
    keys = list(auction.instruments)
    ix = {key: i for i, key in enumerate(keys)}
    ticks = [auction.products[k[0]].tick_fen for k in keys]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lower = np.array([-(-intervals[k][0] // t) for k, t in zip(keys, ticks)], dtype=float)
    upper = np.array([intervals[k][1] // t for k, t in zip(keys, ticks)], dtype=float)
    if np.any(lower > upper):
        return False
    h.addVars(len(keys), lower, upper)
    for blk, a in accepted:
        alt = blk.alternatives[a]
        cols = np.array([ix[(alt.product, hh)] for hh in run_hours(blk, a)], dtype=np.int32)
        t = auction.products[alt.product].tick_fen
        total = alt.limit_fen * blk.length
        if blk.side is BUY:
            h.addRow(-highspy.kHighsInf, float(total // t), len(cols), cols, np.ones(len(cols)))
        else:
            h.addRow(float(-(-total // t)), highspy.kHighsInf, len(cols), cols, np.ones(len(cols)))
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def selections(auction: Auction, excluded=frozenset()):
    """Every block decision: per block ``None`` or ``(alternative, fill)``."""
    options = []
    for blk in auction.blocks:
        opts = [None]
        if blk.block_id not in excluded:
            opts += [(a, k) for a in range(len(blk.alternatives)) for k in range(blk.min_fill, blk.qty + 1)]
        options.append(opts)
    return itertools.product(*options)


def evaluate(auction: Auction, combo) -> tuple[int, dict, list] | None:
    """Welfare, intervals and accepted (block, alternative index) pairs of a block decision."""
    net: dict = {}
    value = 0
    accepted = []
    for blk, choice in zip(auction.blocks, combo):
        if choice is None:
            continue
        a, k = choice
        alt = blk.alternatives[a]
        accepted.append((blk, a))
        value += blk.side.sign * alt.limit_fen * blk.length * k
        for h in run_hours(blk, a):
            net[(alt.product, h)] = net.get((alt.product, h), 0) + blk.side.sign * k
    found = hourly(auction, net)
    if found is None:
        return None
    return found[0] + value, found[1], accepted


def brute_force(auction: Auction, excluded=frozenset(), paradox_free: bool = False) -> int:
    """The best welfare over every block decision (without the ``excluded`` blocks);
    with ``paradox_free`` only over those some prices keep every accepted block in the
    money at."""
    scored = []
    for combo in selections(auction, excluded):
        found = evaluate(auction, combo)
        if found is not None:
            scored.append(found)
    scored.sort(key=lambda s: -s[0])
    for welfare, intervals, accepted in scored:
        if not paradox_free or prices_exist(auction, intervals, accepted):
            return welfare
    raise AssertionError("rejecting every block is always possible")


def _shifting_alternatives(draw, n_prod: int, hours: int, start: int, length: int,
                           limits: st.SearchStrategy[int]) -> tuple[BlockAlternative, ...]:
    """One to three alternatives over distinct (product, start) pairs, the block's own
    start given as ``None`` half the time."""
    pairs = [(p, s) for p in range(n_prod) for s in range(hours - length + 1)]
    chosen = draw(st.permutations(pairs))[:draw(st.integers(1, min(3, len(pairs))))]
    return tuple(BlockAlternative(p, draw(limits), None if s == start and draw(st.booleans()) else s)
                 for p, s in chosen)


@st.composite
def small_days(draw, band=BAND, shifting=False):
    """Small random days; ``shifting``: blocks' alternatives may also differ in start
    (up to 4 hours with one product, 3 with two)."""
    n_prod = draw(st.integers(1, 2))
    hours = draw(st.integers(1, (3 if n_prod == 1 else 2) + shifting))
    products = {p: band for p in range(n_prod)}
    orders = []
    for i in range(draw(st.integers(0, 9))):
        orders.append(HourlyOrder(
            f"o{i}", draw(st.integers(0, 2)), draw(st.sampled_from([BUY, SELL])),
            draw(st.integers(0, n_prod - 1)), draw(st.integers(0, hours - 1)),
            draw(st.integers(1, 20)), draw(st.integers(1, 4))))
    blocks = []
    for b in range(draw(st.integers(1, 4))):
        length = draw(st.integers(1, hours))
        start = draw(st.integers(0, hours - length))
        if shifting:
            alts = _shifting_alternatives(draw, n_prod, hours, start, length, st.integers(1, 25))
        else:
            n_alt = draw(st.integers(1, n_prod))
            prods = draw(st.permutations(list(range(n_prod))))[:n_alt]
            alts = tuple(BlockAlternative(p, draw(st.integers(1, 25))) for p in prods)
        blocks.append(BlockOrder(f"b{b}", draw(st.integers(0, 2)), draw(st.sampled_from([BUY, SELL])),
                                 start, length, draw(st.integers(1, 3)), alts,
                                 draw(st.sampled_from([100, 100, 60, 34]))))
    return Auction(products, hours, tuple(orders), tuple(blocks))


@st.composite
def paradox_prone_days(draw, band_hi=500, shifting=False):
    """Few lumpy hourly orders (mostly asks) and two to four blocks (mostly all-or-none
    buys) with limits near them: blocks often push prices against each other.
    ``shifting``: alternatives may also differ in start (up to 4 hours)."""
    n_prod = draw(st.integers(1, 2))
    hours = draw(st.integers(1, 3 + shifting))
    products = {p: ProductSpec(1, 1, band_hi) for p in range(n_prod)}
    orders = []
    for i in range(draw(st.integers(1, 8))):
        side = draw(st.sampled_from([SELL, SELL, BUY]))
        orders.append(HourlyOrder(f"o{i}", draw(st.integers(0, 2)), side, draw(st.integers(0, n_prod - 1)),
                                  draw(st.integers(0, hours - 1)), draw(st.integers(20, 80)),
                                  draw(st.integers(1, 5))))
    blocks = []
    for b in range(draw(st.integers(2, 4))):
        length = draw(st.integers(1, hours))
        start = draw(st.integers(0, hours - length))
        if shifting:
            alts = _shifting_alternatives(draw, n_prod, hours, start, length, st.integers(25, 110))
        else:
            prods = draw(st.permutations(list(range(n_prod))))[:draw(st.integers(1, n_prod))]
            alts = tuple(BlockAlternative(p, draw(st.integers(25, 110))) for p in prods)
        blocks.append(BlockOrder(f"b{b}", draw(st.integers(0, 2)), draw(st.sampled_from([BUY, BUY, BUY, SELL])),
                                 start, length, draw(st.integers(1, 4)), alts,
                                 draw(st.sampled_from([100, 100, 100, 50]))))
    return Auction(products, hours, tuple(orders), tuple(blocks))


@st.composite
def capped_days(draw, shifting=False):
    a = draw(small_days(shifting=shifting))
    capacity = {(o.account, o.product, o.hour): draw(st.integers(0, 3))
                for o in a.orders if o.side is SELL and draw(st.booleans())}
    funds = {acct: draw(st.integers(0, 60)) for acct in range(3) if draw(st.booleans())}
    return Auction(a.products, a.hours, a.orders, a.blocks, capacity, funds)
