"""Call-auction uncrossing (:mod:`exchange.auction`): the numba kernels against the plain
Python reference, and both against hand-worked answers and invariants.

* hand cases: a textbook book (unique maximum volume), each tie step on its own (minimum
  surplus, buy pressure, sell pressure, the reference price inside the range or the
  range's nearer end, a price between the limits), the issue-16 reproducers, no cross,
  market orders at the band edges, allocation by price then time;
* :func:`scan_every_tick`: the price rule by brute force, every tick of the band a
  candidate (the oracle of the price fields; it also asserts that the ticks left for
  step 4 form one range);
* :func:`check_invariants`: quantities balance, no order filled through its limit, the
  short side filled completely, strictly better orders filled completely unless step 4
  decided, fills a price-time prefix on each side, trades consistent with the fills;
* differential: hypothesis books (few price levels with gaps, small quantities, repeated
  priorities, so ties are common) and seeded random books: price, volume, surplus,
  rule, every fill and every trade equal between :func:`uncross` and
  :func:`reference_uncross`, the price fields equal to :func:`scan_every_tick`'s,
  :func:`indicative` equal to the uncross's price fields;
* validation: each malformed input raises ValueError naming what to fix.

The ``nojit`` ones also run under ``NUMBA_DISABLE_JIT=1`` (smaller example counts).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from exchange.auction import (
    TRADE_BUY,
    TRADE_QTY,
    TRADE_SELL,
    Indicative,
    Rule,
    UncrossResult,
    indicative,
    reference_uncross,
    uncross,
)

BUY, SELL = 1, 2
TICK = 5
NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
nojit = pytest.mark.nojit


def cols(rows):
    """rows of (side, price, qty, priority) -> the four int64 columns."""
    a = np.array(rows, np.int64).reshape(-1, 4)
    return a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy()


def run(rows, reference, tick=1) -> UncrossResult:
    """uncross the book, check it against the reference, the every-tick scan, indicative
    and the invariants."""
    side, price, qty, prio = cols(rows)
    got = uncross(side, price, qty, prio, reference, tick)
    want = reference_uncross(side, price, qty, prio, reference, tick)
    assert_same(got, want)
    assert got.indicative == scan_every_tick(side, price, qty, reference, tick)
    assert indicative(side, price, qty, reference, tick) == got.indicative
    check_invariants(side, price, qty, prio, got)
    return got


def scan_every_tick(side, price, qty, reference, tick, band=None) -> Indicative:
    """The price rule of :mod:`exchange.auction` by brute force: every tick of the band
    (default: one tick below the lowest limit or reference to one above the highest) is
    a candidate, its bid and ask qty summed over all orders, the steps applied literally."""
    side, price, qty = list(side), list(price), list(qty)
    lo, hi = band or (max(tick, min(price + [reference]) - tick), max(price + [reference]) + tick)
    cands = []  # (price, volume, bid - ask)
    for p in range(lo, hi + 1, tick):
        bid = sum(q for s, lim, q in zip(side, price, qty) if s == BUY and lim >= p)
        ask = sum(q for s, lim, q in zip(side, price, qty) if s == SELL and lim <= p)
        cands.append((p, min(bid, ask), bid - ask))
    best_v = max(v for _, v, _ in cands)
    if best_v == 0:
        return Indicative(0, 0, 0, 0, Rule.NONE)
    tied = [c for c in cands if c[1] == best_v]  # (1)
    rule = Rule.VOLUME
    if len(tied) > 1:  # (2)
        best_s = min(abs(d) for _, _, d in tied)
        tied = [c for c in tied if abs(c[2]) == best_s]
        rule = Rule.SURPLUS
    if len(tied) > 1:
        if all(d > 0 for _, _, d in tied):  # (3)
            tied, rule = [max(tied)], Rule.PRESSURE
        elif all(d < 0 for _, _, d in tied):
            tied, rule = [min(tied)], Rule.PRESSURE
        else:  # (4) a range remains: the reference if inside, else the nearer end
            first, last = tied[0][0], tied[-1][0]
            assert [c[0] for c in tied] == list(range(first, last + 1, tick)), "not one range"
            p = reference if first <= reference <= last else min((first, last), key=lambda e: abs(e - reference))
            tied, rule = [c for c in tied if c[0] == p], Rule.REFERENCE
    p, volume, signed = tied[0]
    return Indicative(p, volume, abs(signed), BUY if signed > 0 else SELL if signed < 0 else 0, rule)


def assert_same(got: UncrossResult, want: UncrossResult) -> None:
    assert got.indicative == want.indicative
    assert got.filled.dtype == np.int64 and got.trades.dtype == np.int64
    assert got.trades.shape[1:] == (3,)
    np.testing.assert_array_equal(got.filled, want.filled)
    np.testing.assert_array_equal(got.trades, want.trades)


def check_invariants(side, price, qty, prio, r: UncrossResult) -> None:
    n = len(side)
    buy, sell = side == BUY, side == SELL
    assert r.filled.shape == (n,)
    assert (r.filled >= 0).all() and (r.filled <= qty).all()
    if r.rule == Rule.NONE:
        assert (r.price, r.volume, r.surplus, r.surplus_side) == (0, 0, 0, 0)
        assert not r.filled.any() and len(r.trades) == 0
        # nothing crosses at any limit price
        for p in set(price.tolist()):
            assert min(qty[buy & (price >= p)].sum(), qty[sell & (price <= p)].sum()) == 0
        return
    p = r.price
    bid = int(qty[buy & (price >= p)].sum())
    ask = int(qty[sell & (price <= p)].sum())
    assert r.volume == min(bid, ask) > 0
    assert r.surplus == abs(bid - ask)
    assert r.surplus_side == (BUY if bid > ask else SELL if bid < ask else 0)
    # balance
    assert r.filled[buy].sum() == r.filled[sell].sum() == r.volume
    # no order filled through its limit
    assert not r.filled[buy & (price < p)].any()
    assert not r.filled[sell & (price > p)].any()
    # the short side fills completely
    if bid <= ask:
        np.testing.assert_array_equal(r.filled[buy & (price >= p)], qty[buy & (price >= p)])
    if ask <= bid:
        np.testing.assert_array_equal(r.filled[sell & (price <= p)], qty[sell & (price <= p)])
    # strictly better orders fill completely, unless step 4 chose among mixed surpluses
    if r.rule != Rule.REFERENCE or r.surplus == 0:
        better = (buy & (price > p)) | (sell & (price < p))
        np.testing.assert_array_equal(r.filled[better], qty[better])
    # each side: in price-time order, full fills, then at most one partial, then nothing
    for s, sign in ((BUY, -1), (SELL, 1)):
        idx = sorted(np.flatnonzero(side == s), key=lambda i: (sign * price[i], prio[i], i))
        state = 0  # 0 full, 1 after a partial / empty
        for i in idx:
            if state == 0:
                if r.filled[i] < qty[i]:
                    state = 1
            else:
                assert r.filled[i] == 0, f"order {i} filled after a better one was left short"
    # trades: all at the one price, consistent with the fills, greedy (each trade but the
    # last exhausts its buy or its sell, so there are at most buyers + sellers - 1)
    t = r.trades
    assert (t[:, TRADE_QTY] > 0).all()
    assert (side[t[:, TRADE_BUY]] == BUY).all() and (side[t[:, TRADE_SELL]] == SELL).all()
    traded = np.zeros(n, np.int64)
    np.add.at(traded, t[:, TRADE_BUY], t[:, TRADE_QTY])
    np.add.at(traded, t[:, TRADE_SELL], t[:, TRADE_QTY])
    np.testing.assert_array_equal(traded, r.filled)
    assert len(t) <= np.count_nonzero(r.filled) - 1


# ------------------------------------------------------------------ hand cases

TEXTBOOK = [  # side, price, qty, priority (index order != time order on purpose)
    (BUY, 105, 30, 1),   # 0
    (SELL, 100, 20, 2),  # 1
    (BUY, 103, 25, 7),   # 2
    (SELL, 103, 25, 4),  # 3
    (BUY, 104, 20, 5),   # 4
    (BUY, 103, 15, 3),   # 5
    (SELL, 102, 30, 6),  # 6
    (BUY, 101, 10, 8),   # 7
    (SELL, 105, 40, 9),  # 8
]
# price  bid  ask  volume
#  100   100   20   20
#  101   100   20   20
#  102    90   50   50
#  103    90   75   75  <- unique maximum, buy surplus 15
#  104    50   75   50
#  105    30  115   30


@nojit
def test_textbook_maximum_volume():
    r = run(TEXTBOOK, reference=100)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (103, 75, 15, BUY, Rule.VOLUME)
    # sells all filled (short side); buys: 105, 104, then at 103 the earlier (5) fully and
    # the later (2) for the rest; the buy at 101 and the sell at 105 get nothing
    assert r.filled.tolist() == [30, 20, 10, 25, 20, 15, 30, 0, 0]
    assert r.trades.tolist() == [[0, 1, 20], [0, 6, 10], [4, 6, 20], [5, 3, 15], [2, 3, 10]]


@nojit
def test_textbook_reference_does_not_matter_when_volume_decides():
    for ref in (1, 100, 103, 105, 10_000):
        assert run(TEXTBOOK, reference=ref).price == 103


@nojit
def test_minimum_surplus():
    # 10: bid 13 ask 10 -> 10, surplus +3;  11: bid 10 ask 11 -> 10, surplus -1
    rows = [(BUY, 11, 10, 1), (BUY, 10, 3, 2), (SELL, 10, 10, 3), (SELL, 11, 1, 4)]
    for ref in (10, 11, 50):
        r = run(rows, reference=ref)
        assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (11, 10, 1, SELL, Rule.SURPLUS)
    assert r.filled.tolist() == [10, 0, 10, 0]
    # mirrored: 10: bid 11 ask 10 -> +1;  11: bid 10 ask 13 -> -3; the lower one wins
    rows = [(BUY, 11, 10, 1), (BUY, 10, 1, 2), (SELL, 10, 10, 3), (SELL, 11, 3, 4)]
    r = run(rows, reference=11)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (10, 10, 1, BUY, Rule.SURPLUS)


@nojit
def test_buy_pressure_takes_the_highest():
    # 10 and 12: bid 10 ask 5 -> volume 5, buy surplus 5 at both; reference favours 10
    rows = [(BUY, 12, 10, 1), (SELL, 10, 5, 2)]
    r = run(rows, reference=10)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (12, 5, 5, BUY, Rule.PRESSURE)
    assert r.trades.tolist() == [[0, 1, 5]]


@nojit
def test_sell_pressure_takes_the_lowest():
    rows = [(BUY, 12, 5, 1), (SELL, 10, 10, 2)]
    r = run(rows, reference=12)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (10, 5, 5, SELL, Rule.PRESSURE)


@nojit
def test_pressure_ignores_the_reference_and_other_volumes():
    # 8 and 9 cross less; 10 and 12 tie (volume 5, buy surplus 5): the highest, 12
    rows = [(BUY, 12, 10, 1), (SELL, 10, 3, 2), (SELL, 8, 1, 3), (SELL, 9, 1, 4), (BUY, 6, 1, 5)]
    for ref in (5, 10, 11, 20):
        r = run(rows, reference=ref)
        assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (12, 5, 5, BUY, Rule.PRESSURE)


@nojit
def test_reference_price_no_surplus():
    # 10..15: bid 10 ask 10 at every tick; 5 and 20 do not cross
    rows = [(BUY, 15, 10, 1), (SELL, 10, 10, 2), (SELL, 20, 1, 3), (BUY, 5, 1, 4)]
    for ref, want in ((5, 10), (10, 10), (12, 12), (13, 13), (15, 15), (100, 15)):
        r = run(rows, reference=ref)
        assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (want, 10, 0, 0, Rule.REFERENCE)


@nojit
@pytest.mark.parametrize("buy, sell, reference, tick", [(1900, 1700, 1800, 1), (1055, 1045, 1050, 5)])
def test_issue_16_the_reference_inside_the_range_is_the_price(buy, sell, reference, tick):
    """Issue 16 item 4: every tick between the limits trades the same with no surplus;
    the price was the buy limit, it is the reference."""
    q = 10 if buy == 1900 else 1
    r = run([(BUY, buy, q, 1), (SELL, sell, q, 2)], reference=reference, tick=tick)
    assert (r.price, r.volume, r.surplus, r.rule) == (reference, q, 0, Rule.REFERENCE)
    assert r.trades.tolist() == [[0, 1, q]]


@nojit
def test_reference_outside_the_range_takes_the_nearer_end():
    rows = [(BUY, 1900, 10, 1), (SELL, 1700, 10, 2)]
    assert run(rows, reference=2000, tick=5).price == 1900
    assert run(rows, reference=1000, tick=5).price == 1700
    rows = [(BUY, 14, 10, 1), (SELL, 10, 10, 2), (BUY, 12, 1, 3), (SELL, 12, 1, 4)]
    # 10, 11: bid 11 ask 10; 12: bid 11 ask 11; 13, 14: bid 10 ask 11  -> 12 has volume 11
    assert run(rows, reference=13).price == 12


@nojit
def test_a_price_between_the_limits_can_win_on_surplus():
    # 5..10: bid 10 ask 5 (surplus +5); 11..20: bid 5 ask 5 (none): the range 11..20
    rows = [(BUY, 10, 5, 1), (BUY, 20, 5, 2), (SELL, 5, 5, 3)]
    for ref, want in ((8, 11), (15, 15), (30, 20)):
        r = run(rows, reference=ref)
        assert (r.price, r.volume, r.surplus, r.rule) == (want, 5, 0, Rule.REFERENCE)
        assert r.filled.tolist() == [0, 5, 5]
    # 10: +3, 11: 0, 12: -3 (volume 5 everywhere): 11, which no order names, on surplus
    rows = [(BUY, 12, 5, 1), (BUY, 10, 3, 2), (SELL, 10, 5, 3), (SELL, 12, 3, 4)]
    r = run(rows, reference=10)
    assert (r.price, r.volume, r.surplus, r.rule) == (11, 5, 0, Rule.SURPLUS)


@nojit
def test_reference_with_mixed_surplus_may_skip_a_better_order():
    # documented exception: 10 (+1), 11 (+1), 12 (-1) all volume 5; mixed -> range 10..12;
    # the buy at 11 is strictly better than 10 and gets nothing
    rows = [(BUY, 12, 5, 1), (BUY, 11, 1, 2), (SELL, 10, 5, 3), (SELL, 12, 1, 4)]
    r = run(rows, reference=10)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (10, 5, 1, BUY, Rule.REFERENCE)
    assert r.filled.tolist() == [5, 0, 5, 0]
    assert run(rows, reference=12).price == 12
    assert run(rows, reference=11).price == 11


@nojit
@pytest.mark.parametrize("rows", [
    [],
    [(BUY, 9, 5, 1), (SELL, 10, 5, 2)],
    [(BUY, 10, 5, 1), (BUY, 12, 1, 2)],
    [(SELL, 10, 5, 1)],
])
def test_no_cross(rows):
    r = run(rows, reference=10)
    assert r.rule == Rule.NONE and not r.crossed
    assert (r.price, r.volume, r.surplus, r.surplus_side) == (0, 0, 0, 0)
    assert r.filled.tolist() == [0] * len(rows) and r.trades.shape == (0, 3)


@nojit
def test_touching_limits_cross():
    r = run([(BUY, 10, 5, 1), (SELL, 10, 3, 2)], reference=1)
    assert (r.price, r.volume, r.surplus, r.surplus_side, r.rule) == (10, 3, 2, BUY, Rule.VOLUME)


@nojit
def test_market_orders_at_the_band_edges():
    lo, hi = 100, 200
    # market only: every tick of the band ties with no surplus: the reference
    assert run([(BUY, hi, 10, 1), (SELL, lo, 10, 2)], reference=150).price == 150
    # market buys against limit sells: the market buy fills first
    rows = [(BUY, 160, 5, 1), (BUY, hi, 5, 2), (SELL, 150, 8, 3), (SELL, lo, 2, 4)]
    # 100..149: bid 10 ask 2; 150..160: bid 10 ask 10 -> 10; 161..200: bid 5 ask 10
    r = run(rows, reference=155)
    assert (r.price, r.volume, r.rule) == (155, 10, Rule.REFERENCE)
    assert run(rows, reference=180).price == 160


@nojit
def test_allocation_price_then_time():
    # sells short: buys at 12 (two, time order 2 then 1 by priority), 11 (earliest of all)
    rows = [
        (BUY, 11, 4, 1),   # 0  earliest, but worse price
        (BUY, 12, 3, 30),  # 1  later at 12
        (BUY, 12, 3, 20),  # 2  earlier at 12
        (BUY, 13, 2, 40),  # 3  best price, latest
        (SELL, 11, 3, 5),  # 4
        (SELL, 10, 3, 6),  # 5
        (SELL, 11, 1, 4),  # 6  earlier at 11
    ]
    # 10: bid 12 ask 3; 11: bid 12 ask 7 -> 7; 12: bid 8 ask 7 -> 7 (+1); 13: bid 2
    r = run(rows, reference=11)
    assert (r.price, r.volume, r.surplus_side, r.rule) == (12, 7, BUY, Rule.SURPLUS)
    # buys: 13 (2), 12 earlier (3), 12 later (2 of 3), 11 nothing
    assert r.filled.tolist() == [0, 2, 3, 2, 3, 3, 1]
    # sells by price then time: 10 (5), 11 prio 4 (6), 11 prio 5 (4)
    assert r.trades.tolist() == [[3, 5, 2], [2, 5, 1], [2, 6, 1], [2, 4, 1], [1, 4, 2]]


@nojit
def test_equal_priorities_go_by_index():
    rows = [(SELL, 10, 5, 7), (SELL, 10, 5, 7), (BUY, 10, 6, 1)]
    r = run(rows, reference=10)
    assert r.filled.tolist() == [5, 1, 6]
    assert r.trades.tolist() == [[2, 0, 5], [2, 1, 1]]


@nojit
def test_accepts_lists_and_other_int_dtypes():
    side, price, qty, prio = cols(TEXTBOOK)
    a = uncross(side.tolist(), price.astype(np.int32), qty.astype(np.uint16), prio.tolist(), np.int64(100), 1)
    b = uncross(side, price, qty, prio, 100, 1)
    assert_same(a, b)
    assert isinstance(a.price, int) and isinstance(a.volume, int)


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("change, message", [
    (dict(side=[1, 3]), r"side\[1\] = 3: must be 1 \(BUY\) or 2 \(SELL\)"),
    (dict(price=[10, 0]), r"price\[1\] = 0 fen is out of range.*band edge"),
    (dict(price=[10, 12]), r"price\[1\] = 12 fen is not on the tick 5"),
    (dict(price=[10.0, 15.0]), r"price must hold integers"),
    (dict(qty=[1, 0]), r"qty\[1\] = 0 must be a positive number of GPUs"),
    (dict(qty=[1, -4]), r"qty\[1\] = -4"),
    (dict(qty=[1, 2, 3]), r"one entry per order: lengths side 2, price 2, qty 3, priority 2"),
    (dict(priority=[[1, 2]]), r"priority must be one-dimensional"),
    (dict(reference=12), r"reference = 12 fen is not on the tick 5"),
    (dict(reference=0), r"reference = 0 fen is out of range"),
    (dict(reference=10.0), r"reference must be an integer"),
    (dict(tick=0), r"tick = 0 must be a positive"),
    (dict(tick=True), r"tick must be an integer"),
])
def test_validation(change, message):
    args = dict(side=[1, 2], price=[10, 15], qty=[1, 2], priority=[1, 2], reference=10, tick=TICK)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        uncross(**args)
    if "priority" not in change and len(args["qty"]) == 2:
        kw = {k: v for k, v in args.items() if k != "priority"}
        with pytest.raises(ValueError, match=message):
            indicative(**kw)


# ------------------------------------------------------------------ differential

@st.composite
def books(draw, max_orders=24):
    """(rows, reference, band): limits on ``levels`` prices ``spread`` ticks apart (so
    gaps of ticks no order names), the reference anywhere in the band."""
    n = draw(st.integers(0, max_orders))
    levels = draw(st.integers(1, 8))
    spread = draw(st.integers(1, 4))
    base = draw(st.integers(1, 40))
    rows = []
    for _ in range(n):
        rows.append((
            draw(st.sampled_from([BUY, SELL])),
            TICK * (base + spread * draw(st.integers(0, levels - 1))),
            draw(st.integers(1, 6)),
            draw(st.integers(0, n)),  # repeats on purpose
        ))
    band = (TICK, TICK * (base + spread * levels + 3))
    reference = draw(st.integers(1, band[1] // TICK)) * TICK
    return rows, reference, band


def _differential(rows, reference, band=None):
    side, price, qty, prio = cols(rows)
    got = uncross(side, price, qty, prio, reference, TICK)
    want = reference_uncross(side, price, qty, prio, reference, TICK)
    assert_same(got, want)
    assert got.indicative == scan_every_tick(side, price, qty, reference, TICK, band)
    assert indicative(side, price, qty, reference, TICK) == got.indicative
    check_invariants(side, price, qty, prio, got)
    check_invariants(side, price, qty, prio, want)
    return got


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_differential_hypothesis(book):
    _differential(*book)


@nojit
@settings(max_examples=40 if NOJIT else 150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(books(max_orders=10))
def test_differential_hypothesis_small(book):
    _differential(*book)


@nojit
def test_differential_seeded_every_rule():
    """Seeded random books of every size: all must agree, and every rule must occur."""
    rng = np.random.default_rng(20240607)
    seen = {r: 0 for r in Rule}
    for case in range(150 if NOJIT else 1500):
        n = int(rng.integers(0, 6 if case % 3 else 60))
        levels = int(rng.integers(1, 10))
        spread = int(rng.integers(1, 4))
        rows = [(int(rng.integers(1, 3)), TICK * (20 + spread * int(rng.integers(0, levels))),
                 int(rng.integers(1, 8 if case % 2 else 200)), int(rng.integers(0, 2 * n + 1)))
                for _ in range(n)]
        ref = TICK * (20 + int(rng.integers(-2, spread * levels + 2)))
        seen[_differential(rows, ref).rule] += 1
    assert all(seen.values()), seen


def test_large_book_against_reference():
    rng = np.random.default_rng(7)
    n = 3000
    side = rng.integers(1, 3, n)
    price = TICK * (1000 + np.round(rng.normal(0, 20, n)).astype(np.int64) + np.where(side == BUY, 3, -3))
    qty = rng.integers(1, 100, n)
    prio = rng.permutation(n)
    got = uncross(side, price, qty, prio, TICK * 1000, TICK)
    assert got.crossed and got.volume > 1000
    assert_same(got, reference_uncross(side, price, qty, prio, TICK * 1000, TICK))
    assert got.indicative == scan_every_tick(side, price, qty, TICK * 1000, TICK)
    check_invariants(side, price, qty, prio, got)


def test_kernel_is_compiled():
    if NOJIT:
        pytest.skip("NUMBA_DISABLE_JIT=1")
    from exchange.auction import _uncross
    assert hasattr(_uncross.uncross_kernel, "signatures")
    uncross(*cols(TEXTBOOK), 100, 1)
    assert _uncross.uncross_kernel.signatures


def test_result_types():
    r = uncross(*cols(TEXTBOOK), 100, 1)
    assert isinstance(r, UncrossResult) and isinstance(r.indicative, Indicative)
    assert isinstance(r.rule, Rule) and r.crossed
