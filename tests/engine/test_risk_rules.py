"""Unit tests of client order ids, risk (capacity, funds, credit), conservation of
quantities and money, batches and views, and the reference oracle's own check, run
against every engine (fixture ``engine_cls``); conventions as in ``test_rules.py``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from exchange.engine.api import EngineStateError
from exchange.engine.reference import ReferenceEngine
from exchange.schema import EVENT_DTYPE, InstrumentState
from tests.helpers import (
    BIG,
    BUY,
    CONFIG,
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
    deposit_capacity,
    deposit_funds,
    done,
    make_engine,
    mass_cancel,
    new_order,
    rejected,
    rows,
    sell,
    timer,
    trade,
)

nojit = pytest.mark.nojit



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
