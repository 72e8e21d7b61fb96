"""Call phases and the uncross inside the engines (schema: "Call phase and uncross"),
run against every engine (fixture ``engine_cls``): hand-made books with every event
spelled out, then hypothesis books whose uncross must equal the auction kernel's
(:func:`exchange.auction.uncross`) with the book's price-time priority.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from exchange.auction import uncross as auction_uncross
from exchange.engine.numba_engine import Engine
from exchange.engine.reference import ReferenceEngine
from exchange.schema import EngineConfig, InstrumentState
from tests.helpers import (
    BIG,
    BUY,
    CONFIG,
    EV,
    GATE_TS,
    GTD,
    I0,
    I1,
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
    ev,
    expired,
    make_engine,
    new_order,
    replaced,
    rows,
    trade,
)

nojit = pytest.mark.nojit
SEC = 10**9


def uncrossed(price: int, qty: int, side: int = 0, surplus: int = 0, instrument: int = I0) -> dict:
    return ev(EV.UNCROSSED, instrument=instrument, price=price, qty=qty, side=side, leaves=surplus)


def auction_trade(taker: dict, maker: dict, **kw: int) -> dict:
    t = trade(taker, maker, **kw)
    t["reason"] = int(R.AUCTION)
    return t


def _collect(m: Market) -> tuple[dict, ...]:
    """Fund 1, 2, capacity for 3, 4, then a crossed call book on I0:
    bids 520 x4 (acct 1, id 1), 505 x4 (acct 2, id 2); asks 500 x5 (acct 3, id 3),
    510 x5 (acct 4, id 4)."""
    for a in (1, 2):
        m.fund(a)
    for a in (3, 4):
        m.provide(a)
    b1, b2 = O(1, 1, 11, BUY, 520), O(2, 2, 21, BUY, 505)
    s3, s4 = O(3, 3, 31, SELL, 500), O(4, 4, 41, SELL, 510)
    assert_events(m.buy(1, 520, 4, 11), [accepted(b1, 4)])
    assert_events(m.buy(2, 505, 4, 21), [accepted(b2, 4)])
    assert_events(m.sell(3, 500, 5, 31), [accepted(s3, 5)])  # crosses: nothing matches
    assert_events(m.sell(4, 510, 5, 41), [accepted(s4, 5)])
    assert m.levels() == ([(520, 4, 1), (505, 4, 1)], [(500, 5, 1), (510, 5, 1)])
    return b1, b2, s3, s4


@nojit
def test_call_collects_then_uncross_trades_at_one_price(market: Market) -> None:
    m = market
    assert_events(m.start_call(I0), [ack(0, I0, 0)])
    book = m.engine.book(I0)
    assert (book.state, book.call_end_ts, book.reference) == (InstrumentState.CALL, 0, 550)
    b1, b2, s3, s4 = _collect(m)
    m.verify()
    # volume 5 at 500 and 505, surplus 3 on the buy side at both: pressure -> 505
    assert_events(m.uncross(I0), [
        uncrossed(505, 5, BUY, 3),
        # the newer order of each pair (the sell, id 3) is the first party
        auction_trade(s3, b1, price=505, qty=4, leaves=1, filled=4, contra_leaves=0, trade_id=1),
        done(b1, 4, filled=4),
        auction_trade(s3, b2, price=505, qty=1, leaves=0, filled=5, contra_leaves=3, trade_id=2),
        done(s3, 5, filled=5),
        ack(0, I0, 5),
    ])
    assert m.engine.book(I0).state == InstrumentState.OPEN
    assert m.engine.book(I0).reference == 505  # the last trade
    assert m.levels() == ([(505, 3, 1)], [(510, 5, 1)])
    # one price for all: the buyer at 520 pays 505, its reservation is released at 520
    assert m.money(1) == (BIG - 505 * 4, 0, 0)
    assert m.money(2) == (BIG - 505, 0, 505 * 3)
    assert m.money(3) == (505 * 5, 0, 0)
    assert m.pos(3) == (100, 0, 5, 0)
    m.verify()
    # continuous trading again
    b5 = O(1, 5, 12, BUY, 510)
    assert_events(m.buy(1, 510, 1, 12), [
        accepted(b5, 1),
        trade(b5, s4, price=510, qty=1, leaves=0, filled=1, contra_leaves=4, trade_id=3),
        done(b5, 1, filled=1),
    ])
    assert_events(m.uncross(I0), [ev(EV.REJECTED, reason=R.INSTRUMENT_NOT_IN_CALL, instrument=I0)])
    m.verify()


@nojit
def test_listing_in_call_and_timer_uncross_after_gtd_expiry(market: Market) -> None:
    m = market
    end = T0 + 10 * SEC
    assert_events(m.list_instrument(3, 0, call_end=end), [ack(0, 3, 0)])
    book = m.engine.book(3)
    assert (book.state, book.call_end_ts) == (InstrumentState.CALL, end)
    m.fund(1)
    m.provide(3, 3)
    b = O(1, 1, 1, BUY, 600, 3)
    g = O(1, 2, 2, BUY, 700, 3)
    s = O(3, 3, 1, SELL, 550, 3)
    m.buy(1, 600, 2, 1, instrument=3)
    m.buy(1, 700, 2, 2, instrument=3, tif=GTD, expire_ts=end)  # gone when the call ends
    m.sell(3, 550, 3, 1, instrument=3)
    assert_events(m.timer(ts=end - 1), [ack()])  # not yet
    assert_events(m.timer(ts=end), [
        expired(g, R.GTD_EXPIRY, 2), done(g, 2),
        # volume 2 at 550 and 600, sell surplus 1 at both: pressure -> the lowest
        uncrossed(550, 2, SELL, 1, instrument=3),
        auction_trade(s, b, price=550, qty=2, leaves=1, filled=2, contra_leaves=0, trade_id=1),
        done(b, 2, filled=2),
        ack(qty=1),
    ])
    assert m.engine.book(3).state == InstrumentState.OPEN
    assert m.levels(3) == ([], [(550, 1, 1)])
    m.verify()


@nojit
def test_gate_closes_a_call_without_uncross(market: Market) -> None:
    m = market
    m.start_call(I0, call_end=GATE_TS + SEC)
    m.fund(1)
    m.provide(3)
    b, s = O(1, 1, 1, BUY, 600), O(3, 2, 1, SELL, 500)
    m.buy(1, 600, 1, 1)
    m.sell(3, 500, 1, 1)
    events = m.timer(ts=GATE_TS + SEC)
    assert_events(events, [expired(b, R.GATE_CLOSURE, 1), done(b, 1),
                           expired(s, R.GATE_CLOSURE, 1), done(s, 1), ack(qty=2)])
    assert EV.UNCROSSED not in events["kind"]
    assert m.engine.book(I0).state == InstrumentState.CLOSED
    m.verify()


@nojit
def test_uncross_tie_goes_to_the_reference_price(market: Market) -> None:
    """Volume 5 with no surplus at every tick from 555 to 595 (buy 600 x5 and 550 x1,
    sell 500 x5 and 600 x1): a range remains, so the reference if it lies inside, else
    the end nearest it: the class reference 550 first (-> 555), then a last trade of 580
    (-> 580, a price no order names), then one of 600 (-> 595)."""
    m = market
    for a in (1, 2):
        m.fund(a)
    for a in (3, 4):
        m.provide(a)

    def book(clord: int) -> None:
        m.buy(1, 600, 5, clord)
        m.buy(1, 550, 1, clord + 1)
        m.sell(3, 500, 5, clord)
        m.sell(3, 600, 1, clord + 1)

    clord = 1
    for last, want in ((0, 555), (580, 580), (600, 595)):
        if last:
            m.mass_cancel(instrument=I0)
            m.buy(2, last, 1, clord)
            m.sell(4, last, 1, clord)
            assert m.engine.book(I0).reference == last
        m.start_call(I0)
        book(clord)
        clord += 2
        events = rows(m.uncross(I0))
        assert (events[0]["price"], events[0]["qty"], events[0]["leaves"]) == (want, 5, 0)
        assert m.levels() == ([(550, 1, 1)], [(600, 1, 1)])
    m.verify()


@pytest.mark.parametrize("buy, sell, qty, reference", [(1900, 1700, 10, 1800), (1055, 1045, 1, 1050)])
def test_issue_16_uncross_prints_at_the_reference(engine_cls, buy, sell, qty, reference) -> None:
    """Issue 16 item 4: every tick between the two limits trades qty with no surplus, so
    the price is the class reference (it used to be the buy limit)."""
    config = EngineConfig(tick=(5,), band_lo=(1000,), band_hi=(3000,), min_qty=(1,), max_qty=(100,),
                          reference=(reference,), max_accounts=16)
    m = Market(make_engine(engine_cls, config, instruments=((0, 1),)))
    m.fund(1)
    m.provide(2)
    m.start_call(I0)
    m.buy(1, buy, qty, 1)
    m.sell(2, sell, qty, 1)
    events = rows(m.uncross(I0))
    assert [(r["kind"], r["price"], r["qty"]) for r in events[:2]] == [
        (EV.UNCROSSED, reference, qty), (EV.TRADE, reference, qty)]
    assert m.money(1) == (BIG - reference * qty, 0, 0)
    m.verify()


@nojit
def test_self_trade_in_an_uncross_is_cancelled_on_both_sides(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(1)
    m.provide(2)
    m.start_call(I0)
    b = O(1, 1, 1, BUY, 520)
    own = O(1, 2, 2, SELL, 500)
    other = O(2, 3, 1, SELL, 510)
    m.buy(1, 520, 3, 1)
    m.sell(1, 500, 2, 2)
    m.sell(2, 510, 2, 1)
    # volume 3 at 510 and 520, sell surplus 1 at both: lowest -> 510
    assert_events(m.uncross(I0), [
        uncrossed(510, 3, SELL, 1),
        cancelled(b, R.SELF_TRADE, 2, leaves=1),
        cancelled(own, R.SELF_TRADE, 2), done(own, 2),
        auction_trade(other, b, price=510, qty=1, leaves=1, filled=1, contra_leaves=0, trade_id=1),
        done(b, 3, filled=1),
        ack(0, I0, 1),
    ])
    assert m.levels() == ([], [(510, 1, 1)])
    m.verify()


@nojit
def test_replace_in_call_moves_without_matching(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.start_call(I0)
    s = O(3, 1, 1, SELL, 500)
    m.sell(3, 500, 2, 1)
    m.buy(1, 480, 2, 1)
    b = O(1, 2, 2, BUY, 520)
    assert_events(m.replace(1, 1, 2, 520, 2), [replaced(b, R.PRIORITY_LOST, 2, 2, orig=1)])
    assert m.levels() == ([(520, 2, 1)], [(500, 2, 1)])  # crossed, still in call
    m.verify()
    events = m.uncross(I0)
    assert [r["kind"] for r in rows(events)] == [EV.UNCROSSED, EV.TRADE, EV.DONE, EV.DONE, EV.ACK]
    assert rows(events)[1]["order_id"] == s["order_id"] + 1  # newer: the replaced buy (id 2)
    m.verify()


@nojit
@pytest.mark.parametrize("how", ["resume", "start_call"])
def test_halt_then_reopen_through_a_call(market: Market, how: str) -> None:
    m = market
    m.halt(I1)
    reopen = m.resume if how == "resume" else m.start_call
    assert_events(reopen(I1, call_end=T0 + SEC), [ack(0, I1, 0)])
    book = m.engine.book(I1)
    assert (book.state, book.call_end_ts) == (InstrumentState.CALL, T0 + SEC)
    assert_events(m.timer(ts=T0 + SEC), [uncrossed(0, 0, instrument=I1), ack()])
    assert m.engine.book(I1).state == InstrumentState.OPEN
    m.verify()


# ---------------------------------------------------------------- against the kernel

_ORDER = st.tuples(st.sampled_from([BUY, SELL]), st.integers(95, 105), st.integers(1, 9),
                   st.integers(1, 5))
"""(side, price / 5, qty, account) of one order entered during the call."""


@pytest.mark.parametrize("engine_cls_", [ReferenceEngine, Engine], ids=["reference", "numba"])
@settings(max_examples=60)
@given(orders=st.lists(_ORDER, min_size=1, max_size=30), last=st.sampled_from([0, 480, 520]))
def test_uncross_equals_the_auction_kernel(engine_cls_, orders, last) -> None:
    """Price, volume, surplus and every order's allocation equal the kernel's, given the
    book's price-time priority (a self-trade pair counts as allocated: it is cancelled)."""
    m = Market(make_engine(engine_cls_, CONFIG))
    for a in range(1, 6):
        m.fund(a)
        m.provide(a, I0, 100)
    if last:  # a last trade sets the reference
        m.sell(5, last, 1, 900)
        m.buy(4, last, 1, 900)
    m.start_call(I0)
    for clord, (side, p5, qty, a) in enumerate(orders, start=1):
        m.do(new_order(a, side, 5 * p5, qty, clord))
    live = {o.order_id: o for o in m.engine.live_orders()}
    ranked = sorted(live, key=lambda i: (-live[i].price if live[i].side == BUY else live[i].price, i))
    want = auction_uncross([live[i].side for i in ranked], [live[i].price for i in ranked],
                           [live[i].leaves for i in ranked], list(range(len(ranked))),
                           last or CONFIG.reference[0], CONFIG.tick[0])
    events = rows(m.uncross(I0))
    head = events[0]
    assert (head["price"], head["qty"], head["leaves"], head["side"]) == (
        want.price, want.volume, want.surplus, want.surplus_side)
    allocated = dict.fromkeys(ranked, 0)
    for r in events:
        if r["kind"] == EV.TRADE:
            allocated[r["order_id"]] += r["qty"]
            allocated[r["contra_order_id"]] += r["qty"]
            assert r["price"] == want.price and r["reason"] == R.AUCTION
        elif r["kind"] == EV.CANCELLED:
            assert r["reason"] == R.SELF_TRADE
            allocated[r["order_id"]] += r["qty"]
    assert [allocated[i] for i in ranked] == want.filled.tolist()
    assert m.engine.book(I0).state == InstrumentState.OPEN
    m.verify()
