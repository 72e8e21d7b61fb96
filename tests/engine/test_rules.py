"""Unit tests of the matching rules of :mod:`exchange.schema.rules` (limit, market, IOC,
FOK, post-only, GTD expiry, gate closure, halts), run against every engine (fixture
``engine_cls``). Every expected event is given field by field; fields not named are
asserted to be 0. Accounts 1, 2 are buyers, 3, 4 providers unless said. The other rules:
``test_amend_rules.py`` (cancel, replace, self-trade prevention, mass cancel),
``test_risk_rules.py`` (client order ids, risk, conservation, batches, the oracle),
``test_reject_table.py`` (every reject reason).
"""

from __future__ import annotations

import pytest

from exchange.schema import EVENT_DTYPE, InstrumentState
from tests.helpers import (
    BIG,
    BUY,
    CANCEL_NEWEST,
    EV,
    FOK,
    GATE_TS,
    GTD,
    I0,
    I1,
    I2,
    IOC,
    LATER_SLOT_TS,
    SELL,
    T0,
    Market,
    O,
    R,
    accepted,
    ack,
    assert_events,
    cancelled,
    done,
    expired,
    rejected,
    replaced,
    rows,
    trade,
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
