"""Unit tests of the market rules of :mod:`exchange.schema.rules`, run against every
engine (fixture ``engine_cls``). Every expected event is given field by field; fields
not named are asserted to be 0. Accounts 1, 2 are buyers, 3, 4 providers unless said.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from exchange.engine.api import EngineStateError
from exchange.engine.reference import ReferenceEngine
from exchange.schema import CLORD_LIMIT, EVENT_DTYPE, InstrumentState
from tests.helpers import (
    BIG,
    BUY,
    CANCEL_BOTH,
    CANCEL_NEWEST,
    CANCEL_OLDEST,
    CONFIG,
    DECREMENT,
    EV,
    FOK,
    GATE_TS,
    GTD,
    I0,
    I1,
    I2,
    IOC,
    LATER_SLOT_TS,
    LIMIT,
    MARKET,
    SELL,
    T0,
    K,
    Market,
    O,
    R,
    accepted,
    ack,
    assert_events,
    batch,
    buy,
    cancel,
    cancelled,
    close_gate,
    cmd,
    deposit_capacity,
    deposit_funds,
    done,
    expired,
    halt,
    list_instrument,
    make_engine,
    mass_cancel,
    new_order,
    rejected,
    replace,
    replaced,
    resume,
    rows,
    sell,
    set_credit,
    snapshot,
    start_call,
    timer,
    trade,
    uncross,
    withdraw_capacity,
    withdraw_funds,
)

nojit = pytest.mark.nojit
POST_ONLY = 1


# ============================================================================ basics

@nojit
def test_accept_and_rest_full_row(market: Market) -> None:
    m = market
    m.fund(1, 10_000)
    events = m.buy(1, 500, 10, 7)
    assert events.dtype == EVENT_DTYPE
    assert rows(events) == [dict(
        seq=m.seq - 1, ts=T0, kind=int(EV.ACCEPTED), reason=0, account=1, instrument=I0,
        order_id=1, clord=7, side=BUY, price=500, qty=10, leaves=10, filled=0,
        contra_order_id=0, contra_account=0, contra_clord=0, contra_leaves=0, trade_id=0,
    )]
    assert m.levels() == ([(500, 10, 1)], [])
    assert m.money(1) == (10_000, 0, 5_000)
    assert m.orders() == [(1, 7, 500, 10, 0)]
    assert m.engine.book(I0).state == InstrumentState.OPEN


@nojit
def test_trade_at_resting_price_and_reservation_released_at_trade_price(market: Market) -> None:
    m = market
    m.fund(1, 100_000)
    m.provide(3, I0, 50)
    s = O(3, 1, 11, SELL, 500)
    assert_events(m.sell(3, 500, 10, 11), [accepted(s, 10)])
    assert m.pos(3) == (50, 0, 0, 10)

    b = O(1, 2, 21, BUY, 600)
    assert_events(m.buy(1, 600, 4, 21), [
        accepted(b, 4),
        trade(b, s, price=500, qty=4, leaves=0, filled=4, contra_leaves=6, trade_id=1),
        done(b, 4, filled=4),
    ])
    assert m.money(1) == (98_000, 0, 0)  # paid 500 * 4, not the 600 limit
    assert m.money(3) == (2_000, 0, 0)
    assert m.pos(1) == (0, 4, 0, 0)
    assert m.pos(3) == (50, 0, 4, 6)

    # the rest of a bigger order keeps its reservation at its own limit
    b2 = O(1, 3, 22, BUY, 600)
    assert_events(m.buy(1, 600, 10, 22), [
        accepted(b2, 10),
        trade(b2, s, price=500, qty=6, leaves=4, filled=6, contra_leaves=0, trade_id=2),
        done(s, 10, filled=10),
    ])
    assert m.money(1) == (95_000, 0, 2_400)
    assert m.money(3) == (5_000, 0, 0)
    assert m.pos(3) == (50, 0, 10, 0)
    assert m.levels() == ([(600, 4, 1)], [])


@nojit
def test_price_time_priority_across_and_within_levels(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.provide(4)
    s1, s2, s3 = O(3, 1, 1, SELL, 505), O(4, 2, 1, SELL, 500), O(3, 3, 2, SELL, 500)
    m.sell(3, 505, 5, 1)
    m.sell(4, 500, 3, 1)
    m.sell(3, 500, 4, 2)
    assert m.levels() == ([], [(500, 7, 2), (505, 5, 1)])

    b = O(1, 4, 1, BUY, 505)
    assert_events(m.buy(1, 505, 10, 1), [
        accepted(b, 10),
        trade(b, s2, price=500, qty=3, leaves=7, filled=3, contra_leaves=0, trade_id=1),
        done(s2, 3, filled=3),
        trade(b, s3, price=500, qty=4, leaves=3, filled=7, contra_leaves=0, trade_id=2),
        done(s3, 4, filled=4),
        trade(b, s1, price=505, qty=3, leaves=0, filled=10, contra_leaves=2, trade_id=3),
        done(b, 10, filled=10),
    ])
    assert m.levels() == ([], [(505, 2, 1)])
    assert m.money(1) == (BIG - 7 * 500 - 3 * 505, 0, 0)
    assert m.money(3) == (4 * 500 + 3 * 505, 0, 0)
    assert m.money(4) == (3 * 500, 0, 0)


@nojit
def test_sell_sweeps_bids_highest_first(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(3)
    b1, b2, b3 = O(1, 1, 1, BUY, 490), O(2, 2, 1, BUY, 495), O(1, 3, 2, BUY, 495)
    m.buy(1, 490, 5, 1)
    m.buy(2, 495, 2, 1)
    m.buy(1, 495, 2, 2)
    assert m.levels() == ([(495, 4, 2), (490, 5, 1)], [])
    s = O(3, 4, 1, SELL, 490)
    assert_events(m.sell(3, 490, 6, 1), [
        accepted(s, 6),
        trade(s, b2, price=495, qty=2, leaves=4, filled=2, contra_leaves=0, trade_id=1),
        done(b2, 2, filled=2),
        trade(s, b3, price=495, qty=2, leaves=2, filled=4, contra_leaves=0, trade_id=2),
        done(b3, 2, filled=2),
        trade(s, b1, price=490, qty=2, leaves=0, filled=6, contra_leaves=3, trade_id=3),
        done(s, 6, filled=6),
    ])
    assert m.levels() == ([(490, 3, 1)], [])
    assert m.money(1) == (BIG - 990 - 980, 0, 490 * 3)
    assert m.pos(3) == (100, 0, 6, 0)


@nojit
def test_partial_fills_both_ways(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.provide(4)
    s = O(3, 1, 1, SELL, 500)
    m.sell(3, 500, 4, 1)
    b = O(1, 2, 1, BUY, 500)
    assert_events(m.buy(1, 500, 10, 1), [
        accepted(b, 10),
        trade(b, s, price=500, qty=4, leaves=6, filled=4, contra_leaves=0, trade_id=1),
        done(s, 4, filled=4),
    ])
    assert m.levels() == ([(500, 6, 1)], [])
    assert m.orders(1) == [(2, 1, 500, 6, 4)]
    assert m.money(1) == (BIG - 2_000, 0, 3_000)

    s2 = O(4, 3, 1, SELL, 495)
    assert_events(m.sell(4, 495, 10, 1), [
        accepted(s2, 10),
        trade(s2, b, price=500, qty=6, leaves=4, filled=6, contra_leaves=0, trade_id=2),
        done(b, 10, filled=10),
    ])
    assert m.levels() == ([], [(495, 4, 1)])
    assert m.pos(4) == (100, 0, 6, 4)
    assert m.money(1) == (BIG - 5_000, 0, 0)


# ============================================================================ market / IOC / FOK

@nojit
def test_market_buy_sweeps_within_band_and_never_rests(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.provide(4)
    s1, s2 = O(3, 1, 1, SELL, 500), O(4, 2, 1, SELL, 1000)
    m.sell(3, 500, 2, 1)
    m.sell(4, 1000, 3, 1)  # at band_hi: still reachable by a market buy
    b = O(1, 3, 1, BUY, 1000)  # a market buy's limit is band_hi
    assert_events(m.market_buy(1, 10, 1), [
        accepted(b, 10),
        trade(b, s1, price=500, qty=2, leaves=8, filled=2, contra_leaves=0, trade_id=1),
        done(s1, 2, filled=2),
        trade(b, s2, price=1000, qty=3, leaves=5, filled=5, contra_leaves=0, trade_id=2),
        done(s2, 3, filled=3),
        cancelled(b, R.IOC_REMAINDER, 5, leaves=0, filled=5),
        done(b, 10, filled=5),
    ])
    assert m.levels() == ([], [])
    assert m.money(1) == (BIG - 1_000 - 3_000, 0, 0)


@nojit
def test_market_buy_on_empty_book_and_funds_checked_at_band_edge(market: Market) -> None:
    m = market
    m.fund(1, 9_999)
    m.provide(3)
    m.sell(3, 100, 10, 1)
    # limit is band_hi = 1000: 10 * 1000 > 9_999 even though the ask is at 100
    assert_events(m.market_buy(1, 10, 1), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, instrument=I0, side=BUY, price=0, qty=10, clord=1),
    ])
    m.fund(1, 1)
    b = O(1, 2, 1, BUY, 1000)
    s = O(3, 1, 1, SELL, 100)
    assert_events(m.market_buy(1, 10, 1), [
        accepted(b, 10),
        trade(b, s, price=100, qty=10, leaves=0, filled=10, contra_leaves=0, trade_id=1),
        done(s, 10, filled=10),
        done(b, 10, filled=10),
    ])
    assert m.money(1) == (10_000 - 1_000, 0, 0)
    b2 = O(1, 3, 2, BUY, 1000)
    assert_events(m.market_buy(1, 3, 2), [
        accepted(b2, 3),
        cancelled(b2, R.IOC_REMAINDER, 3),
        done(b2, 3),
    ])
    assert m.money(1) == (9_000, 0, 0)


@nojit
def test_market_sell_fok_limit_is_band_lo(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    b1, b2 = O(1, 1, 1, BUY, 100), O(1, 2, 2, BUY, 300)
    m.buy(1, 100, 4, 1)
    m.buy(1, 300, 2, 2)
    s = O(3, 3, 1, SELL, 100)
    assert_events(m.market_sell(3, 5, 1, tif=FOK), [
        accepted(s, 5),
        trade(s, b2, price=300, qty=2, leaves=3, filled=2, contra_leaves=0, trade_id=1),
        done(b2, 2, filled=2),
        trade(s, b1, price=100, qty=3, leaves=0, filled=5, contra_leaves=1, trade_id=2),
        done(s, 5, filled=5),
    ])
    s2 = O(3, 4, 2, SELL, 100)
    assert_events(m.market_sell(3, 2, 2, tif=FOK), [
        accepted(s2, 2),
        cancelled(s2, R.FOK_UNFILLABLE, 2),
        done(s2, 2),
    ])
    assert m.pos(3) == (100, 0, 5, 0)
    assert m.levels() == ([(100, 1, 1)], [])


@nojit
def test_ioc_remainder_cancelled(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    s = O(3, 1, 1, SELL, 500)
    m.sell(3, 500, 4, 1)
    b = O(1, 2, 1, BUY, 505)
    assert_events(m.buy(1, 505, 10, 1, tif=IOC), [
        accepted(b, 10),
        trade(b, s, price=500, qty=4, leaves=6, filled=4, contra_leaves=0, trade_id=1),
        done(s, 4, filled=4),
        cancelled(b, R.IOC_REMAINDER, 6, leaves=0, filled=4),
        done(b, 10, filled=4),
    ])
    b2 = O(1, 3, 2, BUY, 495)
    assert_events(m.buy(1, 495, 3, 2, tif=IOC), [
        accepted(b2, 3), cancelled(b2, R.IOC_REMAINDER, 3), done(b2, 3),
    ])
    assert m.levels() == ([], [])
    assert m.money(1) == (BIG - 2_000, 0, 0)


@nojit
def test_fok_unfillable_ignores_own_and_expired_gtd_orders(market: Market) -> None:
    m = market
    m.fund(1)
    for a in (1, 3, 4):
        m.provide(a)
    m.sell(3, 500, 4, 1)  # order 1, counts
    m.sell(1, 500, 3, 1)  # order 2, own: does not count
    m.sell(4, 505, 2, 1, tif=GTD, expire_ts=T0 + 10)  # order 3, expired at T0 + 10
    m.sell(4, 510, 9, 2)  # order 4, beyond the limit
    b = O(1, 5, 2, BUY, 505)
    assert_events(m.buy(1, 505, 5, 2, tif=FOK, ts=T0 + 10), [
        accepted(b, 5),
        cancelled(b, R.FOK_UNFILLABLE, 5),
        done(b, 5),
    ])
    # nothing matched, nothing expired (the GTD order is only expired by matching or TIMER)
    assert m.levels() == ([], [(500, 7, 2), (505, 2, 1), (510, 9, 1)])
    assert m.money(1) == (BIG, 0, 0)
    # exactly enough: 4 (order 1) is fillable for a FOK of 4
    b2 = O(1, 6, 3, BUY, 505)
    s1 = O(3, 1, 1, SELL, 500)
    assert_events(m.buy(1, 505, 4, 3, tif=FOK, ts=T0 + 10), [
        accepted(b2, 4),
        trade(b2, s1, price=500, qty=4, leaves=0, filled=4, contra_leaves=0, trade_id=1),
        done(s1, 4, filled=4),
        done(b2, 4, filled=4),
    ])
    assert m.levels() == ([], [(500, 3, 1), (505, 2, 1), (510, 9, 1)])


@nojit
def test_fok_fills_resolving_self_trade_as_cancel_oldest(market: Market) -> None:
    m = market
    m.fund(1)
    for a in (1, 3, 4):
        m.provide(a)
    s1, s2, s3 = O(3, 1, 1, SELL, 500), O(1, 2, 1, SELL, 500), O(4, 3, 1, SELL, 505)
    m.sell(3, 500, 4, 1)
    m.sell(1, 500, 3, 1)
    m.sell(4, 505, 2, 1, tif=GTD, expire_ts=T0 + 10)
    b = O(1, 4, 2, BUY, 505)
    # stp CANCEL_NEWEST would kill the taker; FOK uses CANCEL_OLDEST whatever its stp
    assert_events(m.buy(1, 505, 6, 2, tif=FOK, stp=CANCEL_NEWEST, ts=T0 + 9), [
        accepted(b, 6),
        trade(b, s1, price=500, qty=4, leaves=2, filled=4, contra_leaves=0, trade_id=1),
        done(s1, 4, filled=4),
        cancelled(s2, R.SELF_TRADE, 3),
        done(s2, 3),
        trade(b, s3, price=505, qty=2, leaves=0, filled=6, contra_leaves=0, trade_id=2),
        done(s3, 2, filled=2),
        done(b, 6, filled=6),
    ])
    assert m.levels() == ([], [])
    assert m.pos(1) == (100, 6, 0, 0)


@nojit
def test_fok_expires_gtd_makers_on_its_way(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.provide(4)
    g, s = O(3, 1, 1, SELL, 500), O(4, 2, 1, SELL, 500)
    m.sell(3, 500, 5, 1, tif=GTD, expire_ts=T0 + 5)
    m.sell(4, 500, 3, 1)
    b = O(1, 3, 1, BUY, 500)
    assert_events(m.buy(1, 500, 3, 1, tif=FOK, ts=T0 + 6), [
        accepted(b, 3),
        expired(g, R.GTD_EXPIRY, 5),
        done(g, 5),
        trade(b, s, price=500, qty=3, leaves=0, filled=3, contra_leaves=0, trade_id=1),
        done(s, 3, filled=3),
        done(b, 3, filled=3),
    ])
    assert m.pos(3) == (100, 0, 0, 0)


# ============================================================================ post-only

@nojit
def test_post_only(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.sell(3, 500, 5, 1)
    assert_events(m.buy(1, 500, 5, 1, flags=POST_ONLY), [
        rejected(R.POST_ONLY_WOULD_CROSS, account=1, instrument=I0, side=BUY, price=500, qty=5, clord=1),
    ])
    b = O(1, 2, 1, BUY, 495)  # the rejected clord 1 is still free
    assert_events(m.buy(1, 495, 5, 1, flags=POST_ONLY), [accepted(b, 5)])
    assert_events(m.sell(3, 495, 1, 2, flags=POST_ONLY), [
        rejected(R.POST_ONLY_WOULD_CROSS, account=3, instrument=I0, side=SELL, price=495, qty=1, clord=2),
    ])
    # a post-only replace that would cross is rejected too; one that does not is fine
    assert_events(m.replace(1, 1, 2, 500, 5), [
        rejected(R.POST_ONLY_WOULD_CROSS, account=1, price=500, qty=5, clord=2),
    ])
    assert_events(m.replace(1, 1, 2, 490, 5), [
        replaced(O(1, 2, 2, BUY, 490), R.PRIORITY_LOST, 5, leaves=5, orig=1),
    ])
    assert m.levels() == ([(490, 5, 1)], [(500, 5, 1)])
    assert m.money(1) == (BIG, 0, 490 * 5)


# ============================================================================ GTD expiry

@nojit
def test_gtd_expires_lazily_during_matching(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.provide(4)
    g, s = O(3, 1, 1, SELL, 500), O(4, 2, 1, SELL, 500)
    m.sell(3, 500, 5, 1, tif=GTD, expire_ts=T0 + 100)
    m.sell(4, 500, 5, 1)
    b1 = O(1, 3, 1, BUY, 500)
    assert_events(m.buy(1, 500, 1, 1, ts=T0 + 99), [  # not yet expired
        accepted(b1, 1),
        trade(b1, g, price=500, qty=1, leaves=0, filled=1, contra_leaves=4, trade_id=1),
        done(b1, 1, filled=1),
    ])
    b2 = O(1, 4, 2, BUY, 500)
    assert_events(m.buy(1, 500, 3, 2, ts=T0 + 100), [  # expire_ts <= ts: expired
        accepted(b2, 3),
        expired(g, R.GTD_EXPIRY, 4, filled=1),
        done(g, 5, filled=1),
        trade(b2, s, price=500, qty=3, leaves=0, filled=3, contra_leaves=2, trade_id=2),
        done(b2, 3, filled=3),
    ])
    assert m.pos(3) == (100, 0, 1, 0)
    assert m.levels() == ([], [(500, 2, 1)])


@nojit
def test_gtd_expiry_by_timer_in_order_id_order(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    g1 = O(3, 1, 1, SELL, 500)
    g2 = O(1, 2, 1, BUY, 400, instrument=I1)
    m.sell(3, 500, 5, 1, tif=GTD, expire_ts=T0 + 50)
    m.buy(1, 400, 2, 1, tif=GTD, expire_ts=T0 + 20, instrument=I1)
    m.buy(1, 300, 1, 2)  # GTC, stays
    m.buy(1, 60, 1, 3, tif=GTD, expire_ts=T0 + 51, instrument=I2)  # later, stays
    assert_events(m.timer(ts=T0 + 49), [
        expired(g2, R.GTD_EXPIRY, 2), done(g2, 2), ack(qty=1),
    ])
    assert_events(m.timer(ts=T0 + 50), [
        expired(g1, R.GTD_EXPIRY, 5), done(g1, 5), ack(qty=1),
    ])
    assert m.orders() == [(3, 2, 300, 1, 0), (4, 3, 60, 1, 0)]
    assert m.money(1) == (BIG, 0, 300 + 60)
    assert m.pos(3) == (100, 0, 0, 0)
    assert_events(m.timer(ts=T0 + 50), [ack()])


@nojit
def test_gtd_orders_expired_by_one_timer_are_sorted_by_order_id(market: Market) -> None:
    m = market
    m.fund(1)
    a, b = O(1, 1, 1, BUY, 400), O(1, 2, 2, BUY, 300)
    m.buy(1, 400, 1, 1, tif=GTD, expire_ts=T0 + 30)
    m.buy(1, 300, 1, 2, tif=GTD, expire_ts=T0 + 10)
    assert_events(m.timer(ts=T0 + 30), [
        expired(a, R.GTD_EXPIRY, 1), done(a, 1), expired(b, R.GTD_EXPIRY, 1), done(b, 1), ack(qty=2),
    ])


# ============================================================================ gate closure, halt

@nojit
def test_close_gate_expires_orders_and_closes_for_good(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    b, s = O(1, 1, 1, BUY, 400), O(3, 2, 1, SELL, 500)
    m.buy(1, 400, 2, 1)
    m.sell(3, 500, 3, 1)
    m.buy(1, 400, 1, 2, instrument=I1)
    assert_events(m.close_gate(I0), [
        expired(b, R.GATE_CLOSURE, 2), done(b, 2),
        expired(s, R.GATE_CLOSURE, 3), done(s, 3),
        ack(0, I0, 2),  # qty = orders expired
    ])
    assert m.engine.book(I0).state == InstrumentState.CLOSED
    assert m.levels(I0) == ([], [])
    assert m.orders() == [(3, 2, 400, 1, 0)]
    assert m.money(1) == (BIG, 0, 400)
    assert m.pos(3) == (100, 0, 0, 0)
    assert_events(m.buy(1, 400, 1, 3), [
        rejected(R.GATE_CLOSED, account=1, instrument=I0, side=BUY, price=400, qty=1, clord=3),
    ])
    assert_events(m.close_gate(I0), [rejected(R.GATE_CLOSED, instrument=I0)])
    assert_events(m.halt(I0), [rejected(R.GATE_CLOSED, instrument=I0)])
    assert_events(m.resume(I0), [rejected(R.GATE_CLOSED, instrument=I0)])
    assert_events(m.deposit_capacity(3, I0, 1), [
        rejected(R.GATE_CLOSED, account=3, instrument=I0, qty=1),
    ])
    assert_events(m.withdraw_capacity(3, I0, 100), [  # positions are frozen once closed
        rejected(R.GATE_CLOSED, account=3, instrument=I0, qty=100),
    ])
    assert m.pos(3) == (100, 0, 0, 0)
    assert_events(m.mass_cancel(instrument=I0), [ack(-1, I0, 0)])


@nojit
def test_new_orders_at_gate_ts_rejected_and_timer_closes_gates(market: Market) -> None:
    m = market
    assert_events(m.list_instrument(3, 1, region=7, slot_ts=LATER_SLOT_TS), [ack(0, 3, 0)])
    m.fund(1)
    m.provide(3)
    o1 = O(1, 1, 1, BUY, 60, instrument=I2)
    o2 = O(1, 2, 2, BUY, 400)
    o3 = O(1, 3, 3, BUY, 70, instrument=3)
    o4 = O(1, 4, 4, BUY, 405)
    m.buy(1, 60, 1, 1, instrument=I2)
    m.buy(1, 400, 1, 2)
    m.buy(1, 70, 1, 3, instrument=3, tif=GTD, expire_ts=GATE_TS)
    m.buy(1, 405, 1, 4, ts=GATE_TS - 1)
    m.buy(1, 80, 1, 5, instrument=3)  # order 5 stays
    m.sell(3, 500, 2, 1)  # order 6, cancelled below
    # at gate_ts the instrument is still OPEN (no TIMER yet) but takes no new orders ...
    assert_events(m.buy(1, 410, 1, 6, ts=GATE_TS), [
        rejected(R.GATE_CLOSED, account=1, instrument=I0, side=BUY, price=410, qty=1, clord=6),
    ])
    assert_events(m.replace(1, 2, 7, 400, 1, ts=GATE_TS), [
        rejected(R.GATE_CLOSED, account=1, price=400, qty=1, clord=7),
    ])
    assert m.engine.book(I0).state == InstrumentState.OPEN
    # ... while cancels still work
    s = O(3, 6, 1, SELL, 500)
    assert_events(m.cancel(3, 1, ts=GATE_TS), [cancelled(s, R.USER_CANCEL, 2), done(s, 2)])
    assert_events(m.timer(ts=GATE_TS), [
        expired(o2, R.GATE_CLOSURE, 1), done(o2, 1),  # instrument 0 first
        expired(o4, R.GATE_CLOSURE, 1), done(o4, 1),
        expired(o1, R.GATE_CLOSURE, 1), done(o1, 1),  # then instrument 2
        expired(o3, R.GTD_EXPIRY, 1), done(o3, 1),  # then GTD expiry
        ack(qty=4),
    ])
    states = [m.engine.book(i).state for i in range(4)]
    assert states == [InstrumentState.CLOSED] * 3 + [InstrumentState.OPEN]
    assert m.orders() == [(5, 5, 80, 1, 0)]
    assert m.money(1) == (BIG, 0, 80)
    assert_events(m.timer(ts=GATE_TS + 1), [ack()])


@nojit
def test_halt_and_resume(market: Market) -> None:
    m = market
    m.fund(1)
    b = O(1, 1, 1, BUY, 400)
    m.buy(1, 400, 2, 1)
    m.buy(1, 300, 2, 2)
    assert_events(m.halt(I0), [ack(0, I0, 0)])
    assert m.engine.book(I0).state == InstrumentState.HALTED
    assert_events(m.halt(I0), [rejected(R.INSTRUMENT_HALTED, instrument=I0)])
    assert_events(m.buy(1, 400, 1, 3), [
        rejected(R.INSTRUMENT_HALTED, account=1, instrument=I0, side=BUY, price=400, qty=1, clord=3),
    ])
    assert_events(m.replace(1, 1, 4, 400, 1), [
        rejected(R.INSTRUMENT_HALTED, account=1, price=400, qty=1, clord=4),
    ])
    # gate closure is checked before the halt
    assert_events(m.buy(1, 400, 1, 3, ts=GATE_TS), [
        rejected(R.GATE_CLOSED, account=1, instrument=I0, side=BUY, price=400, qty=1, clord=3),
    ])
    assert_events(m.cancel(1, 1), [cancelled(b, R.USER_CANCEL, 2), done(b, 2)])
    assert_events(m.buy(1, 400, 1, 3, instrument=I1), [accepted(O(1, 3, 3, BUY, 400, I1), 1)])
    assert_events(m.resume(I0), [ack(0, I0, 0)])
    assert_events(m.resume(I0), [rejected(R.INSTRUMENT_NOT_HALTED, instrument=I0)])
    assert_events(m.buy(1, 400, 1, 4), [accepted(O(1, 4, 4, BUY, 400), 1)])
    # a halted instrument is closed by TIMER like any other
    m.halt(I0)
    o2, o4 = O(1, 2, 2, BUY, 300), O(1, 4, 4, BUY, 400)
    o3 = O(1, 3, 3, BUY, 400, I1)
    assert_events(m.timer(ts=GATE_TS), [
        expired(o2, R.GATE_CLOSURE, 2), done(o2, 2),
        expired(o4, R.GATE_CLOSURE, 1), done(o4, 1),
        expired(o3, R.GATE_CLOSURE, 1), done(o3, 1),
        ack(qty=3),
    ])


# ============================================================================ cancel

@nojit
def test_cancel(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    b = O(1, 1, 5, BUY, 500)
    m.buy(1, 500, 10, 5)
    assert m.money(1) == (BIG, 0, 5_000)
    assert_events(m.cancel(1, 5), [cancelled(b, R.USER_CANCEL, 10), done(b, 10)])
    assert m.money(1) == (BIG, 0, 0)
    assert m.levels() == ([], [])
    assert_events(m.cancel(1, 5), [rejected(R.ORDER_DONE, account=1, clord=5)])
    assert_events(m.cancel(1, 99), [rejected(R.UNKNOWN_ORDER, account=1, clord=99)])
    assert_events(m.cancel(2, 5), [rejected(R.UNKNOWN_ORDER, account=2, clord=5)])
    assert_events(m.cancel(16, 5), [rejected(R.UNKNOWN_ACCOUNT, account=16, clord=5)])
    # a partly filled order: the cancel takes the leaves
    b2 = O(1, 2, 6, BUY, 500)
    m.buy(1, 500, 10, 6)
    m.sell(3, 500, 3, 1)
    assert m.pos(3) == (100, 0, 3, 0)
    assert_events(m.cancel(1, 6), [
        cancelled(b2, R.USER_CANCEL, 7, leaves=0, filled=3), done(b2, 10, filled=3),
    ])
    assert m.money(1) == (BIG - 1_500, 0, 0)
    # a fully filled order is done
    assert_events(m.cancel(3, 1), [rejected(R.ORDER_DONE, account=3, clord=1)])


# ============================================================================ replace

@nojit
def test_replace_qty_down_keeps_priority(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(3)
    b2 = O(2, 2, 1, BUY, 500)
    m.buy(1, 500, 10, 1)
    m.buy(2, 500, 5, 1)
    b1n = O(1, 1, 2, BUY, 500)
    assert_events(m.replace(1, 1, 2, 500, 6), [replaced(b1n, R.PRIORITY_KEPT, 6, leaves=6, orig=1)])
    assert m.money(1) == (BIG, 0, 3_000)
    assert m.levels() == ([(500, 11, 2)], [])
    # same price and qty: only the clord changes, priority kept
    b1nn = O(1, 1, 3, BUY, 500)
    assert_events(m.replace(1, 2, 3, 500, 6), [replaced(b1nn, R.PRIORITY_KEPT, 6, leaves=6, orig=2)])
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 7, 1), [
        accepted(s, 7),
        trade(s, b1nn, price=500, qty=6, leaves=1, filled=6, contra_leaves=0, trade_id=1),
        done(b1nn, 6, filled=6),
        trade(s, b2, price=500, qty=1, leaves=0, filled=7, contra_leaves=4, trade_id=2),
        done(s, 7, filled=7),
    ])


@nojit
def test_replace_qty_up_loses_priority(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(3)
    b2 = O(2, 2, 1, BUY, 500)
    m.buy(1, 500, 5, 1)
    m.buy(2, 500, 5, 1)
    b1n = O(1, 1, 2, BUY, 500)
    assert_events(m.replace(1, 1, 2, 500, 8), [replaced(b1n, R.PRIORITY_LOST, 8, leaves=8, orig=1)])
    assert m.money(1) == (BIG, 0, 4_000)
    assert m.levels() == ([(500, 13, 2)], [])
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 6, 1), [
        accepted(s, 6),
        trade(s, b2, price=500, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(b2, 5, filled=5),
        trade(s, b1n, price=500, qty=1, leaves=0, filled=6, contra_leaves=7, trade_id=2),
        done(s, 6, filled=6),
    ])


@nojit
def test_replace_price_change_loses_priority(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(3)
    b2 = O(2, 2, 1, BUY, 500)
    m.buy(1, 500, 5, 1)
    m.buy(2, 500, 5, 1)
    assert_events(m.replace(1, 1, 2, 495, 4), [
        replaced(O(1, 1, 2, BUY, 495), R.PRIORITY_LOST, 4, leaves=4, orig=1),
    ])
    assert m.levels() == ([(500, 5, 1), (495, 4, 1)], [])
    b1n = O(1, 1, 3, BUY, 500)
    assert_events(m.replace(1, 2, 3, 500, 4), [replaced(b1n, R.PRIORITY_LOST, 4, leaves=4, orig=2)])
    assert m.money(1) == (BIG, 0, 2_000)
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 6, 1), [
        accepted(s, 6),
        trade(s, b2, price=500, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(b2, 5, filled=5),
        trade(s, b1n, price=500, qty=1, leaves=0, filled=6, contra_leaves=3, trade_id=2),
        done(s, 6, filled=6),
    ])


@nojit
def test_replace_that_crosses_trades_then_rests(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    s1, s2 = O(3, 1, 1, SELL, 505), O(3, 2, 2, SELL, 510)
    m.sell(3, 505, 3, 1)
    m.sell(3, 510, 5, 2)
    m.buy(1, 495, 10, 1)
    assert m.money(1) == (BIG, 0, 4_950)
    bn = O(1, 3, 2, BUY, 505)
    assert_events(m.replace(1, 1, 2, 505, 10), [
        replaced(bn, R.PRIORITY_LOST, 10, leaves=10, orig=1),
        trade(bn, s1, price=505, qty=3, leaves=7, filled=3, contra_leaves=0, trade_id=1),
        done(s1, 3, filled=3),
    ])
    assert m.levels() == ([(505, 7, 1)], [(510, 5, 1)])
    assert m.money(1) == (BIG - 1_515, 0, 505 * 7)
    assert m.orders(1) == [(3, 2, 505, 7, 3)]
    # and one that fills completely is done
    bnn = O(1, 3, 3, BUY, 510)
    assert_events(m.replace(1, 2, 3, 510, 8), [
        replaced(bnn, R.PRIORITY_LOST, 8, leaves=5, filled=3, orig=2),
        trade(bnn, s2, price=510, qty=5, leaves=0, filled=8, contra_leaves=0, trade_id=2),
        done(s2, 5, filled=5),
        done(bnn, 8, filled=8),
    ])
    assert m.levels() == ([], [])
    assert m.money(1) == (BIG - 1_515 - 2_550, 0, 0)


@nojit
def test_replace_below_filled(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.sell(3, 500, 4, 1)
    m.buy(1, 500, 10, 1)
    assert m.orders(1) == [(2, 1, 500, 6, 4)]
    assert_events(m.replace(1, 1, 2, 500, 4), [
        rejected(R.REPLACE_BELOW_FILLED, account=1, price=500, qty=4, clord=2),
    ])
    assert_events(m.replace(1, 1, 2, 500, 5), [
        replaced(O(1, 2, 2, BUY, 500), R.PRIORITY_KEPT, 5, leaves=1, filled=4, orig=1),
    ])
    assert m.money(1) == (BIG - 2_000, 0, 500)
    assert_events(m.replace(1, 2, 3, 500, 20), [
        replaced(O(1, 2, 3, BUY, 500), R.PRIORITY_LOST, 20, leaves=16, filled=4, orig=2),
    ])
    assert m.money(1) == (BIG - 2_000, 0, 8_000)
    assert m.levels() == ([(500, 16, 1)], [])


@nojit
def test_replace_client_order_id_rules(market: Market) -> None:
    m = market
    m.fund(1)
    m.buy(1, 500, 5, 1)
    assert_events(m.replace(1, 1, 2, 500, 4), [
        replaced(O(1, 1, 2, BUY, 500), R.PRIORITY_KEPT, 4, leaves=4, orig=1),
    ])
    # the old clord no longer names the order
    assert_events(m.cancel(1, 1), [rejected(R.ORDER_DONE, account=1, clord=1)])
    assert_events(m.replace(1, 1, 3, 500, 4), [
        rejected(R.ORDER_DONE, account=1, price=500, qty=4, clord=3),
    ])
    # new clords must be fresh, including the current and the old one
    assert_events(m.replace(1, 2, 2, 500, 3), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=2),
    ])
    assert_events(m.replace(1, 2, 1, 500, 3), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=1),
    ])
    assert_events(m.replace(1, 2, 0, 500, 3), [
        rejected(R.BAD_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=0),
    ])
    assert_events(m.replace(1, 2, CLORD_LIMIT, 500, 3), [
        rejected(R.BAD_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=CLORD_LIMIT),
    ])
    assert_events(m.replace(1, 9, 3, 500, 3), [
        rejected(R.UNKNOWN_ORDER, account=1, price=500, qty=3, clord=3),
    ])
    b = O(1, 1, CLORD_LIMIT - 1, BUY, 500)
    assert_events(m.replace(1, 2, CLORD_LIMIT - 1, 500, 3), [
        replaced(b, R.PRIORITY_KEPT, 3, leaves=3, orig=2),
    ])
    assert_events(m.cancel(1, CLORD_LIMIT - 1), [cancelled(b, R.USER_CANCEL, 3), done(b, 3)])
    # clords taken by replaces cannot be reused by new orders
    assert_events(m.buy(1, 500, 1, 2), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, instrument=I0, side=BUY, price=500,
                 qty=1, clord=2),
    ])


@nojit
def test_replace_risk_checks_the_change(market: Market) -> None:
    m = market
    m.fund(1, 10_000)
    m.buy(1, 500, 10, 1)
    assert m.money(1) == (10_000, 0, 5_000)
    assert_events(m.replace(1, 1, 2, 500, 20), [  # + 5_000 <= 5_000 available
        replaced(O(1, 1, 2, BUY, 500), R.PRIORITY_LOST, 20, leaves=20, orig=1),
    ])
    assert m.money(1) == (10_000, 0, 10_000)
    assert_events(m.replace(1, 2, 3, 505, 20), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, price=505, qty=20, clord=3),
    ])
    assert_events(m.replace(1, 2, 3, 505, 19), [  # 9_595 - 10_000 < 0: always fine
        replaced(O(1, 1, 3, BUY, 505), R.PRIORITY_LOST, 19, leaves=19, orig=2),
    ])
    assert m.money(1) == (10_000, 0, 9_595)

    m.provide(3, I0, 10)
    m.sell(3, 600, 6, 1)
    assert_events(m.replace(3, 1, 2, 600, 10), [
        replaced(O(3, 2, 2, SELL, 600), R.PRIORITY_LOST, 10, leaves=10, orig=1),
    ])
    assert m.pos(3) == (10, 0, 0, 10)
    assert_events(m.replace(3, 2, 3, 600, 11), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, price=600, qty=11, clord=3),
    ])
    assert_events(m.replace(3, 2, 3, 595, 2), [
        replaced(O(3, 2, 3, SELL, 595), R.PRIORITY_LOST, 2, leaves=2, orig=2),
    ])
    assert m.pos(3) == (10, 0, 0, 2)


# ============================================================================ self-trade prevention

def _stp_setup(m: Market) -> tuple[dict, dict, dict]:
    m.fund(1)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 505)
    m.sell(1, 500, 4, 1)
    m.sell(3, 505, 5, 1)
    return own, other, O(1, 3, 2, BUY, 505)


@nojit
def test_stp_cancel_newest(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_NEWEST), [
        accepted(t, 6), cancelled(t, R.SELF_TRADE, 6), done(t, 6),
    ])
    assert m.levels() == ([], [(500, 4, 1), (505, 5, 1)])
    assert m.money(1) == (BIG, 0, 0)


@nojit
def test_stp_cancel_oldest(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_OLDEST), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        trade(t, other, price=505, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(other, 5, filled=5),
    ])
    assert m.levels() == ([(505, 1, 1)], [])
    assert m.pos(1) == (100, 5, 0, 0)
    assert m.money(1) == (BIG - 2_525, 0, 505)


@nojit
def test_stp_cancel_both(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_BOTH), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        cancelled(t, R.SELF_TRADE, 6), done(t, 6),
    ])
    assert m.levels() == ([], [(505, 5, 1)])
    assert m.pos(1) == (100, 0, 0, 0)
    assert m.money(1) == (BIG, 0, 0)


@nojit
def test_stp_decrement_taker_larger(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=DECREMENT), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        cancelled(t, R.SELF_TRADE, 4, leaves=2),
        trade(t, other, price=505, qty=2, leaves=0, filled=2, contra_leaves=3, trade_id=1),
        done(t, 6, filled=2),
    ])
    assert m.levels() == ([], [(505, 3, 1)])
    assert m.money(1) == (BIG - 1_010, 0, 0)


@nojit
def test_stp_decrement_maker_larger_keeps_its_place(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 500)
    m.sell(1, 500, 8, 1)
    m.sell(3, 500, 2, 1)
    t = O(1, 3, 2, BUY, 500)
    assert_events(m.buy(1, 500, 5, 2, stp=DECREMENT), [
        accepted(t, 5),
        cancelled(own, R.SELF_TRADE, 5, leaves=3),
        cancelled(t, R.SELF_TRADE, 5),
        done(t, 5),
    ])
    assert m.levels() == ([], [(500, 5, 2)])
    assert m.pos(1) == (100, 0, 0, 3)
    (ov,) = m.engine.live_orders(1)
    assert (ov.order_id, ov.qty, ov.leaves, ov.filled) == (1, 8, 3, 0)
    b = O(2, 4, 1, BUY, 500)
    assert_events(m.buy(2, 500, 4, 1), [  # the decremented order is still first
        accepted(b, 4),
        trade(b, own, price=500, qty=3, leaves=1, filled=3, contra_leaves=0, trade_id=1),
        done(own, 8, filled=3),
        trade(b, other, price=500, qty=1, leaves=0, filled=4, contra_leaves=1, trade_id=2),
        done(b, 4, filled=4),
    ])


@nojit
def test_replace_after_decrement_counts_removed_qty(market: Market) -> None:
    """Rule O6: leaves after a replace = qty - filled - removed."""
    m = market
    m.fund(1)
    m.provide(1)
    m.sell(1, 500, 8, 1)
    m.buy(1, 500, 5, 2, stp=DECREMENT)  # the sell: qty 8, leaves 3, removed 5
    assert_events(m.replace(1, 1, 3, 500, 5), [
        rejected(R.REPLACE_BELOW_FILLED, account=1, price=500, qty=5, clord=3),
    ])
    assert_events(m.replace(1, 1, 3, 500, 7), [
        replaced(O(1, 1, 3, SELL, 500), R.PRIORITY_KEPT, 7, leaves=2, orig=1),
    ])
    assert m.pos(1) == (100, 0, 0, 2)


@nojit
def test_stp_expired_own_gtd_order_is_expired_not_cancelled(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 500)
    m.sell(1, 500, 4, 1, tif=GTD, expire_ts=T0 + 1)
    m.sell(3, 500, 4, 1)
    t = O(1, 3, 2, BUY, 500)
    assert_events(m.buy(1, 500, 2, 2, ts=T0 + 1), [
        accepted(t, 2),
        expired(own, R.GTD_EXPIRY, 4), done(own, 4),
        trade(t, other, price=500, qty=2, leaves=0, filled=2, contra_leaves=2, trade_id=1),
        done(t, 2, filled=2),
    ])


# ============================================================================ mass cancel

def _mass_setup(m: Market) -> list[dict]:
    m.fund(1)
    m.fund(2)
    m.provide(3)
    orders = [O(1, 1, 1, BUY, 400), O(1, 2, 2, BUY, 400, I1), O(2, 3, 1, BUY, 405),
              O(1, 4, 3, BUY, 395), O(3, 5, 1, SELL, 500)]
    m.buy(1, 400, 1, 1)
    m.buy(1, 400, 2, 2, instrument=I1)
    m.buy(2, 405, 3, 1)
    m.buy(1, 395, 4, 3)
    m.sell(3, 500, 5, 1)
    return orders


def _mc(o: dict, qty: int) -> list[dict]:
    return [cancelled(o, R.MASS_CANCEL, qty), done(o, qty)]


@nojit
def test_mass_cancel_by_account(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(account=1), [*_mc(o[0], 1), *_mc(o[1], 2), *_mc(o[3], 4),
                                             ack(1, -1, 3)])
    assert m.orders() == [(3, 1, 405, 3, 0), (5, 1, 500, 5, 0)]
    assert m.money(1) == (BIG, 0, 0)
    assert_events(m.mass_cancel(account=1), [ack(1, -1, 0)])


@nojit
def test_mass_cancel_by_instrument(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(instrument=I0), [*_mc(o[0], 1), *_mc(o[2], 3), *_mc(o[3], 4),
                                                 *_mc(o[4], 5), ack(-1, I0, 4)])
    assert m.orders() == [(2, 2, 400, 2, 0)]
    assert m.pos(3) == (100, 0, 0, 0)


@nojit
def test_mass_cancel_by_account_and_instrument(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(account=1, instrument=I0), [*_mc(o[0], 1), *_mc(o[3], 4),
                                                            ack(1, I0, 2)])
    assert m.orders() == [(2, 2, 400, 2, 0), (3, 1, 405, 3, 0), (5, 1, 500, 5, 0)]
    assert m.money(1) == (BIG, 0, 800)


@nojit
def test_mass_cancel_rejects(market: Market) -> None:
    m = market
    _mass_setup(m)
    assert_events(m.mass_cancel(), [rejected(R.BAD_MASS_CANCEL_FILTER, account=-1, instrument=-1)])
    assert_events(m.mass_cancel(16, -1), [rejected(R.UNKNOWN_ACCOUNT, account=16, instrument=-1)])
    assert_events(m.mass_cancel(-2, I0), [rejected(R.UNKNOWN_ACCOUNT, account=-2, instrument=I0)])
    assert_events(m.mass_cancel(-1, 3), [rejected(R.UNKNOWN_INSTRUMENT, account=-1, instrument=3)])
    assert_events(m.mass_cancel(5, -1), [ack(5, -1, 0)])
    assert len(m.orders()) == 5


@nojit
def test_mass_cancel_while_halted(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    m.halt(I1)
    assert_events(m.mass_cancel(instrument=I1), [*_mc(o[1], 2), ack(-1, I1, 1)])


# ============================================================================ client order ids

@nojit
def test_duplicate_client_order_id(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.buy(1, 500, 1, 1)
    dup = rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, instrument=I0, side=BUY, price=500,
                   qty=1, clord=1)
    assert_events(m.buy(1, 500, 1, 1), [dup])
    m.cancel(1, 1)
    assert_events(m.buy(1, 500, 1, 1), [dup])  # also after the order is done
    # another account may use the same clord
    assert_events(m.buy(2, 500, 1, 1), [accepted(O(2, 2, 1, BUY, 500), 1)])
    # a rejected order does not use its clord
    assert_events(m.buy(1, 503, 1, 2), [
        rejected(R.PRICE_NOT_ON_TICK, account=1, instrument=I0, side=BUY, price=503, qty=1, clord=2),
    ])
    assert_events(m.buy(1, 505, 1, 2), [accepted(O(1, 3, 2, BUY, 505), 1)])
    # a FOK that was killed did use its clord
    f = O(1, 4, 3, BUY, 500)
    assert_events(m.buy(1, 500, 1, 3, tif=FOK), [accepted(f, 1), cancelled(f, R.FOK_UNFILLABLE, 1),
                                                 done(f, 1)])
    assert_events(m.buy(1, 500, 1, 3), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, instrument=I0, side=BUY, price=500,
                 qty=1, clord=3),
    ])


# ============================================================================ risk

@nojit
def test_capacity_risk_and_resale(market: Market) -> None:
    m = market
    m.fund(2)
    m.provide(3, I0, 10)
    assert_events(m.sell(3, 500, 11, 1), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, instrument=I0, side=SELL, price=500, qty=11, clord=1),
    ])
    m.sell(3, 500, 6, 1)
    assert_events(m.sell(3, 500, 5, 2), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, instrument=I0, side=SELL, price=500, qty=5, clord=2),
    ])
    assert_events(m.sell(3, 505, 4, 2), [accepted(O(3, 2, 2, SELL, 505), 4)])
    assert m.pos(3) == (10, 0, 0, 10)
    # capacity is per instrument (slot)
    assert_events(m.sell(3, 500, 1, 3, instrument=I1), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, instrument=I1, side=SELL, price=500, qty=1, clord=3),
    ])
    # bought hours may be resold
    m.buy(2, 500, 3, 1)
    assert m.pos(2) == (0, 3, 0, 0)
    assert_events(m.sell(2, 600, 3, 2), [accepted(O(2, 4, 2, SELL, 600), 3)])
    assert_events(m.sell(2, 600, 1, 3), [
        rejected(R.INSUFFICIENT_CAPACITY, account=2, instrument=I0, side=SELL, price=600, qty=1, clord=3),
    ])
    assert m.pos(2) == (0, 3, 0, 3)
    assert m.pos(3) == (10, 0, 3, 7)
    # withdrawing capacity: qty <= capacity and qty <= free
    assert_events(m.withdraw_capacity(3, I0, 1), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, instrument=I0, qty=1),
    ])
    m.cancel(3, 2)  # frees 4
    assert_events(m.withdraw_capacity(3, I0, 5), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, instrument=I0, qty=5),
    ])
    assert_events(m.withdraw_capacity(3, I0, 4), [ack(3, I0, 4)])
    assert m.pos(3) == (6, 0, 3, 3)
    m.cancel(2, 2)
    assert m.pos(2) == (0, 3, 0, 0)  # free 3, but no capacity to withdraw
    assert_events(m.withdraw_capacity(2, I0, 1), [
        rejected(R.INSUFFICIENT_CAPACITY, account=2, instrument=I0, qty=1),
    ])
    assert_events(m.withdraw_capacity(5, I0, 1), [
        rejected(R.INSUFFICIENT_CAPACITY, account=5, instrument=I0, qty=1),
    ])
    assert_events(m.withdraw_capacity(3, I0, 0), [
        rejected(R.QUANTITY_OUT_OF_LIMITS, account=3, instrument=I0),
    ])
    assert_events(m.deposit_capacity(3, I0, -1), [
        rejected(R.QUANTITY_OUT_OF_LIMITS, account=3, instrument=I0, qty=-1),
    ])
    # capacity beyond the class lot limit is fine
    assert_events(m.deposit_capacity(3, I0, 1_000), [ack(3, I0, 1_000)])
    # only CLOSED stops capacity commands, not ts >= gate_ts alone
    assert_events(m.deposit_capacity(3, I0, 1, ts=GATE_TS), [ack(3, I0, 1)])
    assert_events(m.withdraw_capacity(3, I0, 1, ts=GATE_TS), [ack(3, I0, 1)])


@nojit
def test_funds_risk_credit_and_withdrawals(market: Market) -> None:
    m = market
    m.fund(1, 5_000)
    m.provide(3)
    assert_events(m.buy(1, 500, 11, 1), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, instrument=I0, side=BUY, price=500, qty=11, clord=1),
    ])
    assert_events(m.buy(1, 500, 10, 1), [accepted(O(1, 1, 1, BUY, 500), 10)])  # exactly
    assert_events(m.buy(1, 100, 1, 2), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, instrument=I0, side=BUY, price=100, qty=1, clord=2),
    ])
    assert_events(m.set_credit(1, 1_000), [ack(1, 0, 1_000)])
    assert_events(m.buy(1, 100, 10, 2), [accepted(O(1, 2, 2, BUY, 100), 10)])
    assert m.money(1) == (5_000, 1_000, 6_000)
    assert_events(m.withdraw_funds(1, 1), [rejected(R.INSUFFICIENT_FUNDS, account=1)])
    assert_events(m.set_credit(1, 999), [rejected(R.INSUFFICIENT_FUNDS, account=1)])
    m.cancel(1, 1)
    assert m.money(1) == (5_000, 1_000, 1_000)
    assert_events(m.withdraw_funds(1, 5_001), [rejected(R.INSUFFICIENT_FUNDS, account=1)])
    assert_events(m.withdraw_funds(1, 5_000), [ack(1, 0, 5_000)])
    assert m.money(1) == (0, 1_000, 1_000)
    # buying on credit takes cash below zero, down to -credit
    m.sell(3, 100, 10, 1)
    assert m.money(1) == (-1_000, 1_000, 0)
    assert m.money(3) == (1_000, 0, 0)
    assert_events(m.withdraw_funds(1, 1), [rejected(R.INSUFFICIENT_FUNDS, account=1)])
    assert_events(m.set_credit(1, 999), [rejected(R.INSUFFICIENT_FUNDS, account=1)])
    assert_events(m.deposit_funds(1, 1_000), [ack(1, 0, 1_000)])
    assert_events(m.set_credit(1, 0), [ack(1, 0, 0)])
    assert m.money(1) == (0, 0, 0)
    assert_events(m.deposit_funds(1, 0), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.withdraw_funds(1, -1), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.set_credit(1, -1), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.deposit_funds(16, 1), [rejected(R.UNKNOWN_ACCOUNT, account=16)])


@nojit
def test_funds_reserved_for_every_open_bid_across_instruments(market: Market) -> None:
    m = market
    m.fund(1, 10_000)
    m.buy(1, 500, 10, 1)
    assert_events(m.buy(1, 500, 11, 2, instrument=I1), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, instrument=I1, side=BUY, price=500, qty=11, clord=2),
    ])
    m.replace(1, 1, 3, 250, 10)
    assert m.money(1) == (10_000, 0, 2_500)
    assert_events(m.buy(1, 500, 15, 2, instrument=I1), [accepted(O(1, 2, 2, BUY, 500, I1), 15)])
    assert m.money(1) == (10_000, 0, 10_000)


# ============================================================================ reject table

def _base(m: Market) -> None:
    """State for the reject cases.

    bids I0: 510 x2 (acct 1, clord 3, filled 4), 500 x5 (acct 1, clord 2, post-only),
             495 x10 (acct 1, clord 1), 495 x10 (acct 4, clord 1, funds 5_000)
    asks I0: 520 x10 (acct 3, clord 2; capacity 100, sold 4)
    I1: bid 300 x1 (acct 1, clord 5); I2 (class 1): bid 60 x1 (acct 1, clord 6);
    acct 1 clord 4: cancelled.
    """
    m.fund(1)
    m.fund(4, 5_000)
    m.provide(3)
    m.sell(3, 510, 4, 1)
    m.buy(1, 510, 6, 3)
    m.sell(3, 520, 10, 2)
    m.buy(1, 495, 10, 1)
    m.buy(1, 500, 5, 2, flags=POST_ONLY)
    m.buy(1, 400, 1, 4)
    m.cancel(1, 4)
    m.buy(1, 300, 1, 5, instrument=I1)
    m.buy(4, 495, 10, 1)
    m.buy(1, 60, 1, 6, instrument=I2)
    assert m.levels() == ([(510, 2, 1), (500, 5, 1), (495, 20, 2)], [(520, 10, 1)])


def _halt1(m: Market) -> None:
    m.halt(I1)


def _close2(m: Market) -> None:
    m.close_gate(I2)


def _call1(m: Market) -> None:
    m.start_call(I1)


def _o(**kw: int) -> np.ndarray:
    """A valid buy of 10 at 505 on I0 by account 1 (clord 9), with fields overridden in
    the record itself (so an stp of 0 stays 0: ``command`` would fill in the default)."""
    record = cmd(K.NEW_ORDER, account=1, instrument=I0, side=BUY, order_type=LIMIT, tif=1, flags=0,
                 stp=1, price=505, qty=10, clord=9, expire_ts=0)
    for name, value in kw.items():
        record[name] = value
    return record


G = GATE_TS
REJECTS = [
    # name, command, reason, prep, ts
    ("account-16", _o(account=16), R.UNKNOWN_ACCOUNT, None, None),
    ("account-neg", _o(account=-1), R.UNKNOWN_ACCOUNT, None, None),
    ("account>instrument", _o(account=16, instrument=9), R.UNKNOWN_ACCOUNT, None, None),
    ("instrument-3", _o(instrument=3), R.UNKNOWN_INSTRUMENT, None, None),
    ("instrument-neg", _o(instrument=-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("instrument>side", _o(instrument=3, side=0), R.UNKNOWN_INSTRUMENT, None, None),
    ("side-0", _o(side=0), R.BAD_SIDE, None, None),
    ("side-3", _o(side=3), R.BAD_SIDE, None, None),
    ("side>type", _o(side=3, order_type=0), R.BAD_SIDE, None, None),
    ("type-0", _o(order_type=0), R.BAD_ORDER_TYPE, None, None),
    ("type-3", _o(order_type=3), R.BAD_ORDER_TYPE, None, None),
    ("type>tif", _o(order_type=3, tif=0), R.BAD_ORDER_TYPE, None, None),
    ("tif-0", _o(tif=0), R.BAD_TIME_IN_FORCE, None, None),
    ("tif-5", _o(tif=5), R.BAD_TIME_IN_FORCE, None, None),
    ("market-gtc", _o(order_type=MARKET, price=0, tif=1), R.BAD_TIME_IN_FORCE, None, None),
    ("market-gtd", _o(order_type=MARKET, price=0, tif=GTD, expire_ts=G), R.BAD_TIME_IN_FORCE, None, None),
    ("tif>stp", _o(tif=0, stp=0), R.BAD_TIME_IN_FORCE, None, None),
    ("stp-0", _o(stp=0), R.BAD_STP_MODE, None, None),
    ("stp-5", _o(stp=5), R.BAD_STP_MODE, None, None),
    ("stp>flags", _o(stp=5, flags=2), R.BAD_STP_MODE, None, None),
    ("flags-2", _o(flags=2), R.BAD_FLAGS, None, None),
    ("flags-3", _o(flags=3), R.BAD_FLAGS, None, None),
    ("flags-neg", _o(flags=-1), R.BAD_FLAGS, None, None),
    ("post-only-ioc", _o(flags=POST_ONLY, tif=IOC), R.BAD_FLAGS, None, None),
    ("post-only-fok", _o(flags=POST_ONLY, tif=FOK), R.BAD_FLAGS, None, None),
    ("post-only-market", _o(flags=POST_ONLY, order_type=MARKET, price=0, tif=IOC), R.BAD_FLAGS, None, None),
    ("flags>clord", _o(flags=2, clord=0), R.BAD_FLAGS, None, None),
    ("clord-0", _o(clord=0), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord-neg", _o(clord=-5), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord-limit", _o(clord=CLORD_LIMIT), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord>qty", _o(clord=0, qty=0), R.BAD_CLIENT_ORDER_ID, None, None),
    ("qty-0", _o(qty=0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty-101", _o(qty=101), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty-neg", _o(qty=-1), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty>tick", _o(qty=101, price=502), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("tick", _o(price=502), R.PRICE_NOT_ON_TICK, None, None),
    ("tick>band", _o(price=1002), R.PRICE_NOT_ON_TICK, None, None),
    ("band-lo", _o(price=95), R.PRICE_OUT_OF_BAND, None, None),
    ("band-hi", _o(price=1005), R.PRICE_OUT_OF_BAND, None, None),
    ("band-zero", _o(price=0), R.PRICE_OUT_OF_BAND, None, None),
    ("band-neg", _o(price=-5), R.PRICE_OUT_OF_BAND, None, None),
    ("band-class1", _o(instrument=I2, price=501), R.PRICE_OUT_OF_BAND, None, None),
    ("band>expiry", _o(price=1005, expire_ts=1), R.PRICE_OUT_OF_BAND, None, None),
    ("market-price", _o(order_type=MARKET, tif=IOC, price=505), R.MARKET_ORDER_HAS_PRICE, None, None),
    ("market-price>expiry", _o(order_type=MARKET, tif=IOC, price=5, expire_ts=1),
     R.MARKET_ORDER_HAS_PRICE, None, None),
    ("gtd-now", _o(tif=GTD, expire_ts=T0), R.BAD_EXPIRY, None, None),
    ("gtd-zero", _o(tif=GTD), R.BAD_EXPIRY, None, None),
    ("gtc-expiry", _o(expire_ts=T0 + 1), R.BAD_EXPIRY, None, None),
    ("ioc-expiry", _o(tif=IOC, expire_ts=T0 + 1), R.BAD_EXPIRY, None, None),
    ("expiry>dup", _o(expire_ts=1, clord=1), R.BAD_EXPIRY, None, None),
    ("dup", _o(clord=1), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("dup-done", _o(clord=4), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("dup>gate", _o(clord=1), R.DUPLICATE_CLIENT_ORDER_ID, None, G),
    ("gate-ts", _o(), R.GATE_CLOSED, None, G),
    ("gate-closed", _o(instrument=I2, price=60), R.GATE_CLOSED, _close2, None),
    ("gate>halt", _o(instrument=I1), R.GATE_CLOSED, _halt1, G),
    ("halted", _o(instrument=I1), R.INSTRUMENT_HALTED, _halt1, None),
    ("halted>post-only", _o(instrument=I1, flags=POST_ONLY), R.INSTRUMENT_HALTED, _halt1, None),
    ("call-ioc", _o(instrument=I1, tif=IOC), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-fok", _o(instrument=I1, tif=FOK), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-market", _o(instrument=I1, order_type=MARKET, price=0, tif=IOC), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-post-only", _o(instrument=I1, flags=POST_ONLY), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-post-only>funds", _o(account=2, instrument=I1, flags=POST_ONLY), R.INSTRUMENT_IN_CALL, _call1, None),
    ("gate>call", _o(instrument=I1, tif=IOC), R.GATE_CLOSED, _call1, G),
    ("call-funds", _o(account=2, instrument=I1), R.INSUFFICIENT_FUNDS, _call1, None),
    ("post-only-cross", _o(price=520, flags=POST_ONLY), R.POST_ONLY_WOULD_CROSS, None, None),
    ("post-only>funds", _o(account=2, price=520, flags=POST_ONLY), R.POST_ONLY_WOULD_CROSS, None, None),
    ("funds-none", _o(account=2), R.INSUFFICIENT_FUNDS, None, None),
    ("funds-short", _o(account=4, price=100, qty=1), R.INSUFFICIENT_FUNDS, None, None),
    ("funds-market", _o(account=4, order_type=MARKET, tif=IOC, price=0, qty=1), R.INSUFFICIENT_FUNDS, None, None),
    ("capacity-none", _o(account=2, side=SELL), R.INSUFFICIENT_CAPACITY, None, None),
    ("capacity-short", _o(account=3, side=SELL, price=600, qty=87), R.INSUFFICIENT_CAPACITY, None, None),
    # CANCEL
    ("cancel-account", cancel(16, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("cancel-unknown", cancel(1, 77), R.UNKNOWN_ORDER, None, None),
    ("cancel-unknown-big", cancel(1, CLORD_LIMIT + 1), R.UNKNOWN_ORDER, None, None),
    ("cancel-done", cancel(1, 4), R.ORDER_DONE, None, None),
    # REPLACE
    ("replace-account", replace(16, 1, 9, 495, 10), R.UNKNOWN_ACCOUNT, None, None),
    ("replace-account>clord", replace(16, 1, 0, 495, 10), R.UNKNOWN_ACCOUNT, None, None),
    ("replace-clord", replace(1, 1, 0, 495, 10), R.BAD_CLIENT_ORDER_ID, None, None),
    ("replace-clord>unknown", replace(1, 77, 0, 495, 10), R.BAD_CLIENT_ORDER_ID, None, None),
    ("replace-unknown", replace(1, 77, 9, 495, 10), R.UNKNOWN_ORDER, None, None),
    ("replace-unknown>qty", replace(1, 77, 9, 495, 0), R.UNKNOWN_ORDER, None, None),
    ("replace-done", replace(1, 4, 9, 495, 10), R.ORDER_DONE, None, None),
    ("replace-done>qty", replace(1, 4, 9, 495, 0), R.ORDER_DONE, None, None),
    ("replace-qty", replace(1, 1, 9, 495, 101), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("replace-qty>tick", replace(1, 1, 9, 492, 0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("replace-tick", replace(1, 1, 9, 492, 10), R.PRICE_NOT_ON_TICK, None, None),
    ("replace-tick>band", replace(1, 1, 9, 1002, 10), R.PRICE_NOT_ON_TICK, None, None),
    ("replace-band", replace(1, 1, 9, 1005, 10), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-band>dup", replace(1, 1, 2, 1005, 10), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-band-class1", replace(1, 6, 9, 501, 1), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-dup", replace(1, 1, 2, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("replace-dup-self", replace(1, 1, 1, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("replace-dup>gate", replace(1, 1, 2, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, G),
    ("replace-gate", replace(1, 1, 9, 495, 10), R.GATE_CLOSED, None, G),
    ("replace-gate>halt", replace(1, 5, 9, 300, 1), R.GATE_CLOSED, _halt1, G),
    ("replace-halted", replace(1, 5, 9, 300, 1), R.INSTRUMENT_HALTED, _halt1, None),
    ("replace-below-filled", replace(1, 3, 9, 510, 4), R.REPLACE_BELOW_FILLED, None, None),
    ("replace-below-filled-price-up", replace(1, 3, 9, 1000, 3), R.REPLACE_BELOW_FILLED, None, None),
    ("replace-post-only", replace(1, 2, 9, 520, 5), R.POST_ONLY_WOULD_CROSS, None, None),
    ("replace-funds", replace(4, 1, 2, 505, 10), R.INSUFFICIENT_FUNDS, None, None),
    ("replace-capacity", replace(3, 2, 9, 520, 100), R.INSUFFICIENT_CAPACITY, None, None),
    # MASS_CANCEL
    ("mass-filter", mass_cancel(), R.BAD_MASS_CANCEL_FILTER, None, None),
    ("mass-account", mass_cancel(16, -1), R.UNKNOWN_ACCOUNT, None, None),
    ("mass-instrument", mass_cancel(-1, 3), R.UNKNOWN_INSTRUMENT, None, None),
    # capacity and funds
    ("deposit-cap-account", deposit_capacity(16, I0, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("deposit-cap-instrument", deposit_capacity(3, 3, 1), R.UNKNOWN_INSTRUMENT, None, None),
    ("deposit-cap-zero", deposit_capacity(3, I0, 0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("deposit-cap-zero>closed", deposit_capacity(3, I2, 0), R.QUANTITY_OUT_OF_LIMITS, _close2, None),
    ("deposit-cap-closed", deposit_capacity(3, I2, 1), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-account", withdraw_capacity(-1, I0, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("withdraw-cap-instrument", withdraw_capacity(3, -1, 1), R.UNKNOWN_INSTRUMENT, None, None),
    ("withdraw-cap-neg", withdraw_capacity(3, I0, -1), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("withdraw-cap-closed", withdraw_capacity(3, I2, 1), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-closed>capacity", withdraw_capacity(3, I2, 99), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-over-free", withdraw_capacity(3, I0, 87), R.INSUFFICIENT_CAPACITY, None, None),
    ("withdraw-cap-over-capacity", withdraw_capacity(3, I0, 101), R.INSUFFICIENT_CAPACITY, None, None),
    ("deposit-funds-account", deposit_funds(16, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("deposit-funds-zero", deposit_funds(1, 0), R.BAD_AMOUNT, None, None),
    ("withdraw-funds-zero", withdraw_funds(1, 0), R.BAD_AMOUNT, None, None),
    ("withdraw-funds-over", withdraw_funds(4, 51), R.INSUFFICIENT_FUNDS, None, None),
    ("withdraw-funds-none", withdraw_funds(2, 1), R.INSUFFICIENT_FUNDS, None, None),
    ("credit-account", set_credit(16, 0), R.UNKNOWN_ACCOUNT, None, None),
    ("credit-neg", set_credit(1, -1), R.BAD_AMOUNT, None, None),
    # market commands
    ("list-id-taken", list_instrument(2, 0), R.BAD_INSTRUMENT_ID, None, None),
    ("list-id-gap", list_instrument(4, 0), R.BAD_INSTRUMENT_ID, None, None),
    ("list-id>class", list_instrument(4, 2), R.BAD_INSTRUMENT_ID, None, None),
    ("list-class", list_instrument(3, 2), R.UNKNOWN_GPU_CLASS, None, None),
    ("list-class-neg", list_instrument(3, -1), R.UNKNOWN_GPU_CLASS, None, None),
    ("halt-unknown", halt(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("halt-halted", halt(I1), R.INSTRUMENT_HALTED, _halt1, None),
    ("halt-closed", halt(I2), R.GATE_CLOSED, _close2, None),
    ("halt-call", halt(I1), R.INSTRUMENT_IN_CALL, _call1, None),
    ("resume-call", resume(I1), R.INSTRUMENT_NOT_HALTED, _call1, None),
    ("resume-expiry", resume(I1, T0), R.BAD_EXPIRY, _halt1, None),
    ("resume-open>expiry", resume(I0, T0), R.INSTRUMENT_NOT_HALTED, None, None),
    ("list-call-now", list_instrument(3, 0, call_end=T0), R.BAD_EXPIRY, None, None),
    ("list-call-past", list_instrument(3, 0, call_end=T0 - 1), R.BAD_EXPIRY, None, None),
    ("list-class>call", list_instrument(3, 2, call_end=T0), R.UNKNOWN_GPU_CLASS, None, None),
    ("call-unknown", start_call(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("call-closed", start_call(I2), R.GATE_CLOSED, _close2, None),
    ("call-gate-ts", start_call(I0), R.GATE_CLOSED, None, G),
    ("call-call", start_call(I1), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-call>expiry", start_call(I1, T0), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-expiry", start_call(I0, T0), R.BAD_EXPIRY, None, None),
    ("call-expiry-neg", start_call(I0, -1), R.BAD_EXPIRY, None, None),
    ("uncross-unknown", uncross(-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("uncross-closed", uncross(I2), R.GATE_CLOSED, _close2, None),
    ("uncross-gate-ts", uncross(I1), R.GATE_CLOSED, _call1, G),
    ("uncross-open", uncross(I0), R.INSTRUMENT_NOT_IN_CALL, None, None),
    ("uncross-halted", uncross(I1), R.INSTRUMENT_NOT_IN_CALL, _halt1, None),
    ("resume-unknown", resume(-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("resume-open", resume(I0), R.INSTRUMENT_NOT_HALTED, None, None),
    ("resume-closed", resume(I2), R.GATE_CLOSED, _close2, None),
    ("close-unknown", close_gate(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("close-closed", close_gate(I2), R.GATE_CLOSED, _close2, None),
    ("kind-0", cmd(0, account=1, instrument=I0, side=BUY, price=505, qty=10, clord=9),
     R.UNKNOWN_COMMAND, None, None),
    ("kind-22", cmd(22, account=1), R.UNKNOWN_COMMAND, None, None),
    ("kind-neg", cmd(-1), R.UNKNOWN_COMMAND, None, None),
]


def test_reject_table_covers_every_reject_reason() -> None:
    from tests.engine.test_dayahead_commands import HOLD_REJECTS

    covered = {case[2] for case in REJECTS} | {case[2] for case in HOLD_REJECTS}
    wanted = {r for r in R if 100 < r < 600}
    missing = wanted - covered - {R.INSUFFICIENT_FUNDS}  # SET_CREDIT's is in the funds test
    assert not missing, sorted(missing)
    assert R.INSUFFICIENT_FUNDS in covered


@nojit
@pytest.mark.parametrize("name, command, reason, prep, ts", REJECTS, ids=[c[0] for c in REJECTS])
def test_reject(market: Market, name, command, reason, prep, ts) -> None:
    m = market
    _base(m)
    if prep is not None:
        prep(m)
    before = snapshot(m.engine)
    events = m.do(command, ts)
    c = dict(zip(command.dtype.names, map(int, command[0])))
    clord = c["orig_clord"] if c["kind"] == K.CANCEL else c["clord"]
    assert_events(events, [rejected(reason, account=c["account"], instrument=c["instrument"],
                                    side=c["side"], price=c["price"], qty=c["qty"], clord=clord)])
    assert snapshot(m.engine) == before, "a rejected command changed the state"


# ============================================================================ conservation

def test_quantities_and_money_conserved(engine_cls) -> None:
    engine = make_engine(engine_cls)
    m = Market(engine)
    rng = random.Random(20261125)
    accounts = [1, 2, 3, 4, 5]
    deposited = 0
    for a in accounts:
        m.fund(a, 200_000)
        m.provide(a, I0, 60)
        deposited += 200_000
    clord = {a: 0 for a in accounts}
    for step in range(400):
        a = rng.choice(accounts)
        m.ts = T0 + step
        r = rng.random()
        if r < 0.75:
            clord[a] += 1
            side = rng.choice((BUY, SELL))
            tif = rng.choice((1, 1, GTD, IOC, FOK))
            mkt = tif in (IOC, FOK) and rng.random() < 0.3
            m.do(new_order(a, side, 0 if mkt else 5 * rng.randint(90, 110), rng.randint(1, 15),
                           clord[a], order_type=MARKET if mkt else LIMIT, tif=tif,
                           stp=rng.randint(1, 4),
                           expire_ts=T0 + step + rng.randint(1, 30) if tif == GTD else 0))
        elif r < 0.85:
            if clord[a]:
                m.cancel(a, rng.randint(1, clord[a]))
        elif r < 0.97:
            if clord[a]:
                clord[a] += 1
                m.replace(a, rng.randint(1, clord[a] - 1), clord[a], 5 * rng.randint(90, 110),
                          rng.randint(1, 20))
        else:
            m.timer()
        if step % 50 == 0:
            m.verify()
    m.verify()
    # money: trades move cash between accounts, nothing is created or lost
    assert sum(m.money(a)[0] for a in accounts) == deposited
    # GPU-hours: every hour bought was sold
    assert sum(m.pos(a)[1] for a in accounts) == sum(m.pos(a)[2] for a in accounts) > 0
    # reservations and offers are exactly what the live orders need (from the event ledger)
    live = {oid: o for oid, o in m.ledger.orders.items() if oid not in m.ledger.done}
    for a in accounts:
        want_reserved = sum(o["price"] * o["leaves"] for o in live.values()
                            if o["account"] == a and o["side"] == BUY)
        want_offered = sum(o["leaves"] for o in live.values() if o["account"] == a and o["side"] == SELL)
        assert m.money(a)[2] == want_reserved
        assert m.pos(a)[3] == want_offered
        cap, bought, sold, offered = m.pos(a)
        assert sold + offered <= cap + bought
    # each order: qty == filled + leaves + removed (checked event by event by the ledger)
    trades = sum(o["filled"] for o in m.ledger.orders.values())
    assert trades == 2 * sum(m.pos(a)[1] for a in accounts)


# ============================================================================ batches, views

@nojit
def test_batch_equals_one_by_one_and_keeps_command_order(engine_cls) -> None:
    cmds = batch(
        deposit_funds(1, 100_000), deposit_capacity(3, I0, 20),
        sell(3, 500, 5, 1), sell(3, 505, 5, 2), buy(1, 505, 7, 1),
        cancel(3, 2), timer(), mass_cancel(1, -1),
        seq0=10, ts=T0, dt=1_000,
    )
    e1 = make_engine(engine_cls)
    m1 = Market(e1)
    ev_batch = m1.run(cmds)
    e2 = make_engine(engine_cls)
    m2 = Market(e2)
    ev_single = np.concatenate([m2.run(cmds[i:i + 1]) for i in range(len(cmds))])
    assert ev_batch.tobytes() == ev_single.tobytes()
    assert list(ev_batch["seq"]) == sorted(ev_batch["seq"])
    assert [int(x) for x in ev_batch["kind"]] == [
        EV.ACK, EV.ACK, EV.ACCEPTED, EV.ACCEPTED,
        EV.ACCEPTED, EV.TRADE, EV.DONE, EV.TRADE,  # buy 7: 5 @500 (maker done), 2 @505
        EV.DONE,  # taker done
        EV.CANCELLED, EV.DONE, EV.ACK, EV.ACK,
    ]
    assert int(ev_batch[-1]["qty"]) == 0  # nothing left for account 1 to mass-cancel
    assert list(ev_batch["ts"]) == [T0 + 1_000 * i for i in (0, 1, 2, 3, 4, 4, 4, 4, 4, 5, 5, 6, 7)]
    assert e1.process(batch()).dtype == EVENT_DTYPE
    assert len(e1.process(batch())) == 0
    m1.verify()
    m2.verify()


@nojit
def test_views(market: Market) -> None:
    m = market
    e = m.engine
    assert e.n_instruments == 3
    m.fund(1)
    m.provide(3)
    for i, p in enumerate((480, 490, 490, 470)):
        m.buy(1, p, i + 1, i + 1)
    m.sell(3, 600, 2, 1, tif=GTD, expire_ts=T0 + 99)
    b = e.book(I0, depth=2)
    assert [(lv.price, lv.qty, lv.orders) for lv in b.bids] == [(490, 5, 2), (480, 1, 1)]
    assert [(lv.price, lv.qty, lv.orders) for lv in b.asks] == [(600, 2, 1)]
    assert b.instrument == I0 and b.state == InstrumentState.OPEN
    assert len(e.book(I0).bids) == 3
    assert e.book(I0, depth=0).bids == ()
    assert e.book(I1).bids == () and e.book(I1).asks == ()
    (s,) = e.live_orders(3)
    assert (s.order_id, s.account, s.instrument, s.clord, s.side, s.price, s.qty, s.leaves,
            s.filled, s.tif, s.expire_ts) == (5, 3, I0, 1, SELL, 600, 2, 2, 0, GTD, T0 + 99)
    assert [o.order_id for o in e.live_orders()] == [1, 2, 3, 4, 5]
    assert [o.order_id for o in e.live_orders(1)] == [1, 2, 3, 4]
    assert e.live_orders(2) == []
    p = e.position(3, I0)
    assert (p.capacity, p.bought, p.sold, p.ask_open, p.free) == (100, 0, 0, 2, 98)
    assert e.position(7, I2) == type(p)(0, 0, 0, 0)
    a = e.account(1)
    assert (a.cash, a.credit, a.reserved, a.available) == (BIG, 0, 4_810, BIG - 4_810)
    assert e.account(9) == type(a)(0, 0, 0)


@nojit
def test_order_ids_and_trade_ids_only_for_accepted(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.buy(1, 503, 1, 1)  # rejected: no id
    assert_events(m.sell(3, 500, 2, 1), [accepted(O(3, 1, 1, SELL, 500), 2)])
    m.buy(1, 500, 1, 2, tif=FOK, stp=9)  # rejected
    b = O(1, 2, 3, BUY, 500)
    s = O(3, 1, 1, SELL, 500)
    assert_events(m.buy(1, 500, 1, 3), [
        accepted(b, 1),
        trade(b, s, price=500, qty=1, leaves=0, filled=1, contra_leaves=1, trade_id=1),
        done(b, 1, filled=1),
    ])


@nojit
def test_list_instrument(market: Market) -> None:
    m = market
    assert_events(m.list_instrument(3, 1, region=9, slot_ts=LATER_SLOT_TS), [ack(0, 3, 0)])
    assert m.engine.n_instruments == 4
    assert m.engine.book(3).state == InstrumentState.OPEN
    m.fund(1)
    # class 1: tick 1, band 50..500
    assert_events(m.buy(1, 51, 1, 1, instrument=3), [accepted(O(1, 1, 1, BUY, 51, 3), 1)])
    # the gate is slot_ts - 15 min
    later_gate = LATER_SLOT_TS - CONFIG.gate_closure_ns
    assert_events(m.buy(1, 51, 1, 2, instrument=3, ts=later_gate - 1),
                  [accepted(O(1, 2, 2, BUY, 51, 3), 1)])
    assert_events(m.buy(1, 51, 1, 3, instrument=3, ts=later_gate), [
        rejected(R.GATE_CLOSED, account=1, instrument=3, side=BUY, price=51, qty=1, clord=3),
    ])
    # an instrument listed after its gate time is OPEN but takes no orders
    assert_events(m.list_instrument(4, 0, slot_ts=T0), [ack(0, 4, 0)])
    assert_events(m.buy(1, 500, 1, 4, instrument=4), [
        rejected(R.GATE_CLOSED, account=1, instrument=4, side=BUY, price=500, qty=1, clord=4),
    ])


@nojit
def test_full_row_of_trade_and_reject_and_ack(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.sell(3, 500, 3, 42)
    events = m.buy(1, 505, 3, 43)
    seq = m.seq - 1
    base = dict(seq=seq, ts=T0, reason=0, account=1, instrument=I0, order_id=2, clord=43, side=BUY)
    zero_contra = dict(contra_order_id=0, contra_account=0, contra_clord=0, contra_leaves=0, trade_id=0)
    assert rows(events) == [
        dict(base, kind=int(EV.ACCEPTED), price=505, qty=3, leaves=3, filled=0, **zero_contra),
        dict(base, kind=int(EV.TRADE), price=500, qty=3, leaves=0, filled=3, contra_order_id=1,
             contra_account=3, contra_clord=42, contra_leaves=0, trade_id=1),
        dict(base, kind=int(EV.DONE), account=3, order_id=1, clord=42, side=SELL, price=500, qty=3,
             leaves=0, filled=3, **zero_contra),
        dict(base, kind=int(EV.DONE), price=505, qty=3, leaves=0, filled=3, **zero_contra),
    ]
    events = m.replace(1, 43, 44, 505, 3)
    assert rows(events) == [dict(
        seq=m.seq - 1, ts=T0, kind=int(EV.REJECTED), reason=int(R.ORDER_DONE), account=1,
        instrument=0, order_id=0, clord=44, side=0, price=505, qty=3, leaves=0, filled=0,
        **zero_contra,
    )]
    events = m.mass_cancel(3, -1)
    assert rows(events) == [dict(
        seq=m.seq - 1, ts=T0, kind=int(EV.ACK), reason=0, account=3, instrument=-1, order_id=0,
        clord=0, side=0, price=0, qty=0, leaves=0, filled=0, **zero_contra,
    )]


# ============================================================================ the oracle's check()

@nojit
def test_reference_check_detects_broken_state() -> None:
    def fresh() -> tuple[ReferenceEngine, Market]:
        e = make_engine(ReferenceEngine)
        m = Market(e)
        m.fund(1)
        m.provide(3)
        m.buy(1, 500, 5, 1)
        m.sell(3, 600, 5, 1)
        e.check()
        return e, m

    e, _ = fresh()
    e._accounts[1].reserved += 1
    with pytest.raises(EngineStateError, match="reserved"):
        e.check()
    e, _ = fresh()
    e._positions[(3, I0)].ask_open -= 1
    with pytest.raises(EngineStateError, match="ask_open"):
        e.check()
    e, _ = fresh()
    e._instruments[I0].bids[500].qty += 1
    with pytest.raises(EngineStateError, match="level 500"):
        e.check()
    e, _ = fresh()
    e._orders[1].filled += 1
    with pytest.raises(EngineStateError, match="qty"):
        e.check()
    e, _ = fresh()
    e._accounts[1].cash += 7
    with pytest.raises(EngineStateError, match="conserved"):
        e.check()
    e, _ = fresh()
    e._positions[(3, I0)].capacity = 4
    with pytest.raises(EngineStateError, match="sold \\+ ask_open"):
        e.check()
    e, _ = fresh()
    e._clords[(3, 1)] = 1
    with pytest.raises(EngineStateError, match="clord"):
        e.check()
    e, _ = fresh()
    lv = e._instruments[I0].asks.pop(600)
    lv.price = 495
    e._instruments[I0].asks[495] = lv
    for x in lv.orders.values():
        x.price = 495
    with pytest.raises(EngineStateError, match="crossed"):
        e.check()


def test_config_refuses_prices_that_do_not_fit_a_level_key() -> None:
    from exchange.schema import PRICE_LIMIT, EngineConfig

    with pytest.raises(ValueError, match="band_hi"):
        EngineConfig(tick=(1,), band_lo=(1,), band_hi=(PRICE_LIMIT,), min_qty=(1,), max_qty=(1,))
    EngineConfig(tick=(1,), band_lo=(1,), band_hi=(PRICE_LIMIT - 1,), min_qty=(1,), max_qty=(1,))


@nojit
def test_money_limit_keeps_balances_inside_int64(market: Market) -> None:
    from exchange.schema import MONEY_LIMIT

    m = market
    assert_events(m.deposit_funds(1, MONEY_LIMIT + 1), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.withdraw_funds(1, MONEY_LIMIT + 1), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.set_credit(1, MONEY_LIMIT + 1), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.deposit_funds(1, MONEY_LIMIT - 5), [ack(1, 0, MONEY_LIMIT - 5)])
    # a deposit that would take cash past the limit changes nothing
    assert_events(m.deposit_funds(1, 6), [rejected(R.BAD_AMOUNT, account=1)])
    assert_events(m.deposit_funds(1, 5), [ack(1, 0, 5)])
    assert m.money(1) == (MONEY_LIMIT, 0, 0)
    assert_events(m.set_credit(1, MONEY_LIMIT), [ack(1, 0, MONEY_LIMIT)])


@nojit
def test_capacity_limit_keeps_quantities_inside_int64(market: Market) -> None:
    from exchange.schema import CAPACITY_LIMIT

    m = market
    assert_events(m.deposit_capacity(3, I0, CAPACITY_LIMIT + 1),
                  [rejected(R.QUANTITY_OUT_OF_LIMITS, account=3, instrument=I0,
                            qty=CAPACITY_LIMIT + 1)])
    assert_events(m.withdraw_capacity(3, I0, CAPACITY_LIMIT + 1),
                  [rejected(R.QUANTITY_OUT_OF_LIMITS, account=3, instrument=I0,
                            qty=CAPACITY_LIMIT + 1)])
    assert_events(m.deposit_capacity(3, I0, CAPACITY_LIMIT - 1),
                  [ack(3, I0, CAPACITY_LIMIT - 1)])
    assert_events(m.deposit_capacity(3, I0, 2),
                  [rejected(R.QUANTITY_OUT_OF_LIMITS, account=3, instrument=I0, qty=2)])
    assert_events(m.deposit_capacity(3, I0, 1), [ack(3, I0, 1)])
    assert m.pos(3, I0)[0] == CAPACITY_LIMIT
